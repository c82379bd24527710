/* test-vk-ops.c — each Vulkan op against the reference backend (engine/ref).
 *
 * Same inputs (and the same quantised weights) go to both backends; the
 * outputs are compared by normalised MSE  nmse = Σ(a−b)² / Σb²  with b the
 * reference, against the per-op limits below.  Every op test runs for both
 * kernel flavours (/vk/cpu/... and /vk/gpu/...; GPU style also runs on
 * lavapipe, just slower).  Shapes are deliberately off every grid: K not a
 * multiple of 8 or 32, N not a multiple of 4, M / T = 1, 7, 33, 729, head
 * dims 64 and 72, positions past 4096, grouped-query heads.
 */
#include "backend.h"
#include "vk/vk_backend.h"

#include <math.h>
#include <string.h>

/* nmse limits, about 100x above what lavapipe measures, so a GPU with
 * other exp / tanh / FMA rounding passes too.  The reference accumulates in
 * double, the kernels in fp32. */
#define NMSE_EXACT 0.0          /* pure data movement, dequantisation: bit-identical */
#define NMSE_MATMUL 1e-10       /* fp32 dot products, K <= 1024, same weights (~5e-14) */
#define NMSE_NORM 1e-11         /* fp32 row statistics (~6e-14) */
#define NMSE_ELEMENTWISE 1e-11  /* silu: exp in fp32 (~3e-15) */
#define NMSE_ROPE 1e-12         /* same fp32 angles, device sin / cos (~2e-15) */
#define NMSE_ATTENTION 1e-10    /* streaming fp32 softmax vs two-pass double (~2e-12) */
#define NMSE_ATTENTION_F16KV 1e-10 /* same, f16 cache rows (rounded alike) */

typedef struct {
  LlBackend *ref;
  LlBackend *vk;
  LlVkKernels kernels;
  GRand *rng;
} Fx;

typedef struct {
  LlTensor *r, *v;              /* same tensor in the reference / Vulkan */
} Pair;

static float *
rnd (Fx *fx, gsize n, float scale)
{
  float *x = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (fx->rng, -scale, scale);
  return x;
}

static LlTensor *
new_tensor (LlBackend *b, LlDType dt, guint32 rows, guint32 cols,
    const char *name)
{
  GError *err = NULL;
  LlTensor *t = b->ops->tensor_new (b, dt, rows, cols, name, &err);
  g_assert_no_error (err);
  return t;
}

static void
upload (LlBackend *b, LlTensor *t, const void *data)
{
  GError *err = NULL;
  g_assert_true (b->ops->upload (b, t, 0, t->rows, data, &err));
  g_assert_no_error (err);
}

/* A tensor in both backends holding `data` (f32 values converted to dtype
 * once, so both get the very same bytes), or uninitialised if NULL. */
static Pair
pair_new (Fx *fx, LlBackend *vk, LlDType dt, guint32 rows, guint32 cols,
    const float *data, const char *name)
{
  Pair p = { new_tensor (fx->ref, dt, rows, cols, name),
    new_tensor (vk, dt, rows, cols, name) };
  if (data) {
    void *host = dt == LL_I32 ? g_memdup2 (data, (gsize) rows * cols * 4)
        : ll_convert_from_f32 (dt, data, rows, cols);
    upload (fx->ref, p.r, host);
    upload (vk, p.v, host);
    g_free (host);
  }
  return p;
}

static Pair
pair_rnd (Fx *fx, LlDType dt, guint32 rows, guint32 cols, float scale,
    const char *name)
{
  float *x = rnd (fx, (gsize) rows * cols, scale);
  Pair p = pair_new (fx, fx->vk, dt, rows, cols, x, name);
  g_free (x);
  return p;
}

static void
pair_free (Fx *fx, LlBackend *vk, Pair p)
{
  fx->ref->ops->tensor_free (fx->ref, p.r);
  vk->ops->tensor_free (vk, p.v);
}

static float *
download (LlBackend *b, LlTensor *t, guint32 rows)
{
  GError *err = NULL;
  float *x = g_new (float, (gsize) rows * t->cols);
  g_assert_true (b->ops->download (b, t, 0, rows, x, &err));
  g_assert_no_error (err);
  return x;
}

static double
nmse (const float *a, const float *b, gsize n)
{
  double num = 0.0, den = 0.0;
  for (gsize i = 0; i < n; i++) {
    g_assert_true (isfinite (a[i]));
    num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
    den += (double) b[i] * b[i];
  }
  return den > 0.0 ? num / den : num;
}

/* Compares the first `rows` rows of p (f32) and asserts nmse <= limit. */
static void
expect_close (Fx *fx, LlBackend *vk, Pair p, guint32 rows, double limit,
    const char *what)
{
  GError *err = NULL;
  g_assert_true (vk->ops->sync (vk, &err));
  g_assert_no_error (err);
  float *a = download (vk, p.v, rows), *b = download (fx->ref, p.r, rows);
  double e = nmse (a, b, (gsize) rows * p.r->cols);
  g_test_message ("%s: nmse %.3g (limit %.3g)", what, e, limit);
  if (!(e <= limit))
    g_error ("%s: nmse %.3g exceeds %.3g (first values %g vs %g)", what, e,
        limit, a[0], b[0]);
  g_free (a);
  g_free (b);
}

/* ---------------------------------------------------------------- */

static void
test_matmul (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  /* M, K, N: K = 101 and 6 are odd for every vector width (scalar x loads,
   * a K tail after the 8-wide loop, q8_0 padding), K = 1000 has a tail of 0
   * for 8 but not for 32; N never a multiple of 4, 8 or 64 */
  static const guint32 shapes[][3] = {
    { 1, 101, 37 }, { 7, 72, 41 }, { 33, 1000, 67 }, { 1, 1024, 129 },
    { 729, 40, 23 }, { 9, 6, 11 }, { 7, 101, 5 },
  };
  static const LlDType dts[] = { LL_F32, LL_F16, LL_Q8_0 };
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
      guint32 M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
      LlAct act = (LlAct) ((s + d) % 3);
      gboolean use_bias = (s % 2) == 0, aliased = s == 2, use_res = s != 1;
      Pair x = pair_rnd (fx, LL_F32, M + 2, K, 1.0f, "x");
      Pair w = pair_rnd (fx, dts[d], N, K, 0.2f, "w");
      Pair bias = pair_rnd (fx, LL_F32, 1, N, 0.5f, "bias");
      Pair res = pair_rnd (fx, LL_F32, M, N, 1.0f, "res");
      Pair out = aliased ? res : pair_rnd (fx, LL_F32, M + 1, N, 1.0f, "out");
      fx->ref->ops->matmul (fx->ref, out.r, x.r, w.r, use_bias ? bias.r : NULL,
          use_res ? res.r : NULL, act, M);
      fx->vk->ops->matmul (fx->vk, out.v, x.v, w.v, use_bias ? bias.v : NULL,
          use_res ? res.v : NULL, act, M);
      char *what = g_strdup_printf ("matmul %s M=%u K=%u N=%u act=%d bias=%d "
          "res=%d%s", ll_dtype_name (dts[d]), M, K, N, act, use_bias, use_res,
          aliased ? " (res == out)" : "");
      expect_close (fx, fx->vk, out, M, NMSE_MATMUL, what);
      g_free (what);
      if (!aliased)
        pair_free (fx, fx->vk, out);
      pair_free (fx, fx->vk, x);
      pair_free (fx, fx->vk, w);
      pair_free (fx, fx->vk, bias);
      pair_free (fx, fx->vk, res);
    }
}

