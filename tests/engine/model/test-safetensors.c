/* test-safetensors.c — the safetensors reader's validation and the writer. */
#include "model/safetensors.h"
#include "llava.h"
#include "backend.h"

#include <glib/gstdio.h>
#include <string.h>

static char *tmpdir;

/* Writes an 8-byte length, the header text and `data` to a temp file. */
static char *
write_raw (const char *name, const char *header, const void *data, gsize n,
    gint64 fake_len)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  gsize hl = strlen (header);
  guint64 len = fake_len >= 0 ? (guint64) fake_len : hl;
  GByteArray *b = g_byte_array_new ();
  for (int i = 0; i < 8; i++) {
    guint8 c = (len >> (8 * i)) & 0xff;
    g_byte_array_append (b, &c, 1);
  }
  g_byte_array_append (b, (const guint8 *) header, hl);
  if (n)
    g_byte_array_append (b, data, n);
  g_assert_true (g_file_set_contents (path, (char *) b->data, b->len, NULL));
  g_byte_array_unref (b);
  return path;
}

static void
expect_open_error (const char *path, int code, const char *needle)
{
  g_autoptr (GError) err = NULL;
  LlavaSafetensors *st = llava_safetensors_open (path, &err);
  g_assert_null (st);
  g_assert_error (err, LLAVA_ERROR, code);
  if (!strstr (err->message, path))
    g_error ("error \"%s\" does not name the file", err->message);
  if (needle && !strstr (err->message, needle))
    g_error ("error \"%s\" does not mention \"%s\"", err->message, needle);
}

static void
test_round_trip (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "rt.safetensors", NULL);
  LlavaStWriter *w = llava_st_writer_new ();
  float f[6] = { 1.5f, -2.0f, 0.0f, 3.25f, 1e-8f, -7.0f };
  gint64 iv[3] = { 151646, -200, 7 };
  guint16 bf[2] = { 0x3f80, 0xc040 };   /* 1.0, -3.0 */
  gint64 s23[2] = { 2, 3 }, s3[1] = { 3 }, s2[1] = { 2 };
  g_autoptr (GError) err = NULL;
  LlavaSafetensors *st;
  const LlavaStTensor *t;
  float *back;

  llava_st_writer_add (w, "a.weight", LLAVA_ST_F32, s23, 2, f);
  llava_st_writer_add (w, "ids", LLAVA_ST_I64, s3, 1, iv);
  llava_st_writer_add (w, "b", LLAVA_ST_BF16, s2, 1, bf);
  g_assert_true (llava_st_writer_write (w, path, &err));
  g_assert_no_error (err);
  llava_st_writer_free (w);

  st = llava_safetensors_open (path, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (llava_safetensors_n_tensors (st), ==, 3);
  t = llava_safetensors_find (st, "a.weight");
  g_assert_nonnull (t);
  g_assert_cmpint (t->dtype, ==, LLAVA_ST_F32);
  g_assert_cmpuint (t->n_dims, ==, 2);
  g_assert_cmpint (t->shape[0], ==, 2);
  g_assert_cmpint (t->shape[1], ==, 3);
  back = llava_st_tensor_to_f32 (t);
  g_assert_cmpmem (back, sizeof (f), f, sizeof (f));
  g_free (back);
  t = llava_safetensors_find (st, "ids");
  g_assert_cmpmem (t->data, t->size, iv, sizeof (iv));
  g_assert_null (llava_st_tensor_to_f32 (t));
  t = llava_safetensors_find (st, "b");
  back = llava_st_tensor_to_f32 (t);
  g_assert_cmpfloat (back[0], ==, 1.0f);
  g_assert_cmpfloat (back[1], ==, -3.0f);
  g_free (back);
  g_assert_null (llava_safetensors_find (st, "missing"));
  llava_safetensors_free (st);
}

static void
test_missing_file (void)
{
  g_autofree char *p = g_build_filename (tmpdir, "nope.safetensors", NULL);
  expect_open_error (p, LLAVA_ERROR_FILE, NULL);
}

static void
test_truncated_file (void)
{
  g_autofree char *p = g_build_filename (tmpdir, "short.safetensors", NULL);
  g_assert_true (g_file_set_contents (p, "abc", 3, NULL));
  expect_open_error (p, LLAVA_ERROR_FILE, "truncated");
}

static void
test_header_longer_than_file (void)
{
  g_autofree char *p = write_raw ("long.safetensors", "{}", NULL, 0, 1000);
  expect_open_error (p, LLAVA_ERROR_FILE, "longer than the file");
}

