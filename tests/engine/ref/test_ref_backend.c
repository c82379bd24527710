/* The reference backend is the oracle for every other test, so its ops are
 * checked here against values worked out by hand. */
#include "backend.h"

#include <math.h>

static LlTensor *
make (LlBackend *b, LlDType dt, guint32 rows, guint32 cols, const void *data)
{
  g_autoptr (GError) err = NULL;
  LlTensor *t = b->ops->tensor_new (b, dt, rows, cols, "t", &err);
  g_assert_no_error (err);
  if (data)
    g_assert_true (b->ops->upload (b, t, 0, rows, data, &err));
  return t;
}

static void
read_f32 (LlBackend *b, LlTensor *t, float *out)
{
  g_autoptr (GError) err = NULL;
  g_assert_true (b->ops->download (b, t, 0, t->rows, out, &err));
  g_assert_no_error (err);
}

static void
test_matmul_bias_residual (void)
{
  LlBackend *b = ll_backend_ref_new ();
  const float x[2 * 3] = { 1, 2, 3, -1, 0, 1 };
  const float w[2 * 3] = { 1, 0, 0, 1, 1, 1 };  /* y0 = x0, y1 = x0+x1+x2 */
  const float bias[2] = { 0.5f, -1 };
  const float res[2 * 2] = { 10, 20, 30, 40 };
  float y[4];
  LlTensor *tx = make (b, LL_F32, 2, 3, x), *tw = make (b, LL_F32, 2, 3, w);
  LlTensor *tb = make (b, LL_F32, 1, 2, bias), *tr = make (b, LL_F32, 2, 2, res);

  b->ops->matmul (b, tr, tx, tw, tb, tr, LL_ACT_NONE, 2);  /* residual aliases out */
  read_f32 (b, tr, y);
  g_assert_cmpfloat (y[0], ==, 11.5f);
  g_assert_cmpfloat (y[1], ==, 25.0f);
  g_assert_cmpfloat (y[2], ==, 29.5f);
  g_assert_cmpfloat (y[3], ==, 39.0f);

  /* GELU variants at x = 1: erf form 0.8413447, tanh form 0.8411920 */
  const float one = 1.0f, wid = 1.0f;
  LlTensor *t1 = make (b, LL_F32, 1, 1, &one), *tw1 = make (b, LL_F32, 1, 1, &wid);
  LlTensor *to = make (b, LL_F32, 1, 1, NULL);
  b->ops->matmul (b, to, t1, tw1, NULL, NULL, LL_ACT_GELU_ERF, 1);
  read_f32 (b, to, y);
  g_assert_cmpfloat_with_epsilon (y[0], 0.8413447f, 1e-6);
  b->ops->matmul (b, to, t1, tw1, NULL, NULL, LL_ACT_GELU_TANH, 1);
  read_f32 (b, to, y);
  g_assert_cmpfloat_with_epsilon (y[0], 0.8411920f, 1e-6);

  LlTensor *all[] = { tx, tw, tb, tr, t1, tw1, to };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    b->ops->tensor_free (b, all[i]);
  g_assert_cmpuint (b->ops->memory_in_use (b), ==, 0);
  ll_backend_free (b);
}