static void
test_norms (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  static const guint32 shapes[][2] = { { 1, 100 }, { 7, 1152 }, { 729, 1024 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    guint32 M = shapes[s][0], C = shapes[s][1];
    gboolean in_place = s == 1;
    Pair x = pair_rnd (fx, LL_F32, M, C, 3.0f, "x");
    Pair w = pair_rnd (fx, LL_F32, 1, C, 1.0f, "w");
    Pair bias = pair_rnd (fx, LL_F32, 1, C, 1.0f, "b");
    Pair ln = in_place ? x : pair_new (fx, fx->vk, LL_F32, M, C, NULL, "ln");
    Pair rms = pair_new (fx, fx->vk, LL_F32, M, C, NULL, "rms");
    char *what;

    fx->ref->ops->rmsnorm (fx->ref, rms.r, x.r, w.r, 1e-6f, M);
    fx->vk->ops->rmsnorm (fx->vk, rms.v, x.v, w.v, 1e-6f, M);
    what = g_strdup_printf ("rmsnorm M=%u C=%u", M, C);
    expect_close (fx, fx->vk, rms, M, NMSE_NORM, what);
    g_free (what);

    fx->ref->ops->layernorm (fx->ref, ln.r, x.r, w.r, s == 2 ? NULL : bias.r,
        1e-6f, M);
    fx->vk->ops->layernorm (fx->vk, ln.v, x.v, w.v, s == 2 ? NULL : bias.v,
        1e-6f, M);
    what = g_strdup_printf ("layernorm M=%u C=%u%s%s", M, C,
        s == 2 ? " no bias" : "", in_place ? " in place" : "");
    expect_close (fx, fx->vk, ln, M, NMSE_NORM, what);
    g_free (what);

    if (!in_place)
      pair_free (fx, fx->vk, ln);
    pair_free (fx, fx->vk, rms);
    pair_free (fx, fx->vk, x);
    pair_free (fx, fx->vk, w);
    pair_free (fx, fx->vk, bias);
  }
}

static void
test_elementwise (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  /* silu_mul: gu [7, 2*101] */
  Pair gu = pair_rnd (fx, LL_F32, 9, 202, 6.0f, "gu");
  Pair out = pair_new (fx, fx->vk, LL_F32, 7, 101, NULL, "silu");
  fx->ref->ops->silu_mul (fx->ref, out.r, gu.r, 7);
  fx->vk->ops->silu_mul (fx->vk, out.v, gu.v, 7);
  expect_close (fx, fx->vk, out, 7, NMSE_ELEMENTWISE, "silu_mul M=7 N=101");

  /* add_rows: 13 rows += a table of 5 rows (r % 5) */
  Pair acc = pair_rnd (fx, LL_F32, 15, 101, 1.0f, "acc");
  Pair add = pair_rnd (fx, LL_F32, 5, 101, 1.0f, "pos");
  fx->ref->ops->add_rows (fx->ref, acc.r, add.r, 13);
  fx->vk->ops->add_rows (fx->vk, acc.v, add.v, 13);
  expect_close (fx, fx->vk, acc, 15, NMSE_EXACT, "add_rows M=13 of 5");

  /* copy_rows: rows 3..9 of acc into rows 1..7 of out2 */
  Pair dst = pair_rnd (fx, LL_F32, 10, 101, 1.0f, "dst");
  fx->ref->ops->copy_rows (fx->ref, dst.r, 1, acc.r, 3, 7);
  fx->vk->ops->copy_rows (fx->vk, dst.v, 1, acc.v, 3, 7);
  expect_close (fx, fx->vk, dst, 10, NMSE_EXACT, "copy_rows");

  /* im2col: 2 frames of 3×30×30, patch 14 → g = 2 (floor), [8, 588] */
  Pair px = pair_rnd (fx, LL_F32, 2 * 3 * 30, 30, 1.0f, "pixels");
  Pair cols = pair_new (fx, fx->vk, LL_F32, 8, 588, NULL, "patches");
  fx->ref->ops->im2col (fx->ref, cols.r, px.r, 2, 30, 14);
  fx->vk->ops->im2col (fx->vk, cols.v, px.v, 2, 30, 14);
  expect_close (fx, fx->vk, cols, 8, NMSE_EXACT, "im2col F=2 S=30 p=14");

  Pair all[] = { gu, out, acc, add, dst, px, cols };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    pair_free (fx, fx->vk, all[i]);
}

static void
test_attention_frames (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  static const guint32 cfg[][4] = {     /* F, P, H, D */
    { 2, 7, 3, 64 }, { 1, 33, 2, 72 }, { 3, 1, 2, 64 }, { 1, 729, 2, 72 },
    { 2, 9, 2, 70 },            /* head dim not a multiple of 4 */
  };
  for (guint c = 0; c < G_N_ELEMENTS (cfg); c++) {
    guint32 F = cfg[c][0], P = cfg[c][1], H = cfg[c][2], D = cfg[c][3];
    Pair qkv = pair_rnd (fx, LL_F32, F * P, 3 * H * D, 2.0f, "qkv");
    Pair out = pair_new (fx, fx->vk, LL_F32, F * P, H * D, NULL, "attn");
    float scale = 1.0f / sqrtf ((float) D);
    fx->ref->ops->attention_frames (fx->ref, out.r, qkv.r, F, P, H, D, scale);
    fx->vk->ops->attention_frames (fx->vk, out.v, qkv.v, F, P, H, D, scale);
    char *what = g_strdup_printf ("attention_frames F=%u P=%u H=%u D=%u", F,
        P, H, D);
    expect_close (fx, fx->vk, out, F * P, NMSE_ATTENTION, what);
    g_free (what);
    pair_free (fx, fx->vk, qkv);
    pair_free (fx, fx->vk, out);
  }
}

/* rope_kv then attention_causal over a cache pre-filled with random rows
 * (positions < pos0 stand for earlier tokens). */
static void
rope_attention_case (Fx *fx, LlDType kv_dt, guint32 T, guint32 H,
    guint32 Hkv, guint32 D, guint32 pos0)
{
  guint32 ctx = pos0 + T + 3;
  float theta = 1e6f;
  Pair qkv = pair_rnd (fx, LL_F32, T, (H + 2 * Hkv) * D, 1.5f, "qkv");
  Pair kc = pair_rnd (fx, kv_dt, Hkv * ctx, D, 1.5f, "k_cache");
  Pair vc = pair_rnd (fx, kv_dt, Hkv * ctx, D, 1.5f, "v_cache");
  Pair out = pair_new (fx, fx->vk, LL_F32, T, H * D, NULL, "attn");
  char *what;

  fx->ref->ops->rope_kv (fx->ref, qkv.r, kc.r, vc.r, T, H, Hkv, D, pos0, theta);
  fx->vk->ops->rope_kv (fx->vk, qkv.v, kc.v, vc.v, T, H, Hkv, D, pos0, theta);
  what = g_strdup_printf ("rope_kv q T=%u H=%u Hkv=%u D=%u pos0=%u %s", T, H,
      Hkv, D, pos0, ll_dtype_name (kv_dt));
  expect_close (fx, fx->vk, qkv, T, NMSE_ROPE, what);
  g_free (what);
  if (kv_dt == LL_F32) {        /* f16 caches cannot be downloaded */
    expect_close (fx, fx->vk, kc, Hkv * ctx, NMSE_ROPE, "rope_kv k cache");
    expect_close (fx, fx->vk, vc, Hkv * ctx, NMSE_EXACT, "rope_kv v cache");
  }

  float scale = 1.0f / sqrtf ((float) D);
  fx->ref->ops->attention_causal (fx->ref, out.r, qkv.r, kc.r, vc.r, T, H,
      Hkv, D, pos0, scale);
  fx->vk->ops->attention_causal (fx->vk, out.v, qkv.v, kc.v, vc.v, T, H, Hkv,
      D, pos0, scale);
  what = g_strdup_printf ("attention_causal T=%u H=%u Hkv=%u D=%u pos0=%u %s",
      T, H, Hkv, D, pos0, ll_dtype_name (kv_dt));
  expect_close (fx, fx->vk, out, T, kv_dt == LL_F16 ? NMSE_ATTENTION_F16KV
      : NMSE_ATTENTION, what);
  g_free (what);

  pair_free (fx, fx->vk, qkv);
  pair_free (fx, fx->vk, kc);
  pair_free (fx, fx->vk, vc);
  pair_free (fx, fx->vk, out);
}

static void
test_rope_attention (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  rope_attention_case (fx, LL_F32, 7, 4, 2, 64, 4100);     /* GQA, past 4096 */
  rope_attention_case (fx, LL_F16, 7, 4, 2, 64, 4100);
  /* few query slots per kv head take the split-KV path */
  rope_attention_case (fx, LL_F16, 1, 14, 2, 64, 4107);    /* GQA decode */
  rope_attention_case (fx, LL_F16, 1, 16, 16, 64, 4100);   /* Qwen1.5 decode */
  rope_attention_case (fx, LL_F32, 3, 2, 2, 72, 300);      /* splits × mask */
  rope_attention_case (fx, LL_F32, 1, 2, 1, 64, 0);        /* one key */
  rope_attention_case (fx, LL_F32, 33, 2, 1, 72, 0);       /* prefill from 0 */
  rope_attention_case (fx, LL_F16, 29, 3, 3, 72, 5);       /* MHA, head dim 72 */
  rope_attention_case (fx, LL_F32, 9, 2, 1, 70, 20);       /* D % 4 != 0 */
  rope_attention_case (fx, LL_F16, 9, 2, 1, 70, 20);
  rope_attention_case (fx, LL_F16, 1, 2, 2, 70, 600);      /* split, D % 4 != 0 */
}

static void
test_embed_rows (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  static const LlDType dts[] = { LL_F32, LL_F16, LL_Q8_0 };
  float ids_f[7];
  gint32 ids[7] = { 3, 0, 49, 3, 17, 48, 1 };
  memcpy (ids_f, ids, sizeof ids);
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++) {
    Pair table = pair_rnd (fx, dts[d], 50, 100, 1.0f, "table");
    Pair id = pair_new (fx, fx->vk, LL_I32, 7, 1, ids_f, "ids");
    Pair out = pair_new (fx, fx->vk, LL_F32, 8, 100, NULL, "emb");
    fx->ref->ops->embed_rows (fx->ref, out.r, table.r, id.r, 7);
    fx->vk->ops->embed_rows (fx->vk, out.v, table.v, id.v, 7);
    char *what = g_strdup_printf ("embed_rows %s", ll_dtype_name (dts[d]));
    expect_close (fx, fx->vk, out, 7, NMSE_EXACT, what);
    g_free (what);
    pair_free (fx, fx->vk, table);
    pair_free (fx, fx->vk, id);
    pair_free (fx, fx->vk, out);
  }

  /* ids outside the table give zero rows (the reference refuses them) */
  gint32 bad[3] = { -1, 50, 2 };
  LlBackend *vk = fx->vk;
  float *td = rnd (fx, 50 * 9, 1.0f);
  LlTensor *table = new_tensor (vk, LL_F32, 50, 9, "table");
  LlTensor *id = new_tensor (vk, LL_I32, 3, 1, "ids");
  LlTensor *out = new_tensor (vk, LL_F32, 3, 9, "emb");
  upload (vk, table, td);
  upload (vk, id, bad);
  vk->ops->embed_rows (vk, out, table, id, 3);
  float *o = download (vk, out, 3);
  for (guint c = 0; c < 9; c++) {
    g_assert_cmpfloat (o[c], ==, 0.0f);
    g_assert_cmpfloat (o[9 + c], ==, 0.0f);
    g_assert_cmpfloat (o[18 + c], ==, td[2 * 9 + c]);
  }
  g_free (o);
  g_free (td);
  vk->ops->tensor_free (vk, table);
  vk->ops->tensor_free (vk, id);
  vk->ops->tensor_free (vk, out);
}

