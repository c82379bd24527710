/* vk_ops.c — the recorded ops of the Vulkan backend: argument checks, then
 * one dispatch per op (per weight chunk for matmul and embed_rows; per
 * overlapping chunk pair for copy_rows and per output chunk for embed_rows,
 * the two ops that move rows of the big activations — the feature cache and
 * inputs_embeds — which may be split like weights).
 * A bad argument cannot be returned from a void op: it becomes the
 * backend's deferred error, returned by the next sync / upload / download,
 * and the op records nothing. */
#include "vk_private.h"
#include "llava.h"

#include <math.h>
#include <stdarg.h>

#define VKT(t) ((LlVkTensor *) (t))
#define DIV_UP(a, b) (((a) + (b) - 1) / (b))

static gboolean G_GNUC_PRINTF (4, 5)
check (LlVkBackend *b, const char *op, gboolean ok, const char *fmt, ...)
{
  if (ok)
    return TRUE;
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  ll_vk_runtime_fail (b->rt, g_error_new (LLAVA_ERROR, LLAVA_ERROR_INVALID,
          "vulkan %s: %s", op, msg));
  g_free (msg);
  return FALSE;
}

/* t must be a tensor of `dtype`, in any number of row chunks */
static gboolean
need_chunked (LlVkBackend *b, const char *op, LlTensor *t, const char *role,
    LlDType dtype)
{
  if (!check (b, op, t != NULL, "%s is NULL", role))
    return FALSE;
  return check (b, op, t->dtype == dtype, "%s %s is %s, expected %s", role,
      t->name, ll_dtype_name (t->dtype), ll_dtype_name (dtype));
}

/* t must be a one-chunk tensor of `dtype` (activations, norms' weights,
 * KV caches: everything but matmul / embed_rows weights, embed_rows'
 * output and copy_rows' operands). */
static gboolean
need (LlVkBackend *b, const char *op, LlTensor *t, const char *role,
    LlDType dtype)
{
  if (!need_chunked (b, op, t, role, dtype))
    return FALSE;
  return check (b, op, VKT (t)->n_chunks == 1, "%s %s [%u, %u] is larger "
      "than the device's maxStorageBufferRange and is split in %u row "
      "chunks; only matmul and embed_rows weights, embed_rows outputs and "
      "copy_rows operands may be", role, t->name, t->rows, t->cols,
      VKT (t)->n_chunks);
}

static LlVkBuffer *
buf (LlTensor *t)
{
  return t ? &VKT (t)->chunks[0] : NULL;
}

/* row index spread over y and z: y < 65536 on every device */
static void
rows_grid (guint32 rows, guint32 *gy, guint32 *gz)
{
  *gy = MIN (rows, 65535u);
  *gz = DIV_UP (rows, 65535u);
}

static int
weight_index (LlDType t)
{
  return t == LL_F32 ? 0 : t == LL_F16 ? 1 : t == LL_Q8_0 ? 2 : -1;
}

