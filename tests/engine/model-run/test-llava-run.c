/* test-llava-run.c — `llava-run` end to end on the golden fixture: the
 * --json result, --teacher-force + --dump-tensors against
 * expected.safetensors, and a clear error for a too-long prompt. */
#include "model-run-common.h"

#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

static GPtrArray *
golden_argv (const char *first_extra, ...)
{
  const char *g = g_getenv ("LLAVA_GOLDEN_DIR");
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  va_list ap;

  g_ptr_array_add (a, g_strdup (g_getenv ("LLAVA_RUN")));
  g_ptr_array_add (a, g_strdup_printf ("--model=%s", g));
  for (guint i = 0; i < 10; i++) {
    g_ptr_array_add (a, g_strdup ("--frames"));
    g_ptr_array_add (a, g_strdup_printf ("%s/frames/frame_%02u.png", g, i));
  }
  g_ptr_array_add (a, g_strdup ("--prompt"));
  g_ptr_array_add (a, g_strdup ("Describe what happens in this video."));
  va_start (ap, first_extra);
  for (const char *s = first_extra; s; s = va_arg (ap, const char *))
    g_ptr_array_add (a, g_strdup (s));
  va_end (ap);
  g_ptr_array_add (a, NULL);
  return a;
}

static int
spawn (GPtrArray *argv, char **out, char **errout)
{
  GError *err = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL,
          G_SPAWN_DEFAULT, NULL, NULL, out, errout, &status, &err));
  g_assert_no_error (err);
  /* show why llava-run failed (e.g. a sanitizer report) before asserting */
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    g_printerr ("llava-run failed (wait status %d):\n%s", status,
        errout && *errout ? *errout : "");
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* The acceptance command: golden ids and text, as JSON. */
static void
test_json_greedy (void)
{
  GPtrArray *argv = golden_argv ("--max-new-tokens", "12", "--precision",
      "f32", "--json", NULL);
  char *out, *errout, *cjson;
  JsonParser *p = json_parser_new (), *c = json_parser_new ();
  JsonObject *o, *co;
  JsonArray *ids, *want;
  GError *err = NULL;
  int rc = spawn (argv, &out, &errout);

  if (rc != 0 && strstr (errout, "Vulkan")) {
    g_test_skip (errout);
    goto out;
  }
  g_assert_cmpint (rc, ==, 0);
  json_parser_load_from_data (p, out, -1, &err);
  g_assert_no_error (err);
  cjson = g_build_filename (g_getenv ("LLAVA_GOLDEN_DIR"), "case.json", NULL);
  json_parser_load_from_file (c, cjson, &err);
  g_assert_no_error (err);
  g_free (cjson);
  o = json_node_get_object (json_parser_get_root (p));
  co = json_node_get_object (json_parser_get_root (c));
  ids = json_object_get_array_member (o, "generated_ids");
  want = json_object_get_array_member (co, "generated_ids");
  g_assert_cmpuint (json_array_get_length (ids), ==,
      json_array_get_length (want));
  for (guint i = 0; i < json_array_get_length (ids); i++)
    g_assert_cmpint (json_array_get_int_element (ids, i), ==,
        json_array_get_int_element (want, i));
  g_assert_cmpstr (json_object_get_string_member (o, "text"), ==,
      json_object_get_string_member (co, "generated_text"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o,
              "input_ids")), ==, 26);
  g_assert_true (json_object_has_member (o, "timings_ms"));
  g_assert_cmpint (json_object_get_int_member (o, "peak_device_bytes"), >, 0);
out:
  g_object_unref (p);
  g_object_unref (c);
  g_free (out);
  g_free (errout);
  g_ptr_array_unref (argv);
}

/* --teacher-force=… --dump-tensors=…: the golden tensor names and shapes,
 * row k of logits_steps = logits after the prompt and k forced ids. */