/* More weight rows than one grid dimension holds (65535 workgroups): the
 * GPU-style GEMV maps rows onto x and y. */
static void
test_gemv_many_rows (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  Pair w = pair_rnd (fx, LL_F16, 70001, 24, 0.5f, "w_tall");
  Pair x = pair_rnd (fx, LL_F32, 1, 24, 1.0f, "x");
  Pair out = pair_new (fx, fx->vk, LL_F32, 1, 70001, NULL, "out");
  fx->ref->ops->matmul (fx->ref, out.r, x.r, w.r, NULL, NULL, LL_ACT_NONE, 1);
  fx->vk->ops->matmul (fx->vk, out.v, x.v, w.v, NULL, NULL, LL_ACT_NONE, 1);
  expect_close (fx, fx->vk, out, 1, NMSE_MATMUL, "gemv 70001x24 f16");
  pair_free (fx, fx->vk, w);
  pair_free (fx, fx->vk, x);
  pair_free (fx, fx->vk, out);
}

static gint32
argmax_of (Fx *fx, LlBackend *b, Pair logits, Pair ids, guint32 index,
    guint32 n_valid)
{
  GError *err = NULL;
  gint32 out[4];
  LlTensor *l = b == fx->ref ? logits.r : logits.v;
  LlTensor *i = b == fx->ref ? ids.r : ids.v;
  g_assert_cmpuint (i->rows, <=, 4);
  b->ops->argmax (b, i, index, l, n_valid);
  g_assert_true (b->ops->download (b, i, 0, i->rows, out, &err));
  g_assert_no_error (err);
  return out[index];
}

