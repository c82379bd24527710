/* test-tokenizer.c — the Qwen2 BPE against the reference vectors in
 * $LLAVA_TOKENIZER_DIR (made with transformers' slow Qwen2Tokenizer) and the
 * golden case's prompt in $LLAVA_GOLDEN_DIR. */
#include "text/tokenizer.h"
#include "text/tokenizer-private.h"
#include "llava.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LlavaTokenizer, llava_tokenizer_free)

typedef struct {
  LlavaTokenizer *tok;          /* vocab.json + merges.txt */
  LlavaTokenizer *tok_json;     /* tokenizer.json (+ tokenizer_config.json) only */
  JsonParser *vectors, *prompts, *divergent;
  char *tmpdir;
} Fixture;

static Fixture fx;

static const char *
tokenizer_dir (void)
{
  const char *d = g_getenv ("LLAVA_TOKENIZER_DIR");
  g_assert_nonnull (d);
  return d;
}

static JsonParser *
load_json (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) err = NULL;
  JsonParser *p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, &err));
  g_assert_no_error (err);
  return p;
}

static GArray *
ids_from_json (JsonArray *a)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 v = (gint32) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  return ids;
}

static char *
ids_str (const GArray *ids)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", g_array_index (ids, gint32, i));
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
assert_ids_equal (const GArray *got, const GArray *want, const char *what)
{
  gboolean same = got->len == want->len
      && (got->len == 0 || memcmp (got->data, want->data, got->len * sizeof (gint32)) == 0);
  if (!same) {
    g_autofree char *g = ids_str (got);
    g_autofree char *w = ids_str (want);
    g_error ("%s: got %s, want %s", what, g, w);
  }
}

static void
check_encode (const LlavaTokenizer *t, const char *text, JsonArray *want_a,
    const char *what)
{
  g_autoptr (GArray) got = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) want = ids_from_json (want_a);
  g_autoptr (GError) err = NULL;
  g_assert_true (llava_tokenizer_encode (t, text, -1, got, &err));
  g_assert_no_error (err);
  assert_ids_equal (got, want, what);
}

/* Streams ids through the detokenizer: every chunk must be valid UTF-8
 * (never half a character) and the chunks must add up to decode(). */
static void
check_streaming (const LlavaTokenizer *t, const GArray *ids, gboolean skip,
    const char *want)
{
  LlavaDetokenizer *d = llava_detokenizer_new (t, skip);
  GString *all = g_string_new (NULL);
  char *tail;
  for (guint i = 0; i < ids->len; i++) {
    char *piece = llava_detokenizer_push (d, g_array_index (ids, gint32, i));
    g_assert_true (g_utf8_validate (piece, -1, NULL));
    g_string_append (all, piece);
    g_free (piece);
  }
  tail = llava_detokenizer_flush (d);
  g_assert_true (g_utf8_validate (tail, -1, NULL));
  g_string_append (all, tail);
  g_free (tail);
  g_assert_cmpstr (all->str, ==, want);
  g_string_free (all, TRUE);
  llava_detokenizer_free (d);
}

static void
check_decode (const LlavaTokenizer *t, JsonObject *v, const GArray *ids)
{
  g_autofree char *dec = llava_tokenizer_decode (t, (const gint32 *) ids->data,
      ids->len, FALSE);
  g_assert_cmpstr (dec, ==, json_object_get_string_member (v, "decoded"));
  check_streaming (t, ids, FALSE, dec);
  if (json_object_has_member (v, "decoded_skip_special")) {
    g_autofree char *ds = llava_tokenizer_decode (t, (const gint32 *) ids->data,
        ids->len, TRUE);
    g_assert_cmpstr (ds, ==, json_object_get_string_member (v, "decoded_skip_special"));
    check_streaming (t, ids, TRUE, ds);
  }
}

static void
run_vectors (const LlavaTokenizer *t)
{
  JsonArray *a = json_node_get_array (json_parser_get_root (fx.vectors));
  guint n_enc = 0, n_dec = 0;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    const char *cat = json_object_get_string_member (v, "category");
    g_autoptr (GArray) ids = ids_from_json (json_object_get_array_member (v, "ids"));
    if (!json_object_get_boolean_member (v, "decode_only")) {
      g_autofree char *what = g_strdup_printf ("vector %u (%s)", i, cat);
      check_encode (t, json_object_get_string_member (v, "text"),
          json_object_get_array_member (v, "ids"), what);
      n_enc++;
    }
    check_decode (t, v, ids);
    n_dec++;
  }
  g_assert_cmpuint (n_enc, >=, 50);
  g_assert_cmpuint (n_dec, ==, json_array_get_length (a));
  g_test_message ("%u encode and %u decode vectors match", n_enc, n_dec);
}