void
ll_vk_matmul (LlBackend *bb, LlTensor *out, LlTensor *x, LlTensor *w,
    LlTensor *bias, LlTensor *res, LlAct act, guint32 M)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "matmul";
  if (!need (b, op, out, "out", LL_F32) || !need (b, op, x, "x", LL_F32)
      || !check (b, op, w && weight_index (w->dtype) >= 0,
          "weight must be f32, f16 or q8_0")
      || !check (b, op, x->cols == w->cols && out->cols == w->rows
          && M <= x->rows && M <= out->rows,
          "shapes x %s [%u, %u], w %s [%u, %u], out %s [%u, %u], M = %u",
          x->name, x->rows, x->cols, w->name, w->rows, w->cols, out->name,
          out->rows, out->cols, M)
      || (bias && (!need (b, op, bias, "bias", LL_F32)
              || !check (b, op, bias->cols == w->rows, "bias %s has %u cols, "
                  "expected %u", bias->name, bias->cols, w->rows)))
      || (res && (!need (b, op, res, "residual", LL_F32)
              || !check (b, op, res->cols == w->rows && res->rows >= M,
                  "residual %s [%u, %u] for [%u, %u]", res->name, res->rows,
                  res->cols, M, w->rows)))
      || !check (b, op, act <= LL_ACT_GELU_ERF, "unknown activation %d", act))
    return;
  if (M == 0)
    return;

  static const LlSpvId cpu_gemm[] = { LL_SPV_mm_f32_m8, LL_SPV_mm_f16_m8, LL_SPV_mm_q8_m8 };
  static const LlSpvId cpu_gemv[] = { LL_SPV_mm_f32_m1, LL_SPV_mm_f16_m1, LL_SPV_mm_q8_m1 };
  static const LlSpvId gpu_gemm[] = { LL_SPV_mm_gpu_f32, LL_SPV_mm_gpu_f16, LL_SPV_mm_gpu_q8 };
  static const LlSpvId gpu_gemv[] = { LL_SPV_gemv_gpu_f32, LL_SPV_gemv_gpu_f16, LL_SPV_gemv_gpu_q8 };
  int wi = weight_index (w->dtype);
  LlSpvId id = b->cpu_style ? (M == 1 ? cpu_gemv : cpu_gemm)[wi]
      : (M == 1 ? gpu_gemv : gpu_gemm)[wi];
  LlVkTensor *wt = VKT (w);

  for (guint32 c = 0; c < wt->n_chunks; c++) {
    LlPcMatmul pc = {
      .M = M, .N = w->rows, .K = w->cols, .ld_w = wt->ld,
      .n0 = c * wt->chunk_rows, .nrows = ll_vk_chunk_nrows (wt, c),
      .flags = (bias ? LL_MM_BIAS : 0) | (res ? LL_MM_RESIDUAL : 0),
      .act = act };
    LlVkBind binds[] = {
      { buf (x), FALSE }, { &wt->chunks[c], FALSE }, { buf (bias), FALSE },
      { buf (res), FALSE }, { buf (out), TRUE } };
    guint32 gx, gy, gz = 1;
    if (b->cpu_style) {
      gx = DIV_UP (pc.nrows, LL_MM_RN * LL_MM_WG);
      gy = M == 1 ? 1 : DIV_UP (M, 8);          /* 8 tokens */
    } else if (M == 1) {
      rows_grid (pc.nrows, &gx, &gy);           /* one workgroup per row */
    } else {
      gx = DIV_UP (pc.nrows, 64);               /* 64×64 tiles */
      gy = DIV_UP (M, 64);
    }
    ll_vk_dispatch (b->rt, M == 1 ? "gemv" : "gemm", id, 0, binds,
        G_N_ELEMENTS (binds), &pc, sizeof pc, gx, gy, gz);
  }
}

static void
norm (LlVkBackend *b, const char *op, gboolean layer, LlTensor *out,
    LlTensor *x, LlTensor *w, LlTensor *bias, float eps, guint32 M)
{
  if (!need (b, op, out, "out", LL_F32) || !need (b, op, x, "x", LL_F32)
      || !need (b, op, w, "weight", LL_F32)
      || (bias && !need (b, op, bias, "bias", LL_F32))
      || !check (b, op, out->cols == x->cols && w->cols == x->cols
          && (!bias || bias->cols == x->cols) && M <= x->rows
          && M <= out->rows, "shapes x %s [%u, %u], out [%u, %u], weight "
          "[%u, %u], M = %u", x->name, x->rows, x->cols, out->rows,
          out->cols, w->rows, w->cols, M))
    return;
  LlPcNorm pc = { .M = M, .C = x->cols, .has_bias = bias != NULL, .eps = eps };
  LlVkBind binds[] = {
    { buf (x), FALSE }, { buf (w), FALSE }, { buf (bias), FALSE },
    { buf (out), TRUE } };
  LlSpvId id = b->cpu_style
      ? (layer ? LL_SPV_norm_layer : LL_SPV_norm_rms)
      : (layer ? LL_SPV_norm_layer_gpu : LL_SPV_norm_rms_gpu);
  guint32 gx = b->cpu_style ? DIV_UP (M, 8) : M;
  ll_vk_dispatch (b->rt, op, id, 0, binds, G_N_ELEMENTS (binds), &pc,
      sizeof pc, gx, 1, 1);
}