static void
test_argmax (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  const guint32 n = 152000;
  float *l = rnd (fx, n, 10.0f);
  l[1000] = l[90000] = 20.0f;   /* tie: the first wins */
  l[151000] = 30.0f;            /* beyond n_valid */
  l[7] = l[8] = 40.0f;          /* only inside a short prefix */
  float zeros[4] = { 0 };
  Pair logits = pair_new (fx, fx->vk, LL_F32, 1, n, l, "logits");
  Pair ids = pair_new (fx, fx->vk, LL_I32, 4, 1, zeros, "ids");
  struct { guint32 n_valid, index; gint32 want; } cases[] = {
    { 150000, 2, 7 }, { 7, 1, -1 }, { 151001, 0, 7 },
  };
  /* want -1: l[0..6] is random, only the reference decides */
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    gint32 want = argmax_of (fx, fx->ref, logits, ids, cases[c].index,
        cases[c].n_valid);
    gint32 got = argmax_of (fx, fx->vk, logits, ids, cases[c].index,
        cases[c].n_valid);
    g_test_message ("argmax n_valid=%u: %d (reference %d)", cases[c].n_valid,
        got, want);
    g_assert_cmpint (got, ==, want);
    if (cases[c].want >= 0)
      g_assert_cmpint (got, ==, cases[c].want);
  }
  /* the first of two equal maxima */
  l[7] = l[8] = 0.0f;
  pair_free (fx, fx->vk, logits);
  logits = pair_new (fx, fx->vk, LL_F32, 1, n, l, "logits");
  g_assert_cmpint (argmax_of (fx, fx->vk, logits, ids, 3, 150000), ==, 1000);
  g_assert_cmpint (argmax_of (fx, fx->ref, logits, ids, 3, 150000), ==, 1000);
  pair_free (fx, fx->vk, logits);
  pair_free (fx, fx->vk, ids);
  g_free (l);
}

/* Weights split in row chunks (binding limit lowered to 16 KiB): matmul and
 * embed_rows dispatch once per chunk; other ops refuse a split tensor with a
 * clear error from sync. */
static void
test_chunked_weights (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  GError *err = NULL;
  g_setenv ("LLAVA_VK_MAX_BINDING", "16384", TRUE);
  LlBackend *vk = ll_backend_vulkan_new_full (-1, fx->kernels, &err);
  g_unsetenv ("LLAVA_VK_MAX_BINDING");
  g_assert_no_error (err);
  g_assert_cmpuint (ll_backend_vulkan_max_binding (vk), ==, 16384);

  static const LlDType dts[] = { LL_F32, LL_F16, LL_Q8_0 };
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++) {
    /* [300, 100]: 40 (f32) / 80 (f16) / 128 (q8_0) rows per chunk */
    float *wd = rnd (fx, 300 * 100, 0.3f);
    Pair w = pair_new (fx, vk, dts[d], 300, 100, wd, "w_chunked");
    g_free (wd);
    for (guint32 M = 1; M <= 7; M += 6) {
      float *xd = rnd (fx, M * 100, 1.0f);
      Pair x = pair_new (fx, vk, LL_F32, M, 100, xd, "x");
      g_free (xd);
      Pair bias = pair_new (fx, vk, LL_F32, 1, 300, NULL, "bias");
      float *bd = rnd (fx, 300, 1.0f);
      upload (fx->ref, bias.r, bd);
      upload (vk, bias.v, bd);
      g_free (bd);
      Pair out = pair_new (fx, vk, LL_F32, M, 300, NULL, "out");
      fx->ref->ops->matmul (fx->ref, out.r, x.r, w.r, bias.r, NULL,
          LL_ACT_NONE, M);
      vk->ops->matmul (vk, out.v, x.v, w.v, bias.v, NULL, LL_ACT_NONE, M);
      char *what = g_strdup_printf ("chunked matmul %s M=%u",
          ll_dtype_name (dts[d]), M);
      expect_close (fx, vk, out, M, NMSE_MATMUL, what);
      g_free (what);
      pair_free (fx, vk, x);
      pair_free (fx, vk, bias);
      pair_free (fx, vk, out);
    }
    gint32 ids[5] = { 0, 299, 40, 128, 81 };
    Pair id = pair_new (fx, vk, LL_I32, 5, 1, (float *) ids, "ids");
    Pair emb = pair_new (fx, vk, LL_F32, 5, 100, NULL, "emb");
    fx->ref->ops->embed_rows (fx->ref, emb.r, w.r, id.r, 5);
    vk->ops->embed_rows (vk, emb.v, w.v, id.v, 5);
    expect_close (fx, vk, emb, 5, NMSE_EXACT, "chunked embed_rows");
    pair_free (fx, vk, id);
    pair_free (fx, vk, emb);
    pair_free (fx, vk, w);
  }

  /* an activation split in chunks is refused by ops that need one binding */
  LlTensor *big = new_tensor (vk, LL_F32, 300, 100, "big_activation");
  LlTensor *nw = new_tensor (vk, LL_F32, 1, 100, "norm_w");
  vk->ops->rmsnorm (vk, big, big, nw, 1e-6f, 300);
  g_assert_false (vk->ops->sync (vk, &err));
  g_assert_error (err, g_quark_from_static_string ("llava-error-quark"),
      err->code);
  g_assert_nonnull (strstr (err->message, "big_activation"));
  g_assert_nonnull (strstr (err->message, "maxStorageBufferRange"));
  g_test_message ("expected error: %s", err->message);
  g_clear_error (&err);
  /* and the backend keeps working */
  g_assert_true (vk->ops->sync (vk, &err));
  vk->ops->tensor_free (vk, big);
  vk->ops->tensor_free (vk, nw);
  ll_backend_free (vk);
}

