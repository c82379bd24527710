/* ref_backend.c — the plain C reference implementation of backend.h.
 *
 * Obviously correct and slow: every op is the textbook loop with double
 * accumulators, executed at once (nothing is queued).  It is the oracle for
 * the Vulkan kernel tests and the whole-model tests, and a debugging
 * backend for llava-run --reference.
 */
#include "../backend.h"
#include "../llava.h"

#include <math.h>
#include <string.h>

typedef struct {
  LlTensor base;
  void *data;                   /* host layout of backend.h */
  gsize size;
} RefTensor;

typedef struct {
  LlBackend base;
  guint64 in_use, peak;
} RefBackend;

#define REF(t) ((RefTensor *) (t))

static float *
f32 (LlTensor *t)
{
  g_assert (t->dtype == LL_F32);
  return REF (t)->data;
}

static gint32 *
i32 (LlTensor *t)
{
  g_assert (t->dtype == LL_I32);
  return REF (t)->data;
}

/* Reads element (r, c) of an f32 or f16 tensor (activations, KV cache). */
static float
get (LlTensor *t, gsize r, gsize c)
{
  gsize i = r * t->cols + c;
  if (t->dtype == LL_F16)
    return ll_half_to_float (((guint16 *) REF (t)->data)[i]);
  return ((float *) REF (t)->data)[i];
}

static void
set (LlTensor *t, gsize r, gsize c, float v)
{
  gsize i = r * t->cols + c;
  if (t->dtype == LL_F16)
    ((guint16 *) REF (t)->data)[i] = ll_float_to_half (v);
  else
    ((float *) REF (t)->data)[i] = v;
}

static void
weight_row (LlTensor *w, guint32 row, float *out)
{
  ll_dequantize_row (w->dtype, REF (w)->data, w->rows, w->cols, row, out);
}

/* ---- memory ---- */

static LlTensor *
ref_tensor_new (LlBackend *b, LlDType dtype, guint32 rows, guint32 cols,
    const char *name, GError **err)
{
  RefBackend *rb = (RefBackend *) b;
  gsize size = ll_dtype_host_size (dtype, rows, cols);
  RefTensor *t;

  if (rows == 0 || cols == 0) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "tensor %s: empty shape [%u, %u]", name, rows, cols);
    return NULL;
  }
  t = g_new0 (RefTensor, 1);
  t->data = g_try_malloc0 (size);
  if (!t->data) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "tensor %s: cannot allocate %" G_GSIZE_FORMAT " bytes", name, size);
    g_free (t);
    return NULL;
  }
  t->size = size;
  t->base.dtype = dtype;
  t->base.rows = rows;
  t->base.cols = cols;
  t->base.name = g_strdup (name);
  rb->in_use += size;
  rb->peak = MAX (rb->peak, rb->in_use);
  return &t->base;
}

static void
ref_tensor_free (LlBackend *b, LlTensor *t)
{
  RefBackend *rb = (RefBackend *) b;
  if (!t)
    return;
  rb->in_use -= REF (t)->size;
  g_free (REF (t)->data);
  g_free (t->name);
  g_free (t);
}

static gboolean
check_rows (LlTensor *t, guint32 row0, guint32 n, GError **err)
{
  if ((guint64) row0 + n > t->rows) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "tensor %s: rows [%u, %u) out of range (%u rows)", t->name, row0,
        row0 + n, t->rows);
    return FALSE;
  }
  if (t->dtype == LL_Q8_0 && (row0 != 0 || n != t->rows)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "tensor %s: q8_0 tensors are transferred whole", t->name);
    return FALSE;
  }
  return TRUE;
}

static gsize
row_bytes (LlTensor *t)
{
  return ll_dtype_host_size (t->dtype, 1, t->cols);
}

static gboolean
ref_upload (LlBackend *b, LlTensor *t, guint32 row0, guint32 n,
    const void *data, GError **err)
{
  if (!check_rows (t, row0, n, err))
    return FALSE;
  if (t->dtype == LL_Q8_0)
    memcpy (REF (t)->data, data, REF (t)->size);
  else
    memcpy ((guint8 *) REF (t)->data + row0 * row_bytes (t), data,
        n * row_bytes (t));
  return TRUE;
}