static void
test_vectors_slow_files (void)
{
  run_vectors (fx.tok);
}

static void
test_vectors_tokenizer_json (void)
{
  run_vectors (fx.tok_json);
}

static void
test_plain_strings (void)
{
  JsonObject *root = json_node_get_object (json_parser_get_root (fx.prompts));
  JsonObject *plain = json_object_get_object_member (root, "plain_strings");
  GList *members = json_object_get_members (plain);
  g_assert_cmpuint (g_list_length (members), >=, 10);
  for (GList *l = members; l; l = l->next)
    check_encode (fx.tok, l->data, json_object_get_array_member (plain, l->data), l->data);
  g_list_free (members);
}

/* Extracts the prompt between "\n" after the last image and <|im_end|>. */
static char *
question_of (const char *templated)
{
  const char *a = strstr (templated, "<image>\n");
  const char *b;
  while (a && strstr (a + 1, "<image>\n"))
    a = strstr (a + 1, "<image>\n");
  g_assert_nonnull (a);
  a += strlen ("<image>\n");
  b = strstr (a, "<|im_end|>");
  g_assert_nonnull (b);
  return g_strndup (a, b - a);
}

static void
test_chat_hf_template (void)
{
  JsonObject *root = json_node_get_object (json_parser_get_root (fx.prompts));
  JsonObject *hf = json_object_get_object_member (root, "hf_chat_template_10_frames");
  const char *text = json_object_get_string_member (hf, "text");
  g_autofree char *q = question_of (text);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) want = ids_from_json (json_object_get_array_member (hf, "ids_before_expansion"));
  g_autofree char *out = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_true (llava_chat_build (fx.tok, q, NULL, 10, 151646, ids, &out, &err));
  g_assert_no_error (err);
  assert_ids_equal (ids, want, "hf template");
  g_assert_cmpstr (out, ==, text);
  /* 729 tokens per image */
  g_assert_cmpint (ids->len - 10 + 10 * 729, ==,
      json_object_get_int_member (hf, "expanded_len_729_per_image"));
}

static void
test_chat_next_template (void)
{
  JsonObject *root = json_node_get_object (json_parser_get_root (fx.prompts));
  JsonObject *o = json_object_get_object_member (root, "original_demo_format_10_frames");
  const char *text = json_object_get_string_member (o, "text");
  g_autofree char *q = question_of (text);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) want = ids_from_json (json_object_get_array_member (o, "ids_with_-200_placeholders"));
  g_autofree char *out = NULL;
  g_autoptr (GError) err = NULL;

  for (guint i = 0; i < want->len; i++)
    if (g_array_index (want, gint32, i) == -200)
      g_array_index (want, gint32, i) = 151646;
  g_assert_true (llava_chat_build (fx.tok, q, "You are a helpful assistant.", 10,
          151646, ids, &out, &err));
  g_assert_no_error (err);
  assert_ids_equal (ids, want, "LLaVA-NeXT template");
  g_assert_cmpstr (out, ==, text);
}

/* test_vectors.json's templated prompts (incl. the system-prompt one) */
static void
test_chat_vectors (void)
{
  JsonArray *a = json_node_get_array (json_parser_get_root (fx.vectors));
  guint n = 0;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    const char *cat = json_object_get_string_member (v, "category");
    const char *text;
    g_autofree char *q = NULL;
    g_autofree char *sys = NULL;
    g_autofree char *out = NULL;
    g_autoptr (GArray) ids = NULL;
    g_autoptr (GArray) want = NULL;
    guint n_img = 0;
    if (!g_str_has_prefix (cat, "chat_prompt"))
      continue;
    text = json_object_get_string_member (v, "text");
    for (const char *p = strstr (text, "<image>"); p; p = strstr (p + 1, "<image>"))
      n_img++;
    if (g_str_has_prefix (text, "<|im_start|>system\n")) {
      const char *s = text + strlen ("<|im_start|>system\n");
      sys = g_strndup (s, strstr (s, "<|im_end|>") - s);
    }
    q = question_of (text);
    ids = g_array_new (FALSE, FALSE, sizeof (gint32));
    want = ids_from_json (json_object_get_array_member (v, "ids"));
    g_assert_true (llava_chat_build (fx.tok, q, sys, n_img, 151646, ids, &out, NULL));
    assert_ids_equal (ids, want, cat);
    g_assert_cmpstr (out, ==, text);
    n++;
  }
  g_assert_cmpuint (n, >=, 3);
}