void
ll_vk_layernorm (LlBackend *bb, LlTensor *out, LlTensor *x, LlTensor *w,
    LlTensor *bias, float eps, guint32 M)
{
  norm (VKB (bb), "layernorm", TRUE, out, x, w, bias, eps, M);
}

void
ll_vk_rmsnorm (LlBackend *bb, LlTensor *out, LlTensor *x, LlTensor *w,
    float eps, guint32 M)
{
  norm (VKB (bb), "rmsnorm", FALSE, out, x, w, NULL, eps, M);
}

void
ll_vk_silu_mul (LlBackend *bb, LlTensor *out, LlTensor *gu, guint32 M)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "silu_mul";
  if (!need (b, op, out, "out", LL_F32) || !need (b, op, gu, "gu", LL_F32)
      || !check (b, op, gu->cols == 2 * out->cols && M <= gu->rows
          && M <= out->rows, "gu %s [%u, %u], out %s [%u, %u], M = %u",
          gu->name, gu->rows, gu->cols, out->name, out->rows, out->cols, M))
    return;
  LlPcRows pc = { .rows = M, .cols = out->cols };
  LlVkBind binds[] = { { buf (gu), FALSE }, { buf (out), TRUE } };
  guint32 gy, gz;
  rows_grid (M, &gy, &gz);
  ll_vk_dispatch (b->rt, op, LL_SPV_silu_mul, 0, binds, 2, &pc, sizeof pc,
      DIV_UP (out->cols, 64), gy, gz);
}

void
ll_vk_add_rows (LlBackend *bb, LlTensor *out, LlTensor *add, guint32 M)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "add_rows";
  if (!need (b, op, out, "out", LL_F32) || !need (b, op, add, "add", LL_F32)
      || !check (b, op, add->cols == out->cols && M <= out->rows,
          "add %s [%u, %u], out %s [%u, %u], M = %u", add->name, add->rows,
          add->cols, out->name, out->rows, out->cols, M))
    return;
  LlPcRows pc = { .rows = M, .cols = out->cols, .a = add->rows };
  LlVkBind binds[] = { { buf (out), TRUE }, { buf (add), FALSE } };
  guint32 gy, gz;
  rows_grid (M, &gy, &gz);
  ll_vk_dispatch (b->rt, op, LL_SPV_add_rows, 0, binds, 2, &pc, sizeof pc,
      DIV_UP (out->cols, 64), gy, gz);
}

void
ll_vk_im2col (LlBackend *bb, LlTensor *out, LlTensor *pixels, guint32 F,
    guint32 S, guint32 p)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "im2col";
  if (!need (b, op, out, "out", LL_F32) || !need (b, op, pixels, "pixels", LL_F32)
      || !check (b, op, p > 0 && S >= p, "patch %u, size %u", p, S))
    return;
  guint32 g = S / p;
  if (!check (b, op, pixels->cols == S && pixels->rows >= F * 3 * S
          && out->cols == 3 * p * p && out->rows >= F * g * g,
          "pixels %s [%u, %u], out %s [%u, %u] for F = %u, S = %u, p = %u",
          pixels->name, pixels->rows, pixels->cols, out->name, out->rows,
          out->cols, F, S, p))
    return;
  LlPcIm2col pc = { .F = F, .S = S, .p = p, .g = g };
  LlVkBind binds[] = { { buf (pixels), FALSE }, { buf (out), TRUE } };
  guint32 gy, gz;
  rows_grid (F * g * g, &gy, &gz);
  ll_vk_dispatch (b->rt, op, LL_SPV_im2col, 0, binds, 2, &pc, sizeof pc,
      DIV_UP (3 * p * p, 64), gy, gz);
}

/* head dims the attention kernel accepts: even (pairs are loaded together)
 * and small enough for two per-lane register arrays */
static gboolean
check_head_dim (LlVkBackend *b, const char *op, guint32 D)
{
  return check (b, op, D >= 2 && D % 2 == 0 && D <= 256,
      "head dim %u must be even and <= 256", D);
}