/* Number of row chunks of a Vulkan tensor (via its placement). */
static guint
n_chunks (LlBackend *vk, LlTensor *t)
{
  guint64 off, size;
  guint c = 0;
  while (ll_backend_vulkan_tensor_placement (vk, t, c, &off, &size))
    c++;
  return c;
}

/* Asserts that the Vulkan and reference copies of p hold the same bytes
 * (whole tensor, downloaded across every chunk border). */
static void
expect_same (Fx *fx, LlBackend *vk, Pair p, const char *what)
{
  GError *err = NULL;
  g_assert_true (vk->ops->sync (vk, &err));
  g_assert_no_error (err);
  float *a = download (vk, p.v, p.v->rows), *b = download (fx->ref, p.r,
      p.r->rows);
  gsize n = (gsize) p.r->rows * p.r->cols;
  for (gsize i = 0; i < n; i++)
    if (memcmp (&a[i], &b[i], 4) != 0)
      g_error ("%s: %s row %" G_GSIZE_FORMAT " col %" G_GSIZE_FORMAT
          ": %g, reference %g", what, p.r->name, i / p.r->cols,
          i % p.r->cols, a[i], b[i]);
  g_test_message ("%s: %s [%u, %u] (%u chunks) identical", what, p.r->name,
      p.r->rows, p.r->cols, n_chunks (vk, p.v));
  g_free (a);
  g_free (b);
}

/* Activations split in row chunks (the feature cache and inputs_embeds of
 * a 7B model exceed lavapipe's 128 MiB binding), forced here on small
 * tensors with a 16 KiB limit on this backend only: f32 rows of 100 values
 * are 400 bytes, 40 rows per chunk.  copy_rows between split and unsplit
 * tensors in both directions, at and across chunk borders (n = 1 too);
 * embed_rows into a split output from split and unsplit tables; uploads /
 * downloads of row ranges crossing borders.  All bit-identical to the
 * reference. */
static void
test_split_activations (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  GError *err = NULL;
  LlBackend *vk = ll_backend_vulkan_new_full (-1, fx->kernels, &err);
  g_assert_no_error (err);
  g_assert_false (ll_backend_vulkan_set_max_binding (vk, 100));
  g_assert_false (ll_backend_vulkan_set_max_binding (fx->ref, 16384));
  g_assert_true (ll_backend_vulkan_set_max_binding (vk, 16384));
  g_assert_cmpuint (ll_backend_vulkan_max_binding (vk), ==, 16384);
  /* never raised */
  g_assert_true (ll_backend_vulkan_set_max_binding (vk, 1 << 30));
  g_assert_cmpuint (ll_backend_vulkan_max_binding (vk), ==, 16384);
  /* the fixture's backend is not affected */
  g_assert_cmpuint (ll_backend_vulkan_max_binding (fx->vk), >, 16384);

  const guint32 C = 100;
  float *ad = rnd (fx, 300 * C, 1.0f), *bd = rnd (fx, 300 * C, 1.0f);
  float *sd = rnd (fx, 30 * C, 1.0f);
  Pair A = pair_new (fx, vk, LL_F32, 300, C, ad, "split_a");   /* 8 chunks */
  Pair B = pair_new (fx, vk, LL_F32, 300, C, bd, "split_b");
  Pair S = pair_new (fx, vk, LL_F32, 30, C, sd, "small");      /* 1 chunk */
  g_free (ad);
  g_free (bd);
  g_free (sd);
  g_assert_cmpuint (n_chunks (vk, A.v), ==, 8);
  g_assert_cmpuint (n_chunks (vk, S.v), ==, 1);

  /* { dst, dst_row0, src, src_row0, n } */
  struct { Pair *dst; guint32 d0; Pair *src; guint32 s0, n; } cases[] = {
    { &B, 35, &A, 78, 150 },    /* split → split, borders out of phase */
    { &B, 0, &A, 0, 300 },      /* whole tensor, borders in phase */
    { &A, 25, &S, 0, 30 },      /* unsplit → split across the 40 border */
    { &A, 39, &S, 7, 1 },       /* n = 1 on both sides of a border */
    { &A, 40, &S, 8, 1 },
    { &A, 280, &S, 10, 20 },    /* into the short last chunk */
    { &S, 0, &A, 38, 30 },      /* split → unsplit across a border */
    { &S, 29, &A, 40, 1 },
    { &S, 3, &B, 299, 1 },      /* last row */
    { &A, 150, &A, 10, 100 },   /* within one split tensor, no overlap */
    { &B, 7, &S, 0, 0 },        /* n = 0: nothing */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    fx->ref->ops->copy_rows (fx->ref, cases[i].dst->r, cases[i].d0,
        cases[i].src->r, cases[i].s0, cases[i].n);
    vk->ops->copy_rows (vk, cases[i].dst->v, cases[i].d0, cases[i].src->v,
        cases[i].s0, cases[i].n);
    /* every other case is checked after the next one is recorded too, so
     * that consecutive copies share a command buffer */
    if (i % 2 == 1 || i + 1 == G_N_ELEMENTS (cases)) {
      char *what = g_strdup_printf ("copy_rows case %u", i);
      expect_same (fx, vk, A, what);
      expect_same (fx, vk, B, what);
      expect_same (fx, vk, S, what);
      g_free (what);
    }
  }

  /* row ranges across borders: upload then download both ways */
  float part[7 * 100], back[7 * 100], want[7 * 100];
  for (guint i = 0; i < G_N_ELEMENTS (part); i++)
    part[i] = (float) i - 350.0f;
  g_assert_true (vk->ops->upload (vk, A.v, 37, 7, part, &err));
  g_assert_true (fx->ref->ops->upload (fx->ref, A.r, 37, 7, part, &err));
  g_assert_no_error (err);
  expect_same (fx, vk, A, "upload rows 37..43");
  g_assert_true (vk->ops->download (vk, B.v, 77, 7, back, &err));
  g_assert_true (fx->ref->ops->download (fx->ref, B.r, 77, 7, want, &err));
  g_assert_no_error (err);
  g_assert_cmpmem (back, sizeof back, want, sizeof want);

  /* embed_rows into a split output: from a split f16 table (200 bytes a
   * row, 81 rows per chunk) and an unsplit f32 one; ids include the first
   * and last rows of the tables */
  float *td = rnd (fx, 500 * C, 0.5f);
  Pair tab = pair_new (fx, vk, LL_F16, 500, C, td, "table_split");
  Pair tab1 = pair_new (fx, vk, LL_F32, 20, C, td, "table_small");
  g_free (td);
  g_assert_cmpuint (n_chunks (vk, tab.v), ==, 7);
  g_assert_cmpuint (n_chunks (vk, tab1.v), ==, 1);
  gint32 idv[300];
  for (guint t = 0; t < 300; t++)
    idv[t] = t % 37 == 5 ? 0 : t % 41 == 3 ? 499
        : (gint32) g_rand_int_range (fx->rng, 0, 500);
  Pair ids = pair_new (fx, vk, LL_I32, 300, 1, (float *) idv, "ids");
  for (guint t = 0; t < 300; t++)
    idv[t] = t % 23 == 4 ? 19 : (gint32) g_rand_int_range (fx->rng, 0, 20);
  Pair ids1 = pair_new (fx, vk, LL_I32, 1, 300, (float *) idv, "ids_row");
  static const guint32 Ts[] = { 300, 1, 41, 80, 81, 279 };
  for (guint i = 0; i < G_N_ELEMENTS (Ts); i++) {
    for (guint k = 0; k < 2; k++) {
      Pair *tb = k ? &tab1 : &tab, *id = k ? &ids1 : &ids;
      fx->ref->ops->embed_rows (fx->ref, B.r, tb->r, id->r, Ts[i]);
      vk->ops->embed_rows (vk, B.v, tb->v, id->v, Ts[i]);
      char *what = g_strdup_printf ("embed_rows T=%u from %s", Ts[i],
          tb->r->name);
      expect_same (fx, vk, B, what);
      g_free (what);
    }
  }
  /* the output's rows feed copy_rows in the same command buffer */
  fx->ref->ops->embed_rows (fx->ref, B.r, tab.r, ids.r, 300);
  vk->ops->embed_rows (vk, B.v, tab.v, ids.v, 300);
  fx->ref->ops->copy_rows (fx->ref, S.r, 0, B.r, 270, 30);
  vk->ops->copy_rows (vk, S.v, 0, B.v, 270, 30);
  expect_same (fx, vk, S, "embed_rows then copy_rows");

  /* ops that need one binding still refuse a split tensor by name */
  vk->ops->add_rows (vk, A.v, S.v, 300);
  g_assert_false (vk->ops->sync (vk, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "split_a"));
  g_assert_nonnull (strstr (err->message, "maxStorageBufferRange"));
  g_clear_error (&err);
  /* and ids must be one chunk */
  Pair big_ids = pair_new (fx, vk, LL_I32, 5000, 1, NULL, "big_ids");
  g_assert_cmpuint (n_chunks (vk, big_ids.v), ==, 2);
  vk->ops->embed_rows (vk, B.v, tab.v, big_ids.v, 10);
  g_assert_false (vk->ops->sync (vk, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "big_ids"));
  g_clear_error (&err);
  g_assert_true (vk->ops->sync (vk, &err));

  Pair all[] = { A, B, S, tab, tab1, ids, ids1, big_ids };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    pair_free (fx, vk, all[i]);
  ll_backend_free (vk);
}