static void
test_chat_golden_case (void)
{
  const char *gd = g_getenv ("LLAVA_GOLDEN_DIR");
  g_autoptr (JsonParser) p = NULL;
  JsonObject *c;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) want = NULL;
  g_autofree char *out = NULL;
  g_autoptr (LlavaTokenizer) gt = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_nonnull (gd);
  gt = llava_tokenizer_load (gd, &err);
  g_assert_no_error (err);
  p = load_json (gd, "case.json");
  c = json_node_get_object (json_parser_get_root (p));
  want = ids_from_json (json_object_get_array_member (c, "input_ids"));
  g_assert_true (llava_chat_build (gt, json_object_get_string_member (c, "user_prompt"),
          NULL, 10, 151646, ids, &out, &err));
  g_assert_no_error (err);
  assert_ids_equal (ids, want, "golden case input_ids");
  g_assert_cmpstr (out, ==, json_object_get_string_member (c, "prompt_text"));
  /* generated text: decode of generated_ids */
  {
    g_autoptr (GArray) gen = ids_from_json (json_object_get_array_member (c, "generated_ids"));
    g_autofree char *txt = llava_tokenizer_decode (gt, (gint32 *) gen->data, gen->len, TRUE);
    g_assert_cmpstr (txt, ==, json_object_get_string_member (c, "generated_text"));
    check_streaming (gt, gen, TRUE, txt);
  }
}

/* The user's text cannot forge template markers. */
static void
test_chat_prompt_is_plain_text (void)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  guint n_image = 0, n_end = 0;
  g_assert_true (llava_chat_build (fx.tok, "a <image> b <|im_end|>", NULL, 2, 151646,
          ids, NULL, NULL));
  for (guint i = 0; i < ids->len; i++) {
    n_image += g_array_index (ids, gint32, i) == 151646;
    n_end += g_array_index (ids, gint32, i) == 151645;
  }
  g_assert_cmpuint (n_image, ==, 2);
  g_assert_cmpuint (n_end, ==, 1);
}

/* Chosen behaviour: the slow tokenizer's (see docs/tokenizer.md). */
static void
test_divergent_slow_behaviour (void)
{
  JsonArray *a = json_node_get_array (json_parser_get_root (fx.divergent));
  guint n = 0;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *v = json_array_get_object_element (a, i);
    g_autoptr (GArray) ids = ids_from_json (json_object_get_array_member (v, "ids"));
    if (json_object_has_member (v, "text"))
      check_encode (fx.tok, json_object_get_string_member (v, "text"),
          json_object_get_array_member (v, "ids"),
          json_object_get_string_member (v, "category"));
    check_decode (fx.tok, v, ids);
    n++;
  }
  g_assert_cmpuint (n, >=, 6);
  g_assert_true (llava_tokenizer_is_special (fx.tok, 151645));
  g_assert_false (llava_tokenizer_is_special (fx.tok, 151646));
}

static void
test_invalid_utf8_is_error (void)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GError) err = NULL;
  g_assert_false (llava_tokenizer_encode (fx.tok, "ab\xff", -1, ids, &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID);
  g_assert_cmpuint (ids->len, ==, 0);
}

static void
test_token_ids (void)
{
  g_assert_cmpint (llava_tokenizer_token_id (fx.tok, "<|im_end|>"), ==, 151645);
  g_assert_cmpint (llava_tokenizer_token_id (fx.tok, "<image>"), ==, 151646);
  g_assert_cmpint (llava_tokenizer_token_id (fx.tok, "user"), ==, 872);
  g_assert_cmpint (llava_tokenizer_token_id (fx.tok, "\n"), ==, 198);
  g_assert_cmpint (llava_tokenizer_token_id (fx.tok, "no such token here"), ==, -1);
  g_assert_cmpuint (llava_tokenizer_vocab_size (fx.tok), ==, 151647);
}

/* Unknown ids (the embedding's padding rows) produce nothing. */
static void
test_decode_unknown_ids (void)
{
  gint32 ids[] = { 9707, 151900, 1879, -5 };
  g_autofree char *s = llava_tokenizer_decode (fx.tok, ids, 4, FALSE);
  g_assert_cmpstr (s, ==, "Hello world");
}

/* NFC in pieces equals NFC of the whole text, whatever falls on a cut:
 * decomposed accents, Hangul jamo composing onto syllables (가 + ᆨ = 각),
 * marks that reorder, singletons. */