void
ll_vk_attention_frames (LlBackend *bb, LlTensor *out, LlTensor *qkv,
    guint32 F, guint32 P, guint32 H, guint32 D, float scale)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "attention_frames";
  if (!need (b, op, out, "out", LL_F32) || !need (b, op, qkv, "qkv", LL_F32)
      || !check_head_dim (b, op, D)
      || !check (b, op, qkv->cols == 3 * H * D && qkv->rows >= F * P
          && out->cols == H * D && out->rows >= F * P,
          "qkv %s [%u, %u], out %s [%u, %u] for F = %u, P = %u, H = %u, D = %u",
          qkv->name, qkv->rows, qkv->cols, out->name, out->rows, out->cols,
          F, P, H, D))
    return;
  if (F == 0 || P == 0 || H == 0)
    return;
  LlPcAttn pc = { .T = P, .H = H, .Hkv = H, .D = D, .F = F, .scale = scale };
  LlVkBind binds[] = {
    { buf (qkv), FALSE }, { NULL, FALSE }, { NULL, FALSE }, { buf (out), TRUE } };
  ll_vk_dispatch (b->rt, op, LL_SPV_attn_frames, D, binds, 4, &pc, sizeof pc,
      DIV_UP (P, 8 * LL_ATTN_QPL), F * H, 1);
}

static gboolean
check_kv (LlVkBackend *b, const char *op, LlTensor *qkv, LlTensor *kc,
    LlTensor *vc, guint32 T, guint32 H, guint32 Hkv, guint32 D, guint32 pos0)
{
  if (!need (b, op, qkv, "qkv", LL_F32) || !check_head_dim (b, op, D)
      || !check (b, op, kc && vc && (kc->dtype == LL_F32 || kc->dtype == LL_F16)
          && vc->dtype == kc->dtype, "KV cache must be f32 or f16, both alike")
      || !need (b, op, kc, "k cache", kc->dtype)
      || !need (b, op, vc, "v cache", vc->dtype)
      || !check (b, op, Hkv > 0 && H % Hkv == 0, "H = %u is not a multiple "
          "of Hkv = %u", H, Hkv))
    return FALSE;
  guint32 ctx = kc->rows / Hkv;
  return check (b, op, qkv->cols == (H + 2 * Hkv) * D && qkv->rows >= T
      && kc->cols == D && vc->cols == D && vc->rows == kc->rows
      && (guint64) pos0 + T <= ctx,
      "qkv %s [%u, %u], caches %s [%u, %u] / [%u, %u] for T = %u, H = %u, "
      "Hkv = %u, D = %u, pos0 = %u (context %u)", qkv->name, qkv->rows,
      qkv->cols, kc->name, kc->rows, kc->cols, vc->rows, vc->cols, T, H,
      Hkv, D, pos0, ctx);
}

static LlVkBuffer *
rope_table (LlVkBackend *b, float theta, guint32 D)
{
  for (guint i = 0; i < b->rope_tables->len; i++) {
    LlVkRopeTable *t = &g_array_index (b->rope_tables, LlVkRopeTable, i);
    if (t->theta == theta && t->D == D)
      return &t->buf;
  }
  LlVkRopeTable t = { .theta = theta, .D = D };
  GError *err = NULL;
  if (!ll_vk_buffer_init (b->d, &t.buf, D / 2 * sizeof (float),
          LL_VK_MEM_STAGING, "the RoPE frequency table", &err)) {
    ll_vk_runtime_fail (b->rt, err);
    return NULL;
  }
  float *f = t.buf.map;
  for (guint32 i = 0; i < D / 2; i++)
    f[i] = 1.0f / powf (theta, (float) (2 * i) / (float) D);
  g_array_append_val (b->rope_tables, t);
  return &g_array_index (b->rope_tables, LlVkRopeTable,
      b->rope_tables->len - 1).buf;
}