static void
test_q8_0_matches_dequantised (void)
{
  /* K = 40: one full block and one partial block */
  LlBackend *b = ll_backend_ref_new ();
  float w[3 * 40], x[40], y[3], deq[40];
  for (guint i = 0; i < 3 * 40; i++)
    w[i] = sinf (i * 0.37f) * (1 + i % 7);
  for (guint i = 0; i < 40; i++)
    x[i] = cosf (i * 0.11f);
  g_autofree void *q = ll_convert_from_f32 (LL_Q8_0, w, 3, 40);
  LlTensor *tw = make (b, LL_Q8_0, 3, 40, q), *tx = make (b, LL_F32, 1, 40, x);
  LlTensor *ty = make (b, LL_F32, 1, 3, NULL);
  b->ops->matmul (b, ty, tx, tw, NULL, NULL, LL_ACT_NONE, 1);
  read_f32 (b, ty, y);
  for (guint n = 0; n < 3; n++) {
    double acc = 0;
    ll_dequantize_row (LL_Q8_0, q, 3, 40, n, deq);
    for (guint k = 0; k < 40; k++) {
      acc += deq[k] * x[k];
      /* quantisation error bounded by half a step of the block scale */
      g_assert_cmpfloat (fabsf (deq[k] - w[n * 40 + k]), <=, 7.0f / 127 * 0.5f + 1e-6f);
    }
    g_assert_cmpfloat_with_epsilon (y[n], acc, 1e-5);
  }
  b->ops->tensor_free (b, tw);
  b->ops->tensor_free (b, tx);
  b->ops->tensor_free (b, ty);
  ll_backend_free (b);
}

static void
test_norms (void)
{
  LlBackend *b = ll_backend_ref_new ();
  const float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 1, 2, 1 }, bias[4] = { 0, 0, 0, 1 };
  float y[4];
  LlTensor *tx = make (b, LL_F32, 1, 4, x), *tw = make (b, LL_F32, 1, 4, w);
  LlTensor *tb = make (b, LL_F32, 1, 4, bias), *ty = make (b, LL_F32, 1, 4, NULL);

  b->ops->rmsnorm (b, ty, tx, tw, 0.0f, 1);  /* rms = sqrt(7.5) */
  read_f32 (b, ty, y);
  g_assert_cmpfloat_with_epsilon (y[0], 1 / sqrtf (7.5f), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[2], 2 * 3 / sqrtf (7.5f), 1e-6);

  b->ops->layernorm (b, ty, tx, tw, tb, 0.0f, 1);  /* mean 2.5, var 1.25 */
  read_f32 (b, ty, y);
  g_assert_cmpfloat_with_epsilon (y[0], -1.5f / sqrtf (1.25f), 1e-6);
  g_assert_cmpfloat_with_epsilon (y[3], 1.5f / sqrtf (1.25f) + 1, 1e-6);
  b->ops->tensor_free (b, tx);
  b->ops->tensor_free (b, tw);
  b->ops->tensor_free (b, tb);
  b->ops->tensor_free (b, ty);
  ll_backend_free (b);
}

static void
test_rope_and_causal_attention (void)
{
  /* H = 2 query heads sharing Hkv = 1 kv head, D = 4, two positions. */
  LlBackend *b = ll_backend_ref_new ();
  const guint H = 2, Hkv = 1, D = 4, ctx = 8;
  float qkv[2 * 16] = {
    /* t=0: q0 q1 | k | v */
    1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4,
    /* t=1 */
    1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 5, 6, 7, 8,
  };
  float out[2 * 8], kc[8 * 4], q1[32];
  LlTensor *tq = make (b, LL_F32, 2, 16, qkv);
  LlTensor *tk = make (b, LL_F32, Hkv * ctx, D, NULL), *tv = make (b, LL_F32, Hkv * ctx, D, NULL);
  LlTensor *to = make (b, LL_F32, 2, H * D, NULL);

  b->ops->rope_kv (b, tq, tk, tv, 2, H, Hkv, D, 0, 10000.0f);
  read_f32 (b, tk, kc);
  /* position 0 is the identity; position 1 rotates pair (0, 2) by 1 rad */
  g_assert_cmpfloat (kc[0], ==, 1.0f);
  g_assert_cmpfloat_with_epsilon (kc[4 + 0], cosf (1.0f), 1e-6);
  g_assert_cmpfloat_with_epsilon (kc[4 + 2], sinf (1.0f), 1e-6);
  read_f32 (b, tq, q1);
  g_assert_cmpfloat_with_epsilon (q1[16 + 0], cosf (1.0f), 1e-6);

  /* scale 0: uniform weights, so output = running mean of the values */
  b->ops->attention_causal (b, to, tq, tk, tv, 2, H, Hkv, D, 0, 0.0f);
  read_f32 (b, to, out);
  g_assert_cmpfloat (out[0], ==, 1.0f);         /* t=0 sees only v0 */
  g_assert_cmpfloat (out[4 + 3], ==, 4.0f);     /* second head, same kv head */
  g_assert_cmpfloat_with_epsilon (out[8 + 0], 3.0f, 1e-6);  /* mean(1,5) */
  g_assert_cmpfloat_with_epsilon (out[8 + 7], 6.0f, 1e-6);  /* mean(4,8) */
  b->ops->tensor_free (b, tq);
  b->ops->tensor_free (b, tk);
  b->ops->tensor_free (b, tv);
  b->ops->tensor_free (b, to);
  ll_backend_free (b);
}