static void
test_json_syntax_error (void)
{
  g_autofree char *p = write_raw ("syntax.safetensors",
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]", "abcd", 4, -1);
  expect_open_error (p, LLAVA_ERROR_FORMAT, "JSON");
}

static void
test_unknown_dtype (void)
{
  g_autofree char *p = write_raw ("dtype.safetensors",
      "{\"a\": {\"dtype\": \"F24\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "abcd", 4, -1);
  expect_open_error (p, LLAVA_ERROR_FORMAT, "unknown dtype \"F24\"");
}

static void
test_offsets_past_end (void)
{
  /* data area is 4 bytes; the tensor claims 8 (file truncated) */
  g_autofree char *p = write_raw ("past.safetensors",
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", "abcd", 4, -1);
  expect_open_error (p, LLAVA_ERROR_FORMAT, "past the end");
}

static void
test_size_mismatch (void)
{
  g_autofree char *p = write_raw ("size.safetensors",
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
      "abcdefgh", 8, -1);
  expect_open_error (p, LLAVA_ERROR_FORMAT, "\"a\"");
}

static void
test_overlap (void)
{
  g_autofree char *p = write_raw ("overlap.safetensors",
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
      " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
      "abcdefgh", 8, -1);
  expect_open_error (p, LLAVA_ERROR_FORMAT, "overlap");
}

static void
test_bad_shape_values (void)
{
  static const char *headers[] = {
    "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}",
    "{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}",
    "{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 4]}}",
    "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}",
    "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}",
    "{\"a\": [1, 2]}",
    "[1, 2]",
  };
  for (guint i = 0; i < G_N_ELEMENTS (headers); i++) {
    g_autofree char *name = g_strdup_printf ("bad%u.safetensors", i);
    g_autofree char *p = write_raw (name, headers[i], "abcd", 4, -1);
    expect_open_error (p, LLAVA_ERROR_FORMAT, NULL);
  }
}

/* Unaligned data (header length not a multiple of 4) still converts. */
static void
test_unaligned_and_from_data (void)
{
  const char *h = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
  guint16 half[2] = { 0x3c00, 0xc000 };          /* 1.0, -2.0 */
  GByteArray *b = g_byte_array_new ();
  guint64 hl = strlen (h);
  g_autoptr (GError) err = NULL;
  LlavaSafetensors *st;
  float *f;
  g_assert_cmpuint (hl % 4, !=, 0);
  for (int i = 0; i < 8; i++) {
    guint8 c = (hl >> (8 * i)) & 0xff;
    g_byte_array_append (b, &c, 1);
  }
  g_byte_array_append (b, (const guint8 *) h, hl);
  g_byte_array_append (b, (const guint8 *) half, 4);
  st = llava_safetensors_new_from_data (b->data, b->len, "mem", &err);
  g_assert_no_error (err);
  f = llava_st_tensor_to_f32 (llava_safetensors_get_nth (st, 0));
  g_assert_cmpfloat (f[0], ==, 1.0f);
  g_assert_cmpfloat (f[1], ==, -2.0f);
  g_free (f);
  llava_safetensors_free (st);
  g_byte_array_unref (b);
}

int
main (int argc, char **argv)
{
  int rc;
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("llava-st-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_test_add_func ("/safetensors/round-trip", test_round_trip);
  g_test_add_func ("/safetensors/error/missing-file", test_missing_file);
  g_test_add_func ("/safetensors/error/truncated-file", test_truncated_file);
  g_test_add_func ("/safetensors/error/header-longer-than-file", test_header_longer_than_file);
  g_test_add_func ("/safetensors/error/json-syntax", test_json_syntax_error);
  g_test_add_func ("/safetensors/error/unknown-dtype", test_unknown_dtype);
  g_test_add_func ("/safetensors/error/offsets-past-end", test_offsets_past_end);
  g_test_add_func ("/safetensors/error/size-mismatch", test_size_mismatch);
  g_test_add_func ("/safetensors/error/overlap", test_overlap);
  g_test_add_func ("/safetensors/error/bad-shape-values", test_bad_shape_values);
  g_test_add_func ("/safetensors/unaligned-from-data", test_unaligned_and_from_data);
  rc = g_test_run ();
  {
    GDir *d = g_dir_open (tmpdir, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (tmpdir, n, NULL);
      g_unlink (p);
    }
    g_dir_close (d);
    g_rmdir (tmpdir);
  }
  g_free (tmpdir);
  return rc;
}