void
ll_vk_rope_kv (LlBackend *bb, LlTensor *qkv, LlTensor *kc, LlTensor *vc,
    guint32 T, guint32 H, guint32 Hkv, guint32 D, guint32 pos0, float theta)
{
  LlVkBackend *b = VKB (bb);
  if (!check_kv (b, "rope_kv", qkv, kc, vc, T, H, Hkv, D, pos0) || T == 0)
    return;
  LlPcAttn pc = { .T = T, .H = H, .Hkv = Hkv, .D = D, .pos0 = pos0,
    .ctx = kc->rows / Hkv, .ld_kv = VKT (kc)->ld, .theta = theta };
  LlVkBuffer *freq = rope_table (b, theta, D);
  if (!freq)
    return;
  LlVkBind binds[] = {
    { buf (qkv), TRUE }, { buf (kc), TRUE }, { buf (vc), TRUE },
    { freq, FALSE } };
  ll_vk_dispatch (b->rt, "rope_kv", kc->dtype == LL_F16 ? LL_SPV_rope_kv_f16
      : LL_SPV_rope_kv_f32, 0, binds, 4, &pc, sizeof pc,
      DIV_UP (T * (H + 2 * Hkv), 32), 1, 1);
}

/* Few query slots per kv head (decode): attention.comp would give each kv
 * head one workgroup with T*G of its 8 lanes busy.  Split the keys instead
 * (split-KV): 256 keys per workgroup, 32 per lane, then merge.  Returns
 * FALSE (nothing recorded) when the partials would not fit one binding. */
#define ATTN_SPLIT_KEYS 256u

static gboolean
attention_split (LlVkBackend *b, LlTensor *out, LlTensor *qkv, LlTensor *kc,
    LlTensor *vc, guint32 T, guint32 H, guint32 Hkv, guint32 D, guint32 pos0,
    float scale)
{
  guint32 n_splits = DIV_UP (pos0 + T, ATTN_SPLIT_KEYS);
  guint64 bytes = (guint64) T * H * n_splits * LL_ATTN_SPLIT_LANES * (D + 2) * 4;
  if (bytes > b->d->caps.max_storage_buffer_range)
    return FALSE;
  if (b->attn_partials.size < bytes) {
    /* recorded work may still use the old buffer */
    ll_vk_runtime_flush (b->rt);
    ll_vk_buffer_clear (b->d, &b->attn_partials);
    GError *err = NULL;
    guint64 size = MIN (MAX (bytes, 1u << 20), b->d->caps.max_storage_buffer_range);
    if (!ll_vk_buffer_init (b->d, &b->attn_partials, size,
            LL_VK_MEM_DEVICE, "the attention partials", &err)) {
      ll_vk_runtime_fail (b->rt, err);
      return TRUE;
    }
  }
  LlPcAttnSplit pc = { .T = T, .H = H, .Hkv = Hkv, .D = D, .pos0 = pos0,
    .ctx = kc->rows / Hkv, .ld_kv = VKT (kc)->ld, .split = ATTN_SPLIT_KEYS,
    .n_splits = n_splits, .scale = scale };
  LlVkBind split_binds[] = {
    { buf (qkv), FALSE }, { buf (kc), FALSE }, { buf (vc), FALSE },
    { &b->attn_partials, TRUE } };
  ll_vk_dispatch (b->rt, "attention_causal", kc->dtype == LL_F16
      ? LL_SPV_attn_split_f16 : LL_SPV_attn_split_f32, D, split_binds, 4,
      &pc, sizeof pc, n_splits, T * H, 1);
  LlVkBind combine_binds[] = {
    { &b->attn_partials, FALSE }, { buf (out), TRUE } };
  ll_vk_dispatch (b->rt, "attention_causal", LL_SPV_attn_combine, 0,
      combine_binds, 2, &pc, sizeof pc, T * H, 1, 1);
  return TRUE;
}