static void
test_nfc_chunked (void)
{
  static const char *parts[] = {
    "e\xcc\x81", "a", " ", "\xea\xb0\x80", "\xe1\x86\xa8", "\xe1\x84\x80\xe1\x85\xa1",
    "q\xcc\xa3\xcc\x87", "\xe6\x9d\xb1", "\xe2\x84\xa6", "\xcc\x81", ">",
    "\xcc\xb8", "\xe3\x81\x8b\xe3\x82\x99", "\n", "\xc3\xa9",
  };
  GString *s = g_string_new (NULL);
  GRand *r = g_rand_new_with_seed (7);
  char *whole, *chunked;
  while (s->len < 60000)
    g_string_append (s, parts[g_rand_int_range (r, 0, G_N_ELEMENTS (parts))]);
  whole = g_utf8_normalize (s->str, s->len, G_NORMALIZE_NFC);
  chunked = llava_utf8_nfc (s->str, s->len);
  g_assert_cmpstr (chunked, ==, whole);
  g_free (whole);
  g_free (chunked);
  g_string_free (s, TRUE);
  g_rand_free (r);
}

/* A NUL byte cannot be returned inside a C string: it decodes to U+FFFD,
 * streamed or not (found by fuzz-tokenizer). */
static void
test_decode_nul_byte (void)
{
  gint32 ids[3] = { 9707, -1, 1879 };
  g_autofree char *s = NULL;
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE, sizeof (gint32));
  ids[1] = llava_tokenizer_token_id (fx.tok, "\xc4\x80");   /* "Ā" = byte 0x00 */
  g_assert_cmpint (ids[1], >=, 0);
  s = llava_tokenizer_decode (fx.tok, ids, 3, FALSE);
  g_assert_cmpstr (s, ==, "Hello\xef\xbf\xbd world");
  g_array_append_vals (a, ids, 3);
  check_streaming (fx.tok, a, FALSE, s);
}

/* A single 200 kB word: the heap BPE must stay fast (O(n log n)). */
static void
test_long_word (void)
{
  gsize n = 200000;
  char *s = g_malloc (n + 1);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autofree char *back = NULL;
  gint64 t0 = g_get_monotonic_time ();
  for (gsize i = 0; i < n; i++)
    s[i] = "abcdefghij"[(i * 7 + i / 3) % 10];
  s[n] = '\0';
  g_assert_true (llava_tokenizer_encode (fx.tok, s, -1, ids, NULL));
  g_assert_cmpuint (ids->len, >, 1000);
  back = llava_tokenizer_decode (fx.tok, (gint32 *) ids->data, ids->len, FALSE);
  g_assert_cmpstr (back, ==, s);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
  g_free (s);
}

/* ---- load errors: each names the file ---- */

static char *
write_tmp (const char *name, const char *content)
{
  char *path = g_build_filename (fx.tmpdir, name, NULL);
  g_assert_true (g_file_set_contents (path, content, -1, NULL));
  return path;
}

static void
expect_load_error (int code, const char *needle)
{
  g_autoptr (GError) err = NULL;
  LlavaTokenizer *t = llava_tokenizer_load (fx.tmpdir, &err);
  g_assert_null (t);
  g_assert_error (err, LLAVA_ERROR, code);
  if (!strstr (err->message, needle))
    g_error ("error \"%s\" does not mention \"%s\"", err->message, needle);
}

static void
clear_tmp (void)
{
  const char *names[] = { "vocab.json", "merges.txt", "tokenizer.json",
    "added_tokens.json", "tokenizer_config.json" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *p = g_build_filename (fx.tmpdir, names[i], NULL);
    g_unlink (p);
  }
}

/* a 256-byte vocabulary in byte-level form as JSON */
static char *
byte_vocab_json (const char *extra)
{
  GString *s = g_string_new ("{");
  for (int b = 0; b < 256; b++) {
    GString *tok = g_string_new (NULL);
    g_string_append_unichar (tok, llava_byte_to_unichar ((guint8) b));
    if (tok->str[0] == '"' || tok->str[0] == '\\')
      g_string_prepend_c (tok, '\\');
    g_string_append_printf (s, "%s\"%s\": %d", b ? ", " : "", tok->str, b);
    g_string_free (tok, TRUE);
  }
  g_string_append_printf (s, "%s}", extra);
  return g_string_free (s, FALSE);
}

