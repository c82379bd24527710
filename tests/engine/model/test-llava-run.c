/* test-llava-run.c — llava-run's --inspect, --tokenize and --detokenize on
 * the golden model directory, run as a separate process ($LLAVA_RUN). */
#include "text/tokenizer.h"
#include "llava.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

static const char *
golden_dir (void)
{
  const char *d = g_getenv ("LLAVA_GOLDEN_DIR");
  g_assert_nonnull (d);
  return d;
}

/* Runs llava-run with args (NULL-terminated); returns the exit status. */
static int
run (char **out, char **errout, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  va_list ap;
  const char *a;
  int status = -1;
  g_autoptr (GError) err = NULL;

  g_ptr_array_add (argv, (gpointer) g_getenv ("LLAVA_RUN"));
  va_start (ap, errout);
  while ((a = va_arg (ap, const char *)))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_nonnull (argv->pdata[0]);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT,
          NULL, NULL, out, errout, &status, &err));
  g_assert_no_error (err);
  g_ptr_array_free (argv, TRUE);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static JsonObject *
parse_obj (JsonParser *p, const char *text)
{
  g_autoptr (GError) err = NULL;
  if (!json_parser_load_from_data (p, text, -1, &err))
    g_error ("not JSON (%s): %s", err->message, text);
  return json_node_get_object (json_parser_get_root (p));
}

static void
test_inspect_text (void)
{
  g_autofree char *out = NULL, *errout = NULL;
  g_assert_cmpint (run (&out, &errout, "--model", golden_dir (), "--inspect", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "architecture: llava (siglip + qwen2)"));
  g_assert_nonnull (strstr (out, "16 tokens per image"));
  g_assert_nonnull (strstr (out, "vocab 152000"));
  g_assert_nonnull (strstr (out, "BF16"));
  g_assert_nonnull (strstr (out, "q8_0"));
}

/* Counts from the file's own header, compared with the JSON report. */
static void
test_inspect_json (void)
{
  g_autofree char *out = NULL, *errout = NULL;
  g_autofree char *path = g_build_filename (golden_dir (), "model.safetensors", NULL);
  g_autofree char *raw = NULL;
  gsize raw_len;
  guint64 hl = 0, n_params = 0;
  guint n_tensors = 0;
  g_autoptr (JsonParser) hp = json_parser_new ();
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *hdr, *o, *mem;
  GList *names;

  g_assert_true (g_file_get_contents (path, &raw, &raw_len, NULL));
  for (int i = 7; i >= 0; i--)
    hl = (hl << 8) | (guint8) raw[i];
  g_assert_true (json_parser_load_from_data (hp, raw + 8, hl, NULL));
  hdr = json_node_get_object (json_parser_get_root (hp));
  names = json_object_get_members (hdr);
  for (GList *l = names; l; l = l->next) {
    JsonArray *shape;
    guint64 n = 1;
    if (strcmp (l->data, "__metadata__") == 0)
      continue;
    shape = json_object_get_array_member (json_object_get_object_member (hdr, l->data), "shape");
    for (guint d = 0; d < json_array_get_length (shape); d++)
      n *= json_array_get_int_element (shape, d);
    n_params += n;
    n_tensors++;
  }
  g_list_free (names);

  g_assert_cmpint (run (&out, &errout, "--model", golden_dir (), "--inspect", "--json", NULL), ==, 0);
  o = parse_obj (p, out);
  g_assert_cmpint (json_object_get_int_member (o, "n_tensors"), ==, n_tensors);
  g_assert_cmpint (json_object_get_int_member (
          json_object_get_object_member (o, "parameters"), "total"), ==, n_params);
  g_assert_cmpint (json_object_get_int_member (
          json_object_get_object_member (o, "vision"), "tokens_per_image"), ==, 16);
  g_assert_cmpint (json_object_get_int_member (
          json_object_get_object_member (o, "dtypes"), "BF16"), ==, n_tensors);
  mem = json_object_get_object_member (o, "memory_bytes");
  /* f32 holds every parameter the engine loads in 4 bytes: all but the
   * unused post_layernorm weight and bias (64 each) */
  g_assert_cmpint (json_object_get_int_member (mem, "f32"), ==,
      4 * (n_params - 2 * 64));
  g_assert_cmpint (json_object_get_int_member (mem, "f16"), <,
      json_object_get_int_member (mem, "f32"));
  g_assert_cmpint (json_object_get_int_member (mem, "q8_0"), <,
      json_object_get_int_member (mem, "f16"));
}