static void
test_gather_copy_argmax (void)
{
  LlBackend *b = ll_backend_ref_new ();
  const float table[3 * 2] = { 0, 1, 10, 11, 20, 21 };
  const gint32 ids[3] = { 2, 0, 2 };
  const float logits[5] = { 1, 7, 3, 7, 0 };
  float y[6];
  gint32 got[2];
  g_autofree void *t16 = ll_convert_from_f32 (LL_F16, table, 3, 2);
  LlTensor *tt = make (b, LL_F16, 3, 2, t16), *ti = make (b, LL_I32, 3, 1, ids);
  LlTensor *to = make (b, LL_F32, 3, 2, NULL), *tl = make (b, LL_F32, 1, 5, logits);
  LlTensor *ta = make (b, LL_I32, 2, 1, NULL);

  b->ops->embed_rows (b, to, tt, ti, 3);
  read_f32 (b, to, y);
  g_assert_cmpfloat (y[0], ==, 20.0f);
  g_assert_cmpfloat (y[3], ==, 1.0f);
  b->ops->copy_rows (b, to, 0, to, 1, 1);
  read_f32 (b, to, y);
  g_assert_cmpfloat (y[1], ==, 1.0f);
  b->ops->argmax (b, ta, 1, tl, 5);
  b->ops->argmax (b, ta, 0, tl, 1);
  g_assert_true (b->ops->download (b, ta, 0, 2, got, NULL));
  g_assert_cmpint (got[1], ==, 1);              /* first maximum wins */
  g_assert_cmpint (got[0], ==, 0);
  LlTensor *all[] = { tt, ti, to, tl, ta };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    b->ops->tensor_free (b, all[i]);
  ll_backend_free (b);
}

static void
test_half_conversion (void)
{
  const float vals[] = { 0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.1f };
  for (guint i = 0; i < G_N_ELEMENTS (vals); i++) {
    float back = ll_half_to_float (ll_float_to_half (vals[i]));
    g_assert_cmpfloat (fabsf (back - vals[i]), <=, fabsf (vals[i]) * 1e-3f);
  }
  g_assert_cmpuint (ll_float_to_half (1.0f), ==, 0x3c00);
  g_assert_cmpuint (ll_float_to_half (1e6f), ==, 0x7c00);        /* overflow → inf */
  g_assert_cmpuint (ll_float_to_half (5.9604645e-08f), ==, 0x0001); /* smallest subnormal */
  g_assert_cmpfloat (ll_bf16_to_float (0x3f80), ==, 1.0f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ref/matmul-bias-residual-gelu", test_matmul_bias_residual);
  g_test_add_func ("/ref/q8_0-matches-dequantised", test_q8_0_matches_dequantised);
  g_test_add_func ("/ref/norms", test_norms);
  g_test_add_func ("/ref/rope-and-causal-attention-gqa", test_rope_and_causal_attention);
  g_test_add_func ("/ref/gather-copy-argmax", test_gather_copy_argmax);
  g_test_add_func ("/ref/half-conversion", test_half_conversion);
  return g_test_run ();
}
