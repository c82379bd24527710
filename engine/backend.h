/* backend.h — the op interface the model graphs are written against.
 *
 * engine/vision/ and engine/llm/ describe SigLIP, the projector and Qwen2 as a
 * sequence of calls through this table.  Two implementations exist:
 *   - engine/vk/   the Vulkan compute backend (the product);
 *   - engine/ref/  a plain C reference (obviously correct, slow), the oracle
 *                  for every kernel test and for the whole-model tests.
 *
 * Conventions
 *   - A tensor is 2-D, row-major, [rows, cols] of one dtype.  Activations are
 *     LL_F32; weights may be LL_F32, LL_F16 or LL_Q8_0; token ids are LL_I32.
 *   - Ops are *recorded*: a backend may execute them at once (ref) or queue
 *     them in a command buffer (vk).  ll_backend_sync() runs everything
 *     recorded so far and waits.  upload/download sync implicitly, so they
 *     are ordered with the recorded ops.
 *   - Row counts passed to ops (M, T, ...) may be smaller than the tensor's
 *     rows: activations are allocated for the largest chunk and reused.
 *   - A tensor argument may alias the output only where the op says so.
 *   - Weight matrices follow PyTorch's Linear layout: W[N, K] (out, in).
 *
 * Host layout of an LL_Q8_0 tensor [rows, cols] (see ll_q8_0_*() below):
 *   kp = cols rounded up to a multiple of 32 (LL_Q8_0_BLOCK);
 *   int8  qs[rows][kp]        (padding columns are 0)
 *   float d[rows][kp / 32]    (one scale per block, value = qs * d)
 * The quantisation is ggml's q8_0: d = max|x| / 127, q = round(x / d).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LL_F32 = 0,
  LL_F16 = 1,
  LL_Q8_0 = 2,
  LL_I32 = 3,
} LlDType;

#define LL_Q8_0_BLOCK 32

typedef enum {
  LL_ACT_NONE = 0,
  LL_ACT_GELU_TANH = 1, /* 0.5x(1+tanh(0.7978845608(x+0.044715x^3))) — SigLIP MLP */
  LL_ACT_GELU_ERF = 2,  /* 0.5x(1+erf(x/sqrt 2)) — projector */
} LlAct;

typedef struct _LlBackend LlBackend;
typedef struct _LlTensor LlTensor;

/* Common part every backend's tensor starts with. */
struct _LlTensor {
  LlDType dtype;
  guint32 rows, cols;
  char *name; /* for errors and profiling */
};

