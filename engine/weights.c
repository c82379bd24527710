/* weights.c — see weights.h. */
#include "weights.h"

#include <string.h>

static LlTensor *
upload_new (LlavaWeightLoader *l, LlDType dtype, const float *data,
    guint32 rows, guint32 cols, const char *name, GError **err)
{
  LlBackend *be = l->be;
  LlTensor *t = ll_backend_weight_new (be, dtype, rows, cols, name, err);
  void *host;
  gboolean ok;

  if (!t)
    return NULL;
  host = dtype == LL_F32 ? (void *) data
      : ll_convert_from_f32 (dtype, data, rows, cols);
  ok = be->ops->upload (be, t, 0, rows, host, err);
  if (host != data)
    g_free (host);
  if (!ok) {
    be->ops->tensor_free (be, t);
    return NULL;
  }
  l->n_params += (guint64) rows * cols;
  return t;
}

/* Reads and concatenates n tensors of `lens[i]` rows × cols into one f32
 * buffer.  conv_shape (optional): trailing dims of a single conv weight. */
static float *
read_concat (LlavaWeightLoader *l, const char *const *names,
    const guint32 *lens, guint n, guint32 cols, const gint64 *conv_shape,
    guint32 *total_rows, GError **err)
{
  guint32 rows = 0;
  float *all;

  for (guint i = 0; i < n; i++)
    rows += lens[i];
  all = g_malloc ((gsize) rows * cols * sizeof (float));
  rows = 0;
  for (guint i = 0; i < n; i++) {
    gint64 shape[4] = { lens[i], cols };
    guint nd = 2;
    float *part;

    if (conv_shape) {
      shape[1] = conv_shape[0];
      shape[2] = conv_shape[1];
      shape[3] = conv_shape[2];
      nd = 4;
    }
    part = l->read (l->src, names[i], shape, nd, err);
    if (!part) {
      g_free (all);
      return NULL;
    }
    memcpy (all + (gsize) rows * cols, part,
        (gsize) lens[i] * cols * sizeof (float));
    g_free (part);
    rows += lens[i];
  }
  *total_rows = rows;
  return all;
}

LlTensor *
llava_weights_matrix (LlavaWeightLoader *l, const char *const *names,
    const guint32 *lens, guint n, guint32 cols, const gint64 *conv_shape,
    GError **err)
{
  guint32 rows;
  float *data = read_concat (l, names, lens, n, cols, conv_shape, &rows, err);
  LlTensor *t;

  if (!data)
    return NULL;
  t = upload_new (l, l->wtype, data, rows, cols, names[0], err);
  g_free (data);
  return t;
}

LlTensor *
llava_weights_matrix1 (LlavaWeightLoader *l, const char *name, guint32 rows,
    guint32 cols, GError **err)
{
  const char *names[] = { name };
  return llava_weights_matrix (l, names, &rows, 1, cols, NULL, err);
}

LlTensor *
llava_weights_vector (LlavaWeightLoader *l, const char *const *names,
    const guint32 *lens, guint n, GError **err)
{
  guint32 len = 0;
  float *all;
  LlTensor *t;

  for (guint i = 0; i < n; i++)
    len += lens[i];
  all = g_new (float, len);
  len = 0;
  for (guint i = 0; i < n; i++) {
    gint64 shape[1] = { lens[i] };
    float *part = l->read (l->src, names[i], shape, 1, err);
    if (!part) {
      g_free (all);
      return NULL;
    }
    memcpy (all + len, part, lens[i] * sizeof (float));
    g_free (part);
    len += lens[i];
  }
  t = upload_new (l, LL_F32, all, 1, len, names[0], err);
  g_free (all);
  return t;
}

LlTensor *
llava_weights_vector1 (LlavaWeightLoader *l, const char *name, guint32 len,
    GError **err)
{
  const char *names[] = { name };
  return llava_weights_vector (l, names, &len, 1, err);
}

LlTensor *
llava_weights_table_f32 (LlavaWeightLoader *l, const char *name, guint32 rows,
    guint32 cols, GError **err)
{
  gint64 shape[2] = { rows, cols };
  float *data = l->read (l->src, name, shape, 2, err);
  LlTensor *t;

  if (!data)
    return NULL;
  t = upload_new (l, LL_F32, data, rows, cols, name, err);
  g_free (data);
  return t;
}

/* ---- memory estimate (see the policy in weights.h) ---- */

typedef struct {
  const LlavaConfig *cfg;
  LlDType wtype;
  guint64 bytes;
} BytesCount;

#define VISION_LAYERS "vision_tower.vision_model.encoder.layers."

static void
count_tensor (const char *name, const char *dtype, const gint64 *shape,
    guint n_dims, gpointer user_data)
{
  BytesCount *b = user_data;
  guint64 rows = n_dims ? (guint64) shape[0] : 1, cols = 1;
  LlDType t = b->wtype;

  (void) dtype;
  if (strstr (name, "post_layernorm."))
    return;
  if (g_str_has_prefix (name, VISION_LAYERS)
      && g_ascii_strtoull (name + strlen (VISION_LAYERS), NULL, 10)
      >= b->cfg->v_layers_used)
    return;
  if (strcmp (name, "language_model.lm_head.weight") == 0
      && b->cfg->tie_embeddings)
    return;
  for (guint i = 1; i < n_dims; i++)
    cols *= (guint64) shape[i];
  if (n_dims < 2 || g_str_has_suffix (name, "position_embedding.weight"))
    t = LL_F32;
  if (rows > G_MAXUINT32 || cols > G_MAXUINT32)
    b->bytes += rows * cols * 4;        /* cannot be loaded anyway */
  else
    b->bytes += ll_dtype_host_size (t, (guint32) rows, (guint32) cols);
}

guint64
llava_weights_host_bytes (const LlavaCheckpoint *c, LlDType wtype)
{
  BytesCount b = { llava_checkpoint_get_config (c), wtype, 0 };

  llava_checkpoint_foreach (c, count_tensor, &b);
  return b.bytes;
}