/* A real 152000×1024 f16 table (311 MB > lavapipe's 128 MiB binding): the
 * LM-head GEMV, embed_rows across chunk borders and argmax of the logits. */
static void
test_big_table (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  const guint32 V = 152000, C = 1024;
  guint64 bytes = (guint64) V * C * 2;
  if (ll_backend_vulkan_max_binding (fx->vk) >= bytes)
    g_test_message ("binding limit %" G_GUINT64_FORMAT " holds the table in "
        "one chunk on this device", ll_backend_vulkan_max_binding (fx->vk));
  guint16 *h = g_new (guint16, (gsize) V * C);
  for (gsize i = 0; i < (gsize) V * C; i++)
    h[i] = ll_float_to_half ((float) g_rand_double_range (fx->rng, -0.1, 0.1));
  Pair t = { new_tensor (fx->ref, LL_F16, V, C, "lm_head"),
    new_tensor (fx->vk, LL_F16, V, C, "lm_head") };
  upload (fx->ref, t.r, h);
  upload (fx->vk, t.v, h);
  g_free (h);
  /* each chunk (far over half an arena block): a dedicated allocation */
  guint64 prev = 0, mem, off, size, used = 0;
  for (guint c = 0; (mem = ll_backend_vulkan_tensor_placement (fx->vk, t.v, c,
              &off, &size)); c++, used += size, prev = mem)
    g_assert_true (mem != prev && off == 0);
  g_assert_cmpuint (used, >=, bytes);

  Pair x = pair_rnd (fx, LL_F32, 1, C, 1.0f, "hidden");
  Pair logits = pair_new (fx, fx->vk, LL_F32, 1, V, NULL, "logits");
  fx->ref->ops->matmul (fx->ref, logits.r, x.r, t.r, NULL, NULL, LL_ACT_NONE, 1);
  fx->vk->ops->matmul (fx->vk, logits.v, x.v, t.v, NULL, NULL, LL_ACT_NONE, 1);
  expect_close (fx, fx->vk, logits, 1, NMSE_MATMUL, "lm_head 152000×1024 f16 GEMV");

  float zeros[1] = { 0 };
  Pair am = pair_new (fx, fx->vk, LL_I32, 1, 1, zeros, "next");
  g_assert_cmpint (argmax_of (fx, fx->vk, logits, am, 0, V), ==,
      argmax_of (fx, fx->ref, logits, am, 0, V));

  /* rows in each chunk and on both sides of the chunk borders (65536 rows
   * of 2048 bytes per 128 MiB chunk on lavapipe) */
  gint32 ids[6] = { 0, 65535, 65536, 131071, 131072, V - 1 };
  Pair id = pair_new (fx, fx->vk, LL_I32, 6, 1, (float *) ids, "ids");
  Pair emb = pair_new (fx, fx->vk, LL_F32, 6, C, NULL, "emb");
  fx->ref->ops->embed_rows (fx->ref, emb.r, t.r, id.r, 6);
  fx->vk->ops->embed_rows (fx->vk, emb.v, t.v, id.v, 6);
  expect_close (fx, fx->vk, emb, 6, NMSE_EXACT, "embed_rows 152000×1024 f16");

  Pair all[] = { t, x, logits, am, id, emb };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    pair_free (fx, fx->vk, all[i]);
}