typedef struct {
  const char *name; /* "vulkan" or "reference" */

  void (*free) (LlBackend *b);

  /* Allocation.  Fails with a GError naming the tensor when the device
   * cannot hold it. */
  LlTensor *(*tensor_new) (LlBackend *b, LlDType dtype, guint32 rows,
      guint32 cols, const char *name, GError **err);
  void (*tensor_free) (LlBackend *b, LlTensor *t);

  /* Optional (NULL: tensor_new): a long-lived weight, uploaded once and
   * only read by ops.  Backends with memory arenas keep these together,
   * apart from activations that come and go.  Use ll_backend_weight_new(). */
  LlTensor *(*weight_new) (LlBackend *b, LlDType dtype, guint32 rows,
      guint32 cols, const char *name, GError **err);

  /* Copies rows [row0, row0+n) from/to host memory in the dtype's host
   * layout (for LL_Q8_0 only whole tensors: row0 = 0, n = rows).  download
   * is for LL_F32 and LL_I32 tensors. */
  gboolean (*upload) (LlBackend *b, LlTensor *t, guint32 row0, guint32 n,
      const void *data, GError **err);
  gboolean (*download) (LlBackend *b, LlTensor *t, guint32 row0, guint32 n,
      void *out, GError **err);

  /* Runs everything recorded and waits for it. */
  gboolean (*sync) (LlBackend *b, GError **err);

  /* ---- ops (recorded) ---- */

  /* out[M,N] = act(x[M,K] · W[N,K]ᵀ + bias[N]) + residual[M,N]
   * bias [1,N] f32 or NULL; residual [>=M,N] f32 or NULL, may be == out.
   * W is f32, f16 or q8_0.  M = 1 is the decode GEMV. */
  void (*matmul) (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
      LlTensor *bias, LlTensor *residual, LlAct act, guint32 M);

  /* out[M,C] = (x - mean) / sqrt(var + eps) * w + bias  (biased variance,
   * fp32 statistics).  out may be == x. */
  void (*layernorm) (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
      LlTensor *bias, float eps, guint32 M);

  /* out[M,C] = x / sqrt(mean(x²) + eps) * w.  out may be == x. */
  void (*rmsnorm) (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
      float eps, guint32 M);

  /* out[M,N] = silu(gu[:, 0:N]) * gu[:, N:2N]   (gu is [M, 2N]) */
  void (*silu_mul) (LlBackend *b, LlTensor *out, LlTensor *gu, guint32 M);

  /* out[r, :] += add[r % add->rows, :] for r < M  (position embeddings) */
  void (*add_rows) (LlBackend *b, LlTensor *out, LlTensor *add, guint32 M);

  /* Patch extraction for the conv-as-GEMM patch embedding.
   * pixels: [F*3*S, S] f32 (F frames of CHW, S×S).  g = S / p (floor).
   * out: [F*g*g, 3*p*p], row = f*g*g + py*g + px, col = c*p*p + ky*p + kx. */
  void (*im2col) (LlBackend *b, LlTensor *out, LlTensor *pixels, guint32 F,
      guint32 S, guint32 p);

  /* Non-causal attention inside each frame (SigLIP).
   * qkv: [F*P, 3*H*D] (q | k | v, each head-major H×D), out: [F*P, H*D].
   * Softmax in fp32, scores scaled by `scale`. */
  void (*attention_frames) (LlBackend *b, LlTensor *out, LlTensor *qkv,
      guint32 F, guint32 P, guint32 H, guint32 D, float scale);

  /* NeoX RoPE (rotate_half, pairs (i, i+D/2), inv_freq = theta^(-2i/D),
   * angles in fp32) on rows t < T of qkv [T, (H+2*Hkv)*D] = (q | k | v)
   * at positions pos0 + t: q is rotated in place; rotated k and plain v are
   * written to the cache rows  kc/vc[h*ctx + pos0 + t, :]  where
   * kc, vc are [Hkv*ctx, D] (f32 or f16) and ctx = kc->rows / Hkv. */
  void (*rope_kv) (LlBackend *b, LlTensor *qkv, LlTensor *kc, LlTensor *vc,
      guint32 T, guint32 H, guint32 Hkv, guint32 D, guint32 pos0, float theta);

  /* Causal attention of the T queries at positions pos0..pos0+T-1 (q from
   * qkv as in rope_kv) over cache positions 0..pos0+t; grouped-query: head h
   * uses kv head h / (H / Hkv).  out: [T, H*D].  Never materialises a T×T
   * score matrix (streaming softmax). T = 1 is decode. */
  void (*attention_causal) (LlBackend *b, LlTensor *out, LlTensor *qkv,
      LlTensor *kc, LlTensor *vc, guint32 T, guint32 H, guint32 Hkv,
      guint32 D, guint32 pos0, float scale);

  /* out[t, :] = table[ids[t], :] for t < T; ids: [>=T, 1] i32 (or [1, >=T]);
   * table f32 / f16 / q8_0 (dequantised). */
  void (*embed_rows) (LlBackend *b, LlTensor *out, LlTensor *table,
      LlTensor *ids, guint32 T);

  /* dst[dst_row0 + i, :] = src[src_row0 + i, :] for i < n (same cols, f32) */
  void (*copy_rows) (LlBackend *b, LlTensor *dst, guint32 dst_row0,
      LlTensor *src, guint32 src_row0, guint32 n);

  /* ids[index] = argmax(logits[0, 0:n_valid]) (first maximum wins).
   * ids: i32 tensor with >= index+1 elements. */
  void (*argmax) (LlBackend *b, LlTensor *ids, guint32 index,
      LlTensor *logits, guint32 n_valid);

  /* Bytes of device memory held now and at most so far. */
  guint64 (*memory_in_use) (LlBackend *b);
  guint64 (*memory_peak) (LlBackend *b);

  /* One line describing the device, e.g. "llvmpipe (LLVM 15.0.6, 256 bits), CPU". */
  const char *(*describe) (LlBackend *b);
} LlBackendOps;

struct _LlBackend {
  const LlBackendOps *ops;
};

/* Constructors (each backend's own header declares its extra options). */
LlBackend *ll_backend_ref_new (void);

/* device_index < 0: LLAVA_VK_DEVICE env var, else discrete > integrated >
 * virtual > CPU.  Fails with a clear GError when there is no Vulkan device. */
LlBackend *ll_backend_vulkan_new (int device_index, GError **err);

static inline void
ll_backend_free (LlBackend *b)
{
  if (b)
    b->ops->free (b);
}

static inline LlTensor *
ll_backend_weight_new (LlBackend *b, LlDType dtype, guint32 rows,
    guint32 cols, const char *name, GError **err)
{
  return b->ops->weight_new ? b->ops->weight_new (b, dtype, rows, cols, name, err)
      : b->ops->tensor_new (b, dtype, rows, cols, name, err);
}

/* ---- host-side weight formats (engine/model converts into these) ---- */

static inline gsize
ll_q8_0_row_stride (guint32 cols)
{
  return (cols + LL_Q8_0_BLOCK - 1) / LL_Q8_0_BLOCK * LL_Q8_0_BLOCK;
}

/* Bytes of a host tensor in the layouts above. */
gsize ll_dtype_host_size (LlDType dtype, guint32 rows, guint32 cols);

/* Converts f32 [rows, cols] to dtype's host layout; returns g_malloc'd data
 * of ll_dtype_host_size() bytes. */
void *ll_convert_from_f32 (LlDType dtype, const float *src, guint32 rows,
    guint32 cols);

/* Dequantises one row of a host tensor of any weight dtype to f32. */
void ll_dequantize_row (LlDType dtype, const void *data, guint32 rows,
    guint32 cols, guint32 row, float *out);

float ll_half_to_float (guint16 h);
guint16 ll_float_to_half (float f);   /* round to nearest even */
float ll_bf16_to_float (guint16 h);

const char *ll_dtype_name (LlDType dtype);

G_END_DECLS
