/* weights.h — reading model tensors from a source (a checkpoint, or random
 * weights made in memory by the benchmark) and uploading them in the
 * engine's weight formats. */
#pragma once

#include "backend.h"

G_BEGIN_DECLS

/* Returns the tensor `name` as g_malloc'd f32, checked against `shape`
 * (errors name the tensor). */
typedef float *(*LlavaWeightReadFunc) (gpointer src, const char *name,
    const gint64 *shape, guint n_dims, GError **err);

typedef struct {
  LlBackend *be;
  LlavaWeightReadFunc read;
  gpointer src;
  LlDType wtype;            /* matrices: f32, f16 or q8_0 */
  guint64 n_params;         /* counted while loading */
} LlavaWeightLoader;

/* A matrix [rows, cols] made of the row-wise concatenation of the named
 * tensors (`names` NULL-terminated, each [rows_i, cols] or, for convolution
 * weights, [rows_i, ...] whose trailing dims multiply to cols), converted to
 * the loader's wtype.  Fusing QKV / gate+up happens here. */
LlTensor *llava_weights_matrix (LlavaWeightLoader *l, const char *const *names,
    const guint32 *rows, guint n, guint32 cols, const gint64 *conv_shape,
    GError **err);

/* A matrix from one tensor [rows, cols]. */
LlTensor *llava_weights_matrix1 (LlavaWeightLoader *l, const char *name,
    guint32 rows, guint32 cols, GError **err);

/* An f32 vector [1, sum n_i] (norm weights, biases; concatenated for fused
 * projections). */
LlTensor *llava_weights_vector (LlavaWeightLoader *l, const char *const *names,
    const guint32 *lens, guint n, GError **err);
LlTensor *llava_weights_vector1 (LlavaWeightLoader *l, const char *name,
    guint32 len, GError **err);

/* An f32 table [rows, cols] (position embeddings). */
LlTensor *llava_weights_table_f32 (LlavaWeightLoader *l, const char *name,
    guint32 rows, guint32 cols, GError **err);

static inline void
llava_tensor_free (LlBackend *be, LlTensor *t)
{
  if (t)
    be->ops->tensor_free (be, t);
}

G_END_DECLS