/* Two Vulkan backends in one process, their work recorded interleaved,
 * then one freed while the other keeps working.  The second one profiles
 * (LLAVA_VK_PROFILE=1 prints per-op totals at free). */
static void
test_two_backends (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  GError *err = NULL;
  g_setenv ("LLAVA_VK_PROFILE", "1", TRUE);
  LlBackend *vk2 = ll_backend_vulkan_new_full (-1, fx->kernels, &err);
  g_unsetenv ("LLAVA_VK_PROFILE");
  g_assert_no_error (err);

  float *wd = rnd (fx, 61 * 90, 0.3f), *xd = rnd (fx, 5 * 90, 1.0f);
  Pair w1 = pair_new (fx, fx->vk, LL_F16, 61, 90, wd, "w");
  Pair x1 = pair_new (fx, fx->vk, LL_F32, 5, 90, xd, "x");
  Pair o1 = pair_new (fx, fx->vk, LL_F32, 5, 61, NULL, "o");
  Pair w2 = pair_new (fx, vk2, LL_F16, 61, 90, wd, "w");
  Pair x2 = pair_new (fx, vk2, LL_F32, 5, 90, xd, "x");
  Pair o2 = pair_new (fx, vk2, LL_F32, 5, 61, NULL, "o");
  fx->vk->ops->matmul (fx->vk, o1.v, x1.v, w1.v, NULL, NULL, LL_ACT_GELU_ERF, 5);
  vk2->ops->matmul (vk2, o2.v, x2.v, w2.v, NULL, NULL, LL_ACT_GELU_ERF, 5);
  float *nd = rnd (fx, 61, 1.0f);
  Pair n1 = pair_new (fx, fx->vk, LL_F32, 1, 61, nd, "norm_w");
  Pair n2 = pair_new (fx, vk2, LL_F32, 1, 61, nd, "norm_w");
  g_free (nd);
  vk2->ops->rmsnorm (vk2, o2.v, o2.v, n2.v, 1e-6f, 2);   /* rows 0, 1 */
  fx->vk->ops->rmsnorm (fx->vk, o1.v, o1.v, n1.v, 1e-6f, 2);
  float *a = download (vk2, o2.v, 5), *b = download (fx->vk, o1.v, 5);
  g_assert_cmpmem (a, 5 * 61 * 4, b, 5 * 61 * 4);
  g_free (a);
  g_free (b);
  pair_free (fx, vk2, w2);
  pair_free (fx, vk2, x2);
  pair_free (fx, vk2, o2);
  pair_free (fx, vk2, n2);
  pair_free (fx, fx->vk, n1);
  ll_backend_free (vk2);

  fx->ref->ops->matmul (fx->ref, o1.r, x1.r, w1.r, NULL, NULL, LL_ACT_GELU_ERF, 5);
  fx->vk->ops->matmul (fx->vk, o1.v, x1.v, w1.v, NULL, NULL, LL_ACT_GELU_ERF, 5);
  expect_close (fx, fx->vk, o1, 5, NMSE_MATMUL, "matmul after the other backend is gone");
  pair_free (fx, fx->vk, w1);
  pair_free (fx, fx->vk, x1);
  pair_free (fx, fx->vk, o1);
  g_free (wd);
  g_free (xd);
}

/* The discrete-GPU memory path (device-local buffers + staging copies),
 * forced on lavapipe: partial-row uploads / downloads and an op. */
static void
test_staging (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  GError *err = NULL;
  g_setenv ("LLAVA_VK_FORCE_STAGING", "1", TRUE);
  LlBackend *vk = ll_backend_vulkan_new_full (-1, fx->kernels, &err);
  g_unsetenv ("LLAVA_VK_FORCE_STAGING");
  g_assert_no_error (err);
  float *xd = rnd (fx, 9 * 33, 1.0f);
  Pair x = pair_new (fx, vk, LL_F32, 9, 33, xd, "x");
  float part[2 * 33], back[9 * 33];
  for (guint i = 0; i < 2 * 33; i++)
    part[i] = (float) i;
  g_assert_true (vk->ops->upload (vk, x.v, 4, 2, part, &err));
  g_assert_true (fx->ref->ops->upload (fx->ref, x.r, 4, 2, part, &err));
  g_assert_true (vk->ops->download (vk, x.v, 0, 9, back, &err));
  g_assert_no_error (err);
  memcpy (xd + 4 * 33, part, sizeof part);
  g_assert_cmpmem (back, sizeof back, xd, sizeof back);
  g_free (xd);

  Pair w = pair_rnd (fx, LL_Q8_0, 21, 33, 0.5f, "w");
  pair_free (fx, fx->vk, w);
  float *wd = rnd (fx, 21 * 33, 0.5f);
  w = pair_new (fx, vk, LL_Q8_0, 21, 33, wd, "w");
  g_free (wd);
  Pair o = pair_new (fx, vk, LL_F32, 9, 21, NULL, "o");
  fx->ref->ops->matmul (fx->ref, o.r, x.r, w.r, NULL, NULL, LL_ACT_NONE, 9);
  vk->ops->matmul (vk, o.v, x.v, w.v, NULL, NULL, LL_ACT_NONE, 9);
  expect_close (fx, vk, o, 9, NMSE_MATMUL, "matmul q8_0 through staging");
  pair_free (fx, vk, x);
  pair_free (fx, vk, w);
  pair_free (fx, vk, o);

  /* split tensors (40 rows of 100 f32 per chunk) through staging: a row
   * range uploaded across a border, copied out of phase into another
   * split tensor, downloaded across borders */
  g_assert_true (ll_backend_vulkan_set_max_binding (vk, 16384));
  float *ad = rnd (fx, 100 * 100, 1.0f);
  Pair a = pair_new (fx, vk, LL_F32, 100, 100, ad, "split_a");
  Pair c = pair_new (fx, vk, LL_F32, 100, 100, ad, "split_c");
  float *rows = rnd (fx, 10 * 100, 1.0f);
  g_assert_true (vk->ops->upload (vk, a.v, 35, 10, rows, &err));
  g_assert_no_error (err);
  memcpy (ad + 35 * 100, rows, 10 * 100 * sizeof (float));
  vk->ops->copy_rows (vk, c.v, 13, a.v, 30, 60);
  float *want = g_memdup2 (ad, 100 * 100 * sizeof (float));
  memcpy (want + 13 * 100, ad + 30 * 100, 60 * 100 * sizeof (float));
  float *got = g_new (float, 90 * 100);
  g_assert_true (vk->ops->download (vk, c.v, 5, 90, got, &err));
  g_assert_no_error (err);
  g_assert_cmpmem (got, 90 * 100 * 4, want + 5 * 100, 90 * 100 * 4);
  g_free (got);
  g_free (want);
  g_free (rows);
  g_free (ad);
  pair_free (fx, vk, a);
  pair_free (fx, vk, c);
  ll_backend_free (vk);
}