static gboolean
ref_download (LlBackend *b, LlTensor *t, guint32 row0, guint32 n, void *out,
    GError **err)
{
  if (!check_rows (t, row0, n, err))
    return FALSE;
  if (t->dtype != LL_F32 && t->dtype != LL_I32) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "tensor %s: only f32 and i32 tensors can be downloaded", t->name);
    return FALSE;
  }
  memcpy (out, (guint8 *) REF (t)->data + row0 * row_bytes (t),
      n * row_bytes (t));
  return TRUE;
}

static gboolean
ref_sync (LlBackend *b, GError **err)
{
  return TRUE;                  /* everything ran when it was recorded */
}

/* ---- ops ---- */

static float
gelu_tanh (float x)
{
  return 0.5f * x * (1.0f + tanhf (0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

static float
gelu_erf (float x)
{
  return (float) (0.5 * x * (1.0 + erf (x / sqrt (2.0))));
}

static void
ref_matmul (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
    LlTensor *bias, LlTensor *residual, LlAct act, guint32 M)
{
  guint32 N = w->rows, K = w->cols;
  float *wrow = g_new (float, K);
  float *y = g_new (float, (gsize) M * N);

  g_assert (x->cols == K && out->cols == N && M <= x->rows && M <= out->rows);
  /* compute into a temporary so residual may alias out */
  for (guint32 n = 0; n < N; n++) {
    weight_row (w, n, wrow);
    for (guint32 m = 0; m < M; m++) {
      const float *xr = f32 (x) + (gsize) m * K;
      double acc = 0.0;
      for (guint32 k = 0; k < K; k++)
        acc += (double) xr[k] * wrow[k];
      float v = (float) acc;
      if (bias)
        v += f32 (bias)[n];
      if (act == LL_ACT_GELU_TANH)
        v = gelu_tanh (v);
      else if (act == LL_ACT_GELU_ERF)
        v = gelu_erf (v);
      if (residual)
        v += f32 (residual)[(gsize) m * N + n];
      y[(gsize) m * N + n] = v;
    }
  }
  memcpy (f32 (out), y, (gsize) M * N * sizeof (float));
  g_free (y);
  g_free (wrow);
}

static void
ref_layernorm (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
    LlTensor *bias, float eps, guint32 M)
{
  guint32 C = x->cols;
  for (guint32 m = 0; m < M; m++) {
    const float *xr = f32 (x) + (gsize) m * C;
    float *yr = f32 (out) + (gsize) m * C;
    double mean = 0.0, var = 0.0;
    for (guint32 c = 0; c < C; c++)
      mean += xr[c];
    mean /= C;
    for (guint32 c = 0; c < C; c++)
      var += (xr[c] - mean) * (xr[c] - mean);
    var /= C;
    double inv = 1.0 / sqrt (var + eps);
    for (guint32 c = 0; c < C; c++)
      yr[c] = (float) ((xr[c] - mean) * inv) * f32 (w)[c]
          + (bias ? f32 (bias)[c] : 0.0f);
  }
}

static void
ref_rmsnorm (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w, float eps,
    guint32 M)
{
  guint32 C = x->cols;
  for (guint32 m = 0; m < M; m++) {
    const float *xr = f32 (x) + (gsize) m * C;
    float *yr = f32 (out) + (gsize) m * C;
    double ss = 0.0;
    for (guint32 c = 0; c < C; c++)
      ss += (double) xr[c] * xr[c];
    double inv = 1.0 / sqrt (ss / C + eps);
    for (guint32 c = 0; c < C; c++)
      yr[c] = (float) (xr[c] * inv) * f32 (w)[c];
  }
}

static void
ref_silu_mul (LlBackend *b, LlTensor *out, LlTensor *gu, guint32 M)
{
  guint32 N = out->cols;
  g_assert (gu->cols == 2 * N);
  for (guint32 m = 0; m < M; m++) {
    const float *g = f32 (gu) + (gsize) m * 2 * N;
    float *y = f32 (out) + (gsize) m * N;
    for (guint32 n = 0; n < N; n++)
      y[n] = (float) (g[n] / (1.0 + exp (-(double) g[n]))) * g[N + n];
  }
}

static void
ref_add_rows (LlBackend *b, LlTensor *out, LlTensor *add, guint32 M)
{
  guint32 C = out->cols;
  for (guint32 m = 0; m < M; m++)
    for (guint32 c = 0; c < C; c++)
      f32 (out)[(gsize) m * C + c] += f32 (add)[(gsize) (m % add->rows) * C + c];
}

static void
ref_im2col (LlBackend *b, LlTensor *out, LlTensor *pixels, guint32 F,
    guint32 S, guint32 p)
{
  guint32 g = S / p, cols = 3 * p * p;
  for (guint32 f = 0; f < F; f++)
    for (guint32 py = 0; py < g; py++)
      for (guint32 px = 0; px < g; px++) {
        gsize row = (gsize) f * g * g + py * g + px;
        for (guint32 c = 0; c < 3; c++)
          for (guint32 ky = 0; ky < p; ky++)
            for (guint32 kx = 0; kx < p; kx++)
              f32 (out)[row * cols + c * p * p + ky * p + kx] =
                  f32 (pixels)[(((gsize) f * 3 + c) * S + py * p + ky) * S + px * p + kx];
      }
}

/* Softmax-weighted sum of `n` keys for one query (fp64 statistics). */
static void
attend (const float *q, guint32 D, guint32 n, float scale,
    float (*key) (gpointer, guint32, guint32),
    float (*val) (gpointer, guint32, guint32), gpointer ctx, float *out)
{
  double *s = g_new (double, n);
  double mx = -INFINITY, sum = 0.0;
  for (guint32 j = 0; j < n; j++) {
    double dot = 0.0;
    for (guint32 d = 0; d < D; d++)
      dot += (double) q[d] * key (ctx, j, d);
    s[j] = dot * scale;
    mx = MAX (mx, s[j]);
  }
  for (guint32 j = 0; j < n; j++) {
    s[j] = exp (s[j] - mx);
    sum += s[j];
  }
  for (guint32 d = 0; d < D; d++) {
    double acc = 0.0;
    for (guint32 j = 0; j < n; j++)
      acc += s[j] * val (ctx, j, d);
    out[d] = (float) (acc / sum);
  }
  g_free (s);
}

typedef struct {
  LlTensor *qkv, *kc, *vc;
  gsize base_row;               /* frames: first row of the frame; cache: h*ctx */
  guint32 koff, voff;           /* column offsets of k and v in qkv */
} AttnCtx;

static float
frame_key (gpointer p, guint32 j, guint32 d)
{
  AttnCtx *a = p;
  return f32 (a->qkv)[(a->base_row + j) * a->qkv->cols + a->koff + d];
}

static float
frame_val (gpointer p, guint32 j, guint32 d)
{
  AttnCtx *a = p;
  return f32 (a->qkv)[(a->base_row + j) * a->qkv->cols + a->voff + d];
}

static void
ref_attention_frames (LlBackend *b, LlTensor *out, LlTensor *qkv, guint32 F,
    guint32 P, guint32 H, guint32 D, float scale)
{
  guint32 HD = H * D;
  g_assert (qkv->cols == 3 * HD && out->cols == HD);
  for (guint32 f = 0; f < F; f++)
    for (guint32 h = 0; h < H; h++) {
      AttnCtx a = { qkv, NULL, NULL, (gsize) f * P, HD + h * D, 2 * HD + h * D };
      for (guint32 i = 0; i < P; i++) {
        gsize row = (gsize) f * P + i;
        attend (f32 (qkv) + row * qkv->cols + h * D, D, P, scale, frame_key,
            frame_val, &a, f32 (out) + row * HD + h * D);
      }
    }
}

static void
rope_rotate (float *v, guint32 D, guint32 pos, float theta)
{
  guint32 half = D / 2;
  for (guint32 i = 0; i < half; i++) {
    /* angles in fp32, as the model computes them */
    float inv_freq = 1.0f / powf (theta, (float) (2 * i) / (float) D);
    float ang = (float) pos * inv_freq;
    float c = cosf (ang), s = sinf (ang);
    float x0 = v[i], x1 = v[i + half];
    v[i] = x0 * c - x1 * s;
    v[i + half] = x1 * c + x0 * s;
  }
}

static void
ref_rope_kv (LlBackend *b, LlTensor *qkv, LlTensor *kc, LlTensor *vc,
    guint32 T, guint32 H, guint32 Hkv, guint32 D, guint32 pos0, float theta)
{
  guint32 ctx = kc->rows / Hkv;
  float *k = g_new (float, D);
  g_assert (qkv->cols == (H + 2 * Hkv) * D && kc->cols == D);
  g_assert (pos0 + T <= ctx);
  for (guint32 t = 0; t < T; t++) {
    float *row = f32 (qkv) + (gsize) t * qkv->cols;
    for (guint32 h = 0; h < H; h++)
      rope_rotate (row + h * D, D, pos0 + t, theta);
    for (guint32 h = 0; h < Hkv; h++) {
      memcpy (k, row + (H + h) * D, D * sizeof (float));
      rope_rotate (k, D, pos0 + t, theta);
      gsize crow = (gsize) h * ctx + pos0 + t;
      for (guint32 d = 0; d < D; d++) {
        set (kc, crow, d, k[d]);
        set (vc, crow, d, row[(H + Hkv + h) * D + d]);
      }
    }
  }
  g_free (k);
}

static float
cache_key (gpointer p, guint32 j, guint32 d)
{
  AttnCtx *a = p;
  return get (a->kc, a->base_row + j, d);
}

static float
cache_val (gpointer p, guint32 j, guint32 d)
{
  AttnCtx *a = p;
  return get (a->vc, a->base_row + j, d);
}

static void
ref_attention_causal (LlBackend *b, LlTensor *out, LlTensor *qkv,
    LlTensor *kc, LlTensor *vc, guint32 T, guint32 H, guint32 Hkv, guint32 D,
    guint32 pos0, float scale)
{
  guint32 ctx = kc->rows / Hkv, group = H / Hkv;
  g_assert (out->cols == H * D && H % Hkv == 0);
  for (guint32 t = 0; t < T; t++)
    for (guint32 h = 0; h < H; h++) {
      AttnCtx a = { qkv, kc, vc, (gsize) (h / group) * ctx, 0, 0 };
      attend (f32 (qkv) + (gsize) t * qkv->cols + h * D, D, pos0 + t + 1,
          scale, cache_key, cache_val, &a,
          f32 (out) + (gsize) t * out->cols + h * D);
    }
}

static void
ref_embed_rows (LlBackend *b, LlTensor *out, LlTensor *table, LlTensor *ids,
    guint32 T)
{
  for (guint32 t = 0; t < T; t++) {
    gint32 id = i32 (ids)[t];
    g_assert (id >= 0 && (guint32) id < table->rows);
    weight_row (table, id, f32 (out) + (gsize) t * out->cols);
  }
}

static void
ref_copy_rows (LlBackend *b, LlTensor *dst, guint32 dst_row0, LlTensor *src,
    guint32 src_row0, guint32 n)
{
  g_assert (dst->cols == src->cols);
  memmove (f32 (dst) + (gsize) dst_row0 * dst->cols,
      f32 (src) + (gsize) src_row0 * src->cols,
      (gsize) n * src->cols * sizeof (float));
}

static void
ref_argmax (LlBackend *b, LlTensor *ids, guint32 index, LlTensor *logits,
    guint32 n_valid)
{
  const float *l = f32 (logits);
  guint32 best = 0;
  for (guint32 i = 1; i < n_valid; i++)
    if (l[i] > l[best])
      best = i;
  i32 (ids)[index] = (gint32) best;
}

static guint64
ref_memory_in_use (LlBackend *b)
{
  return ((RefBackend *) b)->in_use;
}

static guint64
ref_memory_peak (LlBackend *b)
{
  return ((RefBackend *) b)->peak;
}

static const char *
ref_describe (LlBackend *b)
{
  return "reference (plain C on the CPU)";
}

static void
ref_free (LlBackend *b)
{
  g_free (b);
}

static const LlBackendOps ref_ops = {
  .name = "reference",
  .free = ref_free,
  .tensor_new = ref_tensor_new,
  .tensor_free = ref_tensor_free,
  .upload = ref_upload,
  .download = ref_download,
  .sync = ref_sync,
  .matmul = ref_matmul,
  .layernorm = ref_layernorm,
  .rmsnorm = ref_rmsnorm,
  .silu_mul = ref_silu_mul,
  .add_rows = ref_add_rows,
  .im2col = ref_im2col,
  .attention_frames = ref_attention_frames,
  .rope_kv = ref_rope_kv,
  .attention_causal = ref_attention_causal,
  .embed_rows = ref_embed_rows,
  .copy_rows = ref_copy_rows,
  .argmax = ref_argmax,
  .memory_in_use = ref_memory_in_use,
  .memory_peak = ref_memory_peak,
  .describe = ref_describe,
};

LlBackend *
ll_backend_ref_new (void)
{
  RefBackend *rb = g_new0 (RefBackend, 1);
  rb->base.ops = &ref_ops;
  return &rb->base;
}
