/* weights.h — reading model tensors from a source (a checkpoint, or random
 * weights made in memory by the benchmark) and uploading them in the
 * engine's weight formats. */
#pragma once

#include "backend.h"
#include "model/model.h"

G_BEGIN_DECLS

/* Precision policy (what is stored in which dtype), for a model loaded at
 * weight type wtype = f32, f16 or q8_0:
 *   - every matrix — the fused QKV / out / MLP matrices of SigLIP and Qwen2,
 *     the patch-embedding conv (as a GEMM), the projector, and the token
 *     embedding, stored once and also used as the tied LM head — in wtype
 *     (llava_weights_matrix);
 *   - norm weights, biases and the position-embedding table in f32;
 *   - the KV cache in f16 unless wtype is f32 (session.c); activations f32.
 * q8_0 is therefore llama.cpp's "Q8_0 file type" applied to the whole model
 * (token embedding and output quantised too).  K that is not a multiple of
 * 32 (SigLIP fc2, K = 4304: MODEL.md §8 pitfall 14) is zero-padded to the
 * next block (backend.h), which is exact, so fc2 needs no f16 fallback.
 *
 * Keeping parts at f16 instead (the vision tower + projector as llama.cpp's
 * mmproj-f16 files do, or the tied embedding / LM head) was measured on the
 * golden model (f32 on the reference backend, weights rounded through q8_0,
 * max |logit error| against transformers): all matrices 1.22; vision tower,
 * projector and embedding f16, only the LLM layers q8_0 0.97; LLM incl.
 * embedding q8_0, vision + projector f16 1.27; MODEL.md §7's mix (patch conv
 * and fc2 f16) 1.21.  Each component alone: LLM layers 0.97, vision encoder
 * 0.65, projector 0.58, two gate_proj 0.42, tied embedding / LM head 0.41,
 * patch conv 0.18.  Features stay within cosine 0.9996 of transformers in
 * every case.  No mix that still quantises the LLM reaches the fp16 logit
 * tolerance (0.25) of the golden README on that fixture, and the mixes cost
 * memory and decode bandwidth (the LM head is the largest matrix read per
 * token), so the plain policy above is kept; tests compare q8_0 against an
 * f32 run on the same q8_0-rounded weights (ENGINE.md §5.5). */

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

/* Bytes the weights of checkpoint `c` take on a backend (host layouts of
 * backend.h; backends add only alignment) at weight type `wtype` under the
 * policy above.  Only what the engine loads is counted: not post_layernorm,
 * not the vision layers past vision_feature_layer, not an lm_head when the
 * embeddings are tied.  (--inspect's per-precision estimate.) */
guint64 llava_weights_host_bytes (const LlavaCheckpoint *c, LlDType wtype);

static inline void
llava_tensor_free (LlBackend *be, LlTensor *t)
{
  if (t)
    be->ops->tensor_free (be, t);
}

G_END_DECLS