void
ll_vk_attention_causal (LlBackend *bb, LlTensor *out, LlTensor *qkv,
    LlTensor *kc, LlTensor *vc, guint32 T, guint32 H, guint32 Hkv,
    guint32 D, guint32 pos0, float scale)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "attention_causal";
  if (!check_kv (b, op, qkv, kc, vc, T, H, Hkv, D, pos0)
      || !need (b, op, out, "out", LL_F32)
      || !check (b, op, out->cols == H * D && out->rows >= T,
          "out %s [%u, %u] for T = %u, H×D = %u", out->name, out->rows,
          out->cols, T, H * D))
    return;
  if (T == 0)
    return;
  if (T * (H / Hkv) < 8 && attention_split (b, out, qkv, kc, vc, T, H, Hkv, D,
          pos0, scale))
    return;
  LlPcAttn pc = { .T = T, .H = H, .Hkv = Hkv, .D = D, .pos0 = pos0,
    .ctx = kc->rows / Hkv, .ld_kv = VKT (kc)->ld, .scale = scale };
  LlVkBind binds[] = {
    { buf (qkv), FALSE }, { buf (kc), FALSE }, { buf (vc), FALSE },
    { buf (out), TRUE } };
  ll_vk_dispatch (b->rt, op, kc->dtype == LL_F16 ? LL_SPV_attn_causal_f16
      : LL_SPV_attn_causal_f32, D, binds, 4, &pc, sizeof pc,
      DIV_UP (T * (H / Hkv), 8 * LL_ATTN_QPL), Hkv, 1);
}

/* One dispatch per table chunk: out[t, :] = table[ids[t], :] for t < T,
 * `ids` and `out` single buffers (ids [>=T] i32, out [>=T, C] f32). */
static void
embed_dispatch (LlVkBackend *b, LlVkBuffer *out, LlTensor *table,
    LlVkBuffer *ids, guint32 T)
{
  static const LlSpvId ids_by_type[] = { LL_SPV_embed_f32, LL_SPV_embed_f16, LL_SPV_embed_q8 };
  LlVkTensor *tt = VKT (table);
  guint32 gy, gz;
  rows_grid (T, &gy, &gz);
  for (guint32 c = 0; c < tt->n_chunks; c++) {
    LlPcEmbed pc = { .T = T, .C = table->cols, .r0 = c * tt->chunk_rows,
      .nrows = ll_vk_chunk_nrows (tt, c), .ld = tt->ld,
      .total_rows = table->rows, .zero_invalid = c == 0 };
    LlVkBind binds[] = {
      { ids, FALSE }, { &tt->chunks[c], FALSE }, { out, TRUE } };
    ll_vk_dispatch (b->rt, "embed_rows",
        ids_by_type[weight_index (table->dtype)], 0, binds, 3, &pc,
        sizeof pc, DIV_UP (table->cols, 64), gy, gz);
  }
}

void
ll_vk_embed_rows (LlBackend *bb, LlTensor *out, LlTensor *table,
    LlTensor *ids, guint32 T)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "embed_rows";
  if (!need_chunked (b, op, out, "out", LL_F32)
      || !need (b, op, ids, "ids", LL_I32)
      || !check (b, op, table && weight_index (table->dtype) >= 0,
          "table must be f32, f16 or q8_0")
      || !check (b, op, out->cols == table->cols && out->rows >= T
          && (guint64) ids->rows * ids->cols >= T,
          "out %s [%u, %u], table %s [%u, %u], ids %s [%u, %u], T = %u",
          out->name, out->rows, out->cols, table->name, table->rows,
          table->cols, ids->name, ids->rows, ids->cols, T))
    return;
  if (T == 0)
    return;
  LlVkTensor *ot = VKT (out);
  if (ot->n_chunks == 1) {
    embed_dispatch (b, &ot->chunks[0], table, buf (ids), T);
    return;
  }
  /* A split output (inputs_embeds [ctx, d] at 7B widths): the kernel
   * indexes ids and out from t = 0 and descriptors bind whole buffers, so
   * each output chunk's ids [t0, t0+nt) are first copied to the start of a
   * scratch buffer (re-used: the runtime puts a barrier between one chunk's
   * dispatches and the next chunk's copy). */
  guint64 need_bytes = (guint64) MIN (T, ot->chunk_rows) * 4;
  if (b->ids_scratch.size < need_bytes) {
    /* recorded work may still use the old buffer */
    ll_vk_runtime_flush (b->rt);
    ll_vk_buffer_clear (b->d, &b->ids_scratch);
    GError *err = NULL;
    if (!ll_vk_buffer_init (b->d, &b->ids_scratch,
            MAX ((guint64) ot->chunk_rows * 4, 4096), LL_VK_MEM_DEVICE,
            "the embed_rows ids scratch", &err)) {
      ll_vk_runtime_fail (b->rt, err);
      return;
    }
  }
  for (guint32 c = 0; c < ot->n_chunks; c++) {
    guint32 t0 = c * ot->chunk_rows;
    if (t0 >= T)
      break;
    guint32 nt = MIN (T - t0, ll_vk_chunk_nrows (ot, c));
    ll_vk_copy (b->rt, &b->ids_scratch, 0, buf (ids), (VkDeviceSize) t0 * 4,
        (VkDeviceSize) nt * 4);
    embed_dispatch (b, &ot->chunks[c], table, &b->ids_scratch, nt);
  }
}