/* Bad arguments become a GError at the next sync, not a crash. */
static void
test_bad_arguments (gconstpointer data)
{
  Fx *fx = (Fx *) data;
  GError *err = NULL;
  LlBackend *vk = fx->vk;
  guint64 in_use = vk->ops->memory_in_use (vk);
  LlTensor *x = new_tensor (vk, LL_F32, 4, 10, "x");
  LlTensor *w = new_tensor (vk, LL_F16, 6, 11, "w_wrong_k");
  LlTensor *o = new_tensor (vk, LL_F32, 4, 6, "o");
  vk->ops->matmul (vk, o, x, w, NULL, NULL, LL_ACT_NONE, 4);
  g_assert_false (vk->ops->sync (vk, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "w_wrong_k"));
  g_clear_error (&err);
  float buf[40];
  g_assert_false (vk->ops->download (vk, w, 0, 6, buf, &err));   /* f16 */
  g_clear_error (&err);
  g_assert_false (vk->ops->upload (vk, x, 3, 2, buf, &err));     /* rows */
  g_clear_error (&err);
  g_assert_null (vk->ops->tensor_new (vk, LL_F32, 0, 5, "empty", &err));
  g_assert_nonnull (err);
  g_clear_error (&err);
  g_assert_true (vk->ops->sync (vk, &err));
  vk->ops->tensor_free (vk, x);
  vk->ops->tensor_free (vk, w);
  vk->ops->tensor_free (vk, o);
  /* device choice: an index that does not exist, a malformed variable */
  g_assert_null (ll_backend_vulkan_new (99, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "out of range"));
  g_clear_error (&err);
  g_setenv ("LLAVA_VK_DEVICE", "first", TRUE);
  g_assert_null (ll_backend_vulkan_new (-1, &err));
  g_unsetenv ("LLAVA_VK_DEVICE");
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "LLAVA_VK_DEVICE"));
  g_clear_error (&err);
  g_setenv ("LLAVA_VK_DEVICE", "0", TRUE);
  LlBackend *first = ll_backend_vulkan_new (-1, &err);
  g_unsetenv ("LLAVA_VK_DEVICE");
  g_assert_no_error (err);
  g_assert_nonnull (first->ops->describe (first));
  ll_backend_free (first);

  /* memory accounting returns to where it was */
  g_assert_cmpuint (vk->ops->memory_in_use (vk), ==, in_use);
  g_assert_cmpuint (vk->ops->memory_peak (vk), >=, in_use + 4 * 10 * 4);
}

/* AUTO picks CPU style on a CPU device; LLAVA_VK_KERNELS overrides it. */
static void
test_kernel_choice (gconstpointer data)
{
  GError *err = NULL;
  const char *names[] = { "gpu", "cpu" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_setenv ("LLAVA_VK_KERNELS", names[i], TRUE);
    LlBackend *vk = ll_backend_vulkan_new (-1, &err);
    g_unsetenv ("LLAVA_VK_KERNELS");
    g_assert_no_error (err);
    g_assert_cmpint (ll_backend_vulkan_cpu_style (vk), ==, i == 1);
    ll_backend_free (vk);
  }
  LlBackend *vk = ll_backend_vulkan_new (-1, &err);
  g_assert_no_error (err);
  g_assert_cmpint (ll_backend_vulkan_cpu_style (vk), ==,
      strstr (vk->ops->describe (vk), ", CPU") != NULL);
  g_assert_false (ll_backend_vulkan_cpu_style (((Fx *) data)->ref));
  ll_backend_free (vk);
}

static Fx *
fx_new (LlVkKernels kernels)
{
  GError *err = NULL;
  Fx *fx = g_new0 (Fx, 1);
  fx->kernels = kernels;
  fx->ref = ll_backend_ref_new ();
  fx->vk = ll_backend_vulkan_new_full (-1, kernels, &err);
  g_assert_no_error (err);
  fx->rng = g_rand_new_with_seed (kernels * 1000 + 17);
  return fx;
}

static void
fx_free (Fx *fx)
{
  ll_backend_free (fx->vk);
  ll_backend_free (fx->ref);
  g_rand_free (fx->rng);
  g_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  Fx *cpu = fx_new (LL_VK_KERNELS_CPU), *gpu = fx_new (LL_VK_KERNELS_GPU);
  g_test_message ("device: %s", cpu->vk->ops->describe (cpu->vk));
  struct { const char *name; GTestDataFunc fn; gboolean both; } tests[] = {
    { "matmul", test_matmul, TRUE },
    { "norms", test_norms, TRUE },
    { "elementwise", test_elementwise, TRUE },
    { "attention-frames", test_attention_frames, TRUE },
    { "rope-attention-causal", test_rope_attention, TRUE },
    { "embed-rows", test_embed_rows, TRUE },
    { "gemv-many-rows", test_gemv_many_rows, TRUE },
    { "argmax", test_argmax, TRUE },
    { "chunked-weights", test_chunked_weights, TRUE },
    { "split-activations", test_split_activations, TRUE },
    { "big-table-152000x1024", test_big_table, FALSE },
    { "two-backends", test_two_backends, FALSE },
    { "staging-path", test_staging, FALSE },
    { "bad-arguments", test_bad_arguments, FALSE },
    { "kernel-choice", test_kernel_choice, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++) {
    char *p = g_strdup_printf ("/vk/cpu/%s", tests[i].name);
    g_test_add_data_func (p, cpu, tests[i].fn);
    g_free (p);
    if (tests[i].both) {
      p = g_strdup_printf ("/vk/gpu/%s", tests[i].name);
      g_test_add_data_func (p, gpu, tests[i].fn);
      g_free (p);
    }
  }
  int rc = g_test_run ();
  fx_free (cpu);
  fx_free (gpu);
  return rc;
}