static void
test_load_errors (void)
{
  g_autofree char *v = NULL;
  clear_tmp ();
  expect_load_error (LLAVA_ERROR_FILE, "no tokenizer");

  g_free (write_tmp ("vocab.json", "{\"a\": 1,"));
  g_free (write_tmp ("merges.txt", "#version: 0.2\n"));
  expect_load_error (LLAVA_ERROR_FORMAT, "vocab.json");

  v = byte_vocab_json (", \"ab\": 256");
  g_free (write_tmp ("vocab.json", v));
  g_free (write_tmp ("merges.txt", "#version: 0.2\na b\nq zz\n"));
  expect_load_error (LLAVA_ERROR_FORMAT, "merges.txt");

  g_free (write_tmp ("merges.txt", "#version: 0.2\na b\n"));
  g_free (write_tmp ("added_tokens.json", "{\"<x>\": \"seven\"}"));
  expect_load_error (LLAVA_ERROR_FORMAT, "added_tokens.json");

  /* a minimal valid tokenizer works: "ab" merges, <x> is split out */
  g_free (write_tmp ("added_tokens.json", "{\"<x>\": 257}"));
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (LlavaTokenizer) t = llava_tokenizer_load (fx.tmpdir, &err);
    g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
    g_assert_no_error (err);
    g_assert_true (llava_tokenizer_encode (t, "ab<x>ba", -1, ids, &err));
    g_assert_cmpuint (ids->len, ==, 4);
    g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 256);
    g_assert_cmpint (g_array_index (ids, gint32, 1), ==, 257);
    g_assert_cmpint (g_array_index (ids, gint32, 2), ==, 'b');
    g_assert_cmpint (g_array_index (ids, gint32, 3), ==, 'a');
  }
  clear_tmp ();
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) err = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  fx.tok = llava_tokenizer_load (tokenizer_dir (), &err);
  g_assert_no_error (err);
  /* a directory with only tokenizer.json (+ config for the special set) */
  fx.tmpdir = g_dir_make_tmp ("llava-tok-XXXXXX", &err);
  g_assert_no_error (err);
  {
    g_autofree char *jdir = g_build_filename (fx.tmpdir, "json-only", NULL);
    const char *names[] = { "tokenizer.json", "tokenizer_config.json" };
    g_assert_cmpint (g_mkdir (jdir, 0700), ==, 0);
    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
      g_autofree char *src = g_build_filename (tokenizer_dir (), names[i], NULL);
      g_autofree char *dst = g_build_filename (jdir, names[i], NULL);
      g_assert_cmpint (symlink (src, dst), ==, 0);
    }
    fx.tok_json = llava_tokenizer_load (jdir, &err);
    g_assert_no_error (err);
  }
  fx.vectors = load_json (tokenizer_dir (), "test_vectors.json");
  fx.prompts = load_json (tokenizer_dir (), "test_vectors_prompts.json");
  fx.divergent = load_json (tokenizer_dir (), "divergent_slow_vs_fast.json");

  g_test_add_func ("/tokenizer/vectors/vocab-merges", test_vectors_slow_files);
  g_test_add_func ("/tokenizer/vectors/tokenizer-json", test_vectors_tokenizer_json);
  g_test_add_func ("/tokenizer/plain-strings", test_plain_strings);
  g_test_add_func ("/tokenizer/divergent-follows-slow", test_divergent_slow_behaviour);
  g_test_add_func ("/tokenizer/invalid-utf8-is-error", test_invalid_utf8_is_error);
  g_test_add_func ("/tokenizer/token-ids", test_token_ids);
  g_test_add_func ("/tokenizer/decode-unknown-ids", test_decode_unknown_ids);
  g_test_add_func ("/tokenizer/long-word", test_long_word);
  g_test_add_func ("/tokenizer/decode-nul-byte", test_decode_nul_byte);
  g_test_add_func ("/tokenizer/nfc-chunked", test_nfc_chunked);
  g_test_add_func ("/tokenizer/load-errors", test_load_errors);
  g_test_add_func ("/chat/hf-template", test_chat_hf_template);
  g_test_add_func ("/chat/next-template-with-system", test_chat_next_template);
  g_test_add_func ("/chat/vectors", test_chat_vectors);
  g_test_add_func ("/chat/golden-case", test_chat_golden_case);
  g_test_add_func ("/chat/prompt-is-plain-text", test_chat_prompt_is_plain_text);
  rc = g_test_run ();

  {
    g_autofree char *jdir = g_build_filename (fx.tmpdir, "json-only", NULL);
    g_autofree char *a = g_build_filename (jdir, "tokenizer.json", NULL);
    g_autofree char *b = g_build_filename (jdir, "tokenizer_config.json", NULL);
    g_unlink (a);
    g_unlink (b);
    g_rmdir (jdir);
    g_rmdir (fx.tmpdir);
  }
  llava_tokenizer_free (fx.tok);
  llava_tokenizer_free (fx.tok_json);
  g_object_unref (fx.vectors);
  g_object_unref (fx.prompts);
  g_object_unref (fx.divergent);
  g_free (fx.tmpdir);
  return rc;
}