void
ll_vk_copy_rows (LlBackend *bb, LlTensor *dst, guint32 dst_row0,
    LlTensor *src, guint32 src_row0, guint32 n)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "copy_rows";
  if (!need_chunked (b, op, dst, "dst", LL_F32)
      || !need_chunked (b, op, src, "src", LL_F32)
      || !check (b, op, dst->cols == src->cols
          && (guint64) dst_row0 + n <= dst->rows
          && (guint64) src_row0 + n <= src->rows,
          "dst %s [%u, %u] rows %u.., src %s [%u, %u] rows %u.., n = %u",
          dst->name, dst->rows, dst->cols, dst_row0, src->name, src->rows,
          src->cols, src_row0, n)
      || !check (b, op, dst != src || dst_row0 >= src_row0 + n
          || src_row0 >= dst_row0 + n, "overlapping rows of %s", dst->name))
    return;
  /* One dispatch per run of rows that stays inside one chunk of each side
   * (a single dispatch when neither is split).  Offsets are in elements of
   * that chunk (< maxStorageBufferRange / 4, so they fit 32 bits). */
  LlVkTensor *dt = VKT (dst), *st = VKT (src);
  for (guint32 i = 0; i < n;) {
    guint32 dr = dst_row0 + i, sr = src_row0 + i;
    guint32 dc = dr / dt->chunk_rows, sc = sr / st->chunk_rows;
    guint32 dl = dr - dc * dt->chunk_rows, sl = sr - sc * st->chunk_rows;
    guint32 m = MIN (n - i, MIN (ll_vk_chunk_nrows (dt, dc) - dl,
            ll_vk_chunk_nrows (st, sc) - sl));
    LlPcRows pc = { .rows = m, .cols = dst->cols, .a = dl * dst->cols,
      .b = sl * src->cols };
    LlVkBind binds[] = {
      { &dt->chunks[dc], TRUE }, { &st->chunks[sc], FALSE } };
    guint32 gy, gz;
    rows_grid (m, &gy, &gz);
    ll_vk_dispatch (b->rt, op, LL_SPV_copy_rows, 0, binds, 2, &pc, sizeof pc,
        DIV_UP (dst->cols, 64), gy, gz);
    i += m;
  }
}

void
ll_vk_argmax (LlBackend *bb, LlTensor *ids, guint32 index, LlTensor *logits,
    guint32 n_valid)
{
  LlVkBackend *b = VKB (bb);
  const char *op = "argmax";
  if (!need (b, op, ids, "ids", LL_I32) || !need (b, op, logits, "logits", LL_F32)
      || !check (b, op, n_valid >= 1 && n_valid <= logits->cols
          && (guint64) ids->rows * ids->cols > index,
          "logits %s [%u, %u], n_valid = %u, ids %s [%u, %u], index %u",
          logits->name, logits->rows, logits->cols, n_valid, ids->name,
          ids->rows, ids->cols, index))
    return;
  LlPcArgmax pc = { .n = n_valid, .index = index };
  LlVkBind binds[] = { { buf (logits), FALSE }, { buf (ids), TRUE } };
  ll_vk_dispatch (b->rt, op, LL_SPV_argmax, 0, binds, 2, &pc, sizeof pc, 1, 1, 1);
}