static void
test_tokenize (void)
{
  /* values that start with '-', are empty, hold newlines, quotes, specials */
  static const char *texts[] = {
    "Hello world", "-x", "--inspect", "", "two\nlines\n", "\"q\" \\ back\tslash",
    "<|im_start|>user\n<image>\nhi<|im_end|>",
    /* non-ASCII text is not here: llava-run.c parses --tokenize as
     * G_OPTION_ARG_STRING, which GOption converts from the locale's charset
     * (ASCII without setlocale), so "東京" fails before reaching us. */
  };
  g_autoptr (GError) err = NULL;
  LlavaTokenizer *tok = llava_tokenizer_load (golden_dir (), &err);
  g_assert_no_error (err);
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree char *arg = g_strconcat ("--tokenize=", texts[i], NULL);
    g_autofree char *out = NULL, *errout = NULL;
    g_autoptr (JsonParser) p = json_parser_new ();
    g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (gint32));
    JsonArray *ids;
    g_assert_cmpint (run (&out, &errout, "--model", golden_dir (), arg, "--json", NULL), ==, 0);
    ids = json_object_get_array_member (parse_obj (p, out), "ids");
    g_assert_true (llava_tokenizer_encode (tok, texts[i], -1, want, NULL));
    g_assert_cmpuint (json_array_get_length (ids), ==, want->len);
    for (guint k = 0; k < want->len; k++)
      g_assert_cmpint (json_array_get_int_element (ids, k), ==, g_array_index (want, gint32, k));
  }
  /* a reference vector */
  {
    g_autofree char *out = NULL, *errout = NULL;
    g_assert_cmpint (run (&out, &errout, "--model", golden_dir (), "--tokenize=Hello world",
            "--json", NULL), ==, 0);
    g_assert_cmpstr (g_strstrip (out), ==, "{\"ids\":[9707,1879]}");
  }
  llava_tokenizer_free (tok);
}

static void
test_detokenize (void)
{
  g_autofree char *out = NULL, *errout = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  /* <|im_start|>user\n "quoted" \t and an unfinished 4-byte character
   * (F0 9F 8D: one U+FFFD) */
  g_assert_cmpint (run (&out, &errout, "--model", golden_dir (),
          "--detokenize=151644,872,198,330,63725,1,197,11162,235", "--json", NULL), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (parse_obj (p, out), "text"), ==,
      "<|im_start|>user\n \"quoted\"\t \xef\xbf\xbd");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&errout, g_free);
  g_assert_cmpint (run (&out, &errout, "--model", golden_dir (), "--detokenize=", "--json",
          NULL), ==, 0);
  g_assert_cmpstr (g_strstrip (out), ==, "{\"text\":\"\"}");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&errout, g_free);
  g_assert_cmpint (run (&out, &errout, "--model", golden_dir (), "--detokenize=1,x",
          "--json", NULL), ==, 1);
  g_assert_nonnull (strstr (errout, "1,x"));
}

static void
test_errors_name_the_file (void)
{
  g_autofree char *out = NULL, *errout = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("llava-run-XXXXXX", NULL);
  g_autofree char *cfg = g_build_filename (tmp, "config.json", NULL);
  g_assert_cmpint (run (&out, &errout, "--model", "/no/such/model", "--inspect", NULL), ==, 1);
  g_assert_nonnull (strstr (errout, "/no/such/model"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&errout, g_free);
  g_assert_true (g_file_set_contents (cfg, "{\"model_type\": ", -1, NULL));
  g_assert_cmpint (run (&out, &errout, "--model", tmp, "--inspect", NULL), ==, 1);
  g_assert_nonnull (strstr (errout, cfg));
  g_assert_nonnull (strstr (errout, "JSON syntax error"));
  g_unlink (cfg);
  g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/llava-run/inspect", test_inspect_text);
  g_test_add_func ("/llava-run/inspect-json", test_inspect_json);
  g_test_add_func ("/llava-run/tokenize", test_tokenize);
  g_test_add_func ("/llava-run/detokenize", test_detokenize);
  g_test_add_func ("/llava-run/errors-name-the-file", test_errors_name_the_file);
  return g_test_run ();
}
