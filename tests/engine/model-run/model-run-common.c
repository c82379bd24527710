/* model-run-common.c — see model-run-common.h. */
#include "model-run-common.h"

#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

LlavaModel *
load_model (const char *dir, LlavaPrecision precision, gboolean reference,
    guint context_size, GError **err)
{
  LlavaModelOptions o;

  llava_model_options_init (&o);
  o.precision = precision;
  o.reference_backend = reference;
  o.context_size = context_size;
  return llava_model_load (dir, &o, err);
}

void
skip_no_device (GError *err)
{
  g_assert_nonnull (err);
  if (g_error_matches (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE)) {
    g_test_skip_printf ("no Vulkan device: %s", err->message);
    g_error_free (err);
    return;
  }
  g_error ("model load failed: %s", err->message);
}

typedef struct {
  GArray *data;                 /* float */
} Entry;

struct _Dumps {
  GHashTable *t;                /* name → GArray of float */
};

Dumps *
dumps_new (void)
{
  Dumps *d = g_new0 (Dumps, 1);
  d->t = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_array_unref);
  return d;
}

void
dumps_free (Dumps *d)
{
  if (!d)
    return;
  g_hash_table_unref (d->t);
  g_free (d);
}

void
dumps_add (const char *name, const float *data, const gint64 *shape,
    guint nd, gpointer user_data)
{
  Dumps *d = user_data;
  GArray *a = g_hash_table_lookup (d->t, name);
  gsize n = 1;

  for (guint i = 0; i < nd; i++)
    n *= shape[i];
  if (!a) {
    a = g_array_new (FALSE, FALSE, sizeof (float));
    g_hash_table_insert (d->t, g_strdup (name), a);
  }
  g_array_append_vals (a, data, n);
}

const float *
dumps_get (Dumps *d, const char *name, gsize *n)
{
  GArray *a = g_hash_table_lookup (d->t, name);

  if (!a)
    g_error ("the engine dumped no \"%s\"", name);
  *n = a->len;
  return (const float *) a->data;
}

float
dumps_max_abs (Dumps *d, const char *name, const float *ref, gsize n)
{
  gsize m;
  const float *v = dumps_get (d, name, &m);
  float e = 0.0f;

  if (m != n)
    g_error ("%s: %" G_GSIZE_FORMAT " values dumped, %" G_GSIZE_FORMAT
        " expected", name, m, n);
  for (gsize i = 0; i < n; i++) {
    float x = fabsf (v[i] - ref[i]);
    if (!(x <= e))          /* NaN counts as an infinite error */
      e = isnan (x) ? INFINITY : x;
  }
  return e;
}

void
dumps_assert_close_rows (Dumps *d, const char *name, const float *ref,
    gsize n, gsize cols, float tol, double cos_min)
{
  gsize m;
  const float *v = dumps_get (d, name, &m);

  g_assert_cmpuint (m, ==, n);
  for (gsize r = 0; r < n / cols; r++) {
    const float *a = v + r * cols, *b = ref + r * cols;
    gboolean close = TRUE;
    double ab = 0, aa = 0, bb = 0;
    for (gsize c = 0; c < cols; c++) {
      close &= fabsf (a[c] - b[c]) <= tol * (1.0f + fabsf (b[c]));
      ab += (double) a[c] * b[c];
      aa += (double) a[c] * a[c];
      bb += (double) b[c] * b[c];
    }
    if (!close && ab / sqrt (aa * bb + 1e-30) < cos_min)
      g_error ("%s row %" G_GSIZE_FORMAT ": outside rtol/atol %g and cosine "
          "%g < %g", name, r, tol, ab / sqrt (aa * bb + 1e-30), cos_min);
  }
}

static gsize
argmax (const float *v, gsize n)
{
  gsize best = 0;
  for (gsize i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

guint
dumps_assert_top1 (Dumps *d, const char *name, const float *ref, gsize cols,
    guint rows, GArray *margins, float threshold)
{
  gsize m;
  const float *v = dumps_get (d, name, &m);
  guint checked = 0;

  g_assert_cmpuint (m, >=, cols * rows);
  for (guint r = 0; r < rows; r++) {
    if (margins && (r >= margins->len
            || g_array_index (margins, float, r) < threshold))
      continue;
    g_assert_cmpuint (argmax (v + r * cols, cols), ==,
        argmax (ref + r * cols, cols));
    checked++;
  }
  return checked;
}

static JsonObject *
case_root (JsonParser *p, const char *path)
{
  GError *err = NULL;

  json_parser_load_from_file (p, path, &err);
  g_assert_no_error (err);
  return json_node_get_object (json_parser_get_root (p));
}

char *
golden_case_string (const char *path, const char *member)
{
  JsonParser *p = json_parser_new ();
  char *s = g_strdup (json_object_get_string_member (case_root (p, path),
          member));
  g_object_unref (p);
  return s;
}

GArray *
golden_margins (void)
{
  char *path = g_build_filename (g_getenv ("LLAVA_GOLDEN_DIR"), "case.json",
      NULL);
  JsonParser *p = json_parser_new ();
  JsonArray *a = json_object_get_array_member (case_root (p, path),
      "greedy_top2_margins");
  GArray *m = g_array_new (FALSE, FALSE, sizeof (float));

  for (guint k = 0; k < json_array_get_length (a); k++) {
    float v = (float) json_array_get_double_element (a, k);
    g_array_append_val (m, v);
  }
  g_object_unref (p);
  g_free (path);
  return m;
}

guint
golden_exact_prefix (GArray *gen, float threshold)
{
  GArray *m = golden_margins ();
  guint k = 0;

  while (k < gen->len && k < m->len
      && g_array_index (m, float, k) >= threshold)
    k++;
  g_array_free (m, TRUE);
  return k;
}

void
free_images (LlavaImage **img, guint n)
{
  for (guint i = 0; i < n; i++)
    llava_image_free (img[i]);
  g_free (img);
}