static void
test_dump_teacher_forced (void)
{
  char *tmp = g_dir_make_tmp ("llava-run-XXXXXX", NULL);
  char *path = g_build_filename (tmp, "dump.safetensors", NULL);
  char *dumparg = g_strdup_printf ("--dump-tensors=%s", path);
  GPtrArray *argv = golden_argv ("--teacher-force=61314,103013,156",
      dumparg, "--reference", "--precision=f32", NULL);
  char *out, *errout, *exp;
  LlavaSafetensors *d, *e;
  GError *err = NULL;
  static const char *names[] = { "pixel_values", "image_features",
    "projector_output", "logits_steps" };

  g_assert_cmpint (spawn (argv, &out, &errout), ==, 0);
  d = llava_safetensors_open (path, &err);
  g_assert_no_error (err);
  exp = g_build_filename (g_getenv ("LLAVA_GOLDEN_DIR"),
      "expected.safetensors", NULL);
  e = llava_safetensors_open (exp, &err);
  g_assert_no_error (err);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    const LlavaStTensor *a = llava_safetensors_find (d, names[i]);
    const LlavaStTensor *b = llava_safetensors_find (e, names[i]);
    const float *x, *y;
    gsize n;
    float err_max = 0;

    g_assert_nonnull (a);
    g_assert_cmpint (a->dtype, ==, LLAVA_ST_F32);
    /* logits_steps: the 3 forced steps of the golden 12 */
    if (strcmp (names[i], "logits_steps") == 0) {
      g_assert_cmpuint (a->n_dims, ==, 2);
      g_assert_cmpint (a->shape[0], ==, 3);
      g_assert_cmpint (a->shape[1], ==, b->shape[1]);
    } else {
      g_assert_cmpuint (a->n_dims, ==, b->n_dims);
      g_assert_cmpmem (a->shape, a->n_dims * 8, b->shape, b->n_dims * 8);
    }
    x = a->data;
    y = b->data;
    n = a->size / 4;
    for (gsize k = 0; k < n; k++)
      err_max = MAX (err_max, fabsf (x[k] - y[k]));
    g_test_message ("%s max abs error %g", names[i], err_max);
    g_assert_cmpfloat (err_max, <=, strcmp (names[i], "pixel_values") == 0
        ? 0.0 : strcmp (names[i], "logits_steps") == 0 ? 2e-3 : 1e-3);
  }
  llava_safetensors_free (d);
  llava_safetensors_free (e);
  g_unlink (path);
  g_rmdir (tmp);
  g_free (exp);
  g_free (out);
  g_free (errout);
  g_free (path);
  g_free (dumparg);
  g_free (tmp);
  g_ptr_array_unref (argv);
}

/* More frames than the context holds: exit status 1 and a message. */
static void
test_context_too_small (void)
{
  GPtrArray *argv = golden_argv ("--reference", NULL);
  char *out, *errout;

  /* the default context is 16 frames × 16 + 512 = 768 positions: a prompt
   * of ~1400 tokens overflows it */
  g_ptr_array_remove_index (argv, argv->len - 1);
  g_ptr_array_remove_index (argv, argv->len - 2);  /* the --prompt value */
  {
    GString *long_prompt = g_string_new (NULL);
    for (guint i = 0; i < 200; i++)
      g_string_append (long_prompt, "The cat sat on the mat. ");
    g_ptr_array_insert (argv, argv->len - 1,
        g_string_free (long_prompt, FALSE));
  }
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (spawn (argv, &out, &errout), ==, 1);
  g_test_message ("%s", errout);
  g_assert_nonnull (strstr (errout, "context"));
  g_free (out);
  g_free (errout);
  g_ptr_array_unref (argv);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!g_getenv ("LLAVA_GOLDEN_DIR") || !g_getenv ("LLAVA_RUN")) {
    g_printerr ("LLAVA_GOLDEN_DIR and LLAVA_RUN must be set\n");
    return 1;
  }
  g_test_add_func ("/llava-run/json-greedy-golden", test_json_greedy);
  g_test_add_func ("/llava-run/dump-teacher-forced", test_dump_teacher_forced);
  g_test_add_func ("/llava-run/context-too-small", test_context_too_small);
  return g_test_run ();
}
