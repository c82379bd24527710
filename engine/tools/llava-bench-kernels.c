/* llava-bench-kernels — time the Vulkan kernels at the real LLaVA-Interleave
 * 0.5B shapes, each next to the same operation on the CPU by a named
 * reference, in the same run:
 *
 *   GEMM  7290x1152->4304 (SigLIP fc1, 10 frames), 7306x1024->2816 (Qwen up)
 *         f16 weights   vs  OpenBLAS sgemm (f32, all cores)
 *   GEMV  1024->2816 f16 and q8_0 (decode)
 *         vs  streaming the same weight bytes from memory (a sum loop)
 *   causal attention, prefill of 7306 positions (Qwen1.5-0.5B: 16 heads, D 64) and
 *         one decode step at position 7305, f16 KV cache
 *   SigLIP attention 729x729, 16 heads x 72
 *         vs  blocked OpenBLAS attention (sgemm QKᵀ, softmax, sgemm PV)
 *
 * Not a test: it prints numbers.  --quick divides the token counts (M, T)
 * by 8 (attention work by 64) so it finishes in minutes on lavapipe;
 * --scale N divides by N instead.
 *
 *   llava-bench-kernels [--quick | --scale N] [--reps N] [--device N]
 *                       [--kernels cpu|gpu] [--only SUBSTRING]
 */
#include "backend.h"
#include "vk/vk_backend.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int scale;
  int reps;
  int device;
  const char *kernels;
  const char *only;
  LlBackend *vk;
  GRand *rng;
} Bench;

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static void
die_on (GError *err)
{
  if (err) {
    g_printerr ("llava-bench-kernels: %s\n", err->message);
    exit (1);
  }
}

static float *
rnd (Bench *b, gsize n, float scale)
{
  float *x = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (b->rng, -scale, scale);
  return x;
}

static LlTensor *
tensor (Bench *b, LlDType dt, guint32 rows, guint32 cols, const float *data,
    const char *name)
{
  GError *err = NULL;
  LlTensor *t = b->vk->ops->tensor_new (b->vk, dt, rows, cols, name, &err);
  die_on (err);
  if (data) {
    void *host = dt == LL_I32 ? g_memdup2 (data, (gsize) rows * cols * 4)
        : ll_convert_from_f32 (dt, data, rows, cols);
    b->vk->ops->upload (b->vk, t, 0, rows, host, &err);
    g_free (host);
    die_on (err);
  }
  return t;
}

static void
sync_or_die (Bench *b)
{
  GError *err = NULL;
  b->vk->ops->sync (b->vk, &err);
  die_on (err);
}

typedef void (*RunFn) (Bench *b, gpointer user);

/* best-of-reps wall time of fn (after one warm-up run, which also compiles
 * the pipelines) */
static double
time_best (Bench *b, RunFn fn, gpointer user, int reps)
{
  fn (b, user);
  double best = G_MAXDOUBLE;
  for (int r = 0; r < reps; r++) {
    double t0 = now_s ();
    fn (b, user);
    best = MIN (best, now_s () - t0);
  }
  return best;
}

static void
report (const char *name, const char *shape, double dev_s, double work,
    const char *unit, const char *ref_name, double ref_s)
{
  g_print ("%-22s %-26s %10.2f ms %8.2f %-6s | %-22s %10.2f ms %8.2f %-6s | %6.3f\n",
      name, shape, dev_s * 1e3, work / dev_s / 1e9, unit, ref_name,
      ref_s * 1e3, work / ref_s / 1e9, unit, ref_s / dev_s);
}

static gboolean
selected (Bench *b, const char *name)
{
  return !b->only || strstr (name, b->only) != NULL;
}

/* ---- GEMM / GEMV ---- */

typedef struct {
  LlTensor *x, *w, *out;
  guint32 M;
  const float *hx, *hw;
  float *hout;
  guint32 K, N;
  const void *stream;
  gsize stream_bytes;
  volatile float sink;
} MatmulCase;

static void
run_vk_matmul (Bench *b, gpointer user)
{
  MatmulCase *c = user;
  b->vk->ops->matmul (b->vk, c->out, c->x, c->w, NULL, NULL, LL_ACT_NONE, c->M);
  sync_or_die (b);
}

static void
run_blas_gemm (Bench *b, gpointer user)
{
  MatmulCase *c = user;
  /* out[M,N] = x[M,K] · W[N,K]ᵀ */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, c->M, c->N, c->K,
      1.0f, c->hx, c->K, c->hw, c->K, 0.0f, c->hout, c->N);
}

static void
run_stream (Bench *b, gpointer user)
{
  MatmulCase *c = user;
  /* read every byte once, 8 independent accumulators so the loop is
   * bandwidth-bound, not latency-bound */
  const guint64 *p = c->stream;
  gsize n = c->stream_bytes / 8;
  guint64 acc[8] = { 0 };
  for (gsize i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += p[i + j];
  guint64 s = 0;
  for (int j = 0; j < 8; j++)
    s += acc[j];
  c->sink = (float) s;
}

static void
bench_gemm (Bench *b, const char *name, guint32 M_full, guint32 K, guint32 N)
{
  if (!selected (b, name))
    return;
  guint32 M = MAX (1, M_full / b->scale);
  MatmulCase c = { .M = M, .K = K, .N = N };
  float *hx = rnd (b, (gsize) M * K, 1.0f), *hw = rnd (b, (gsize) N * K, 0.05f);
  c.hx = hx;
  c.hw = hw;
  c.hout = g_new (float, (gsize) M * N);
  c.x = tensor (b, LL_F32, M, K, hx, "x");
  c.w = tensor (b, LL_F16, N, K, hw, "w");
  c.out = tensor (b, LL_F32, M, N, NULL, "out");
  double flop = 2.0 * M * K * N;
  double dev = time_best (b, run_vk_matmul, &c, b->reps);
  double ref = time_best (b, run_blas_gemm, &c, b->reps);
  char shape[64];
  g_snprintf (shape, sizeof shape, "%ux%u->%u f16", M, K, N);
  report (name, shape, dev, flop, "GFLOP/s", "OpenBLAS sgemm (f32)", ref);
  b->vk->ops->tensor_free (b->vk, c.x);
  b->vk->ops->tensor_free (b->vk, c.w);
  b->vk->ops->tensor_free (b->vk, c.out);
  g_free (hx);
  g_free (hw);
  g_free (c.hout);
}

static void
bench_gemv (Bench *b, const char *name, LlDType dt, guint32 K, guint32 N)
{
  if (!selected (b, name))
    return;
  MatmulCase c = { .M = 1, .K = K, .N = N };
  float *hx = rnd (b, K, 1.0f), *hw = rnd (b, (gsize) N * K, 0.05f);
  c.x = tensor (b, LL_F32, 1, K, hx, "x");
  c.w = tensor (b, dt, N, K, hw, "w");
  c.out = tensor (b, LL_F32, 1, N, NULL, "out");
  c.stream_bytes = ll_dtype_host_size (dt, N, K);
  c.stream = ll_convert_from_f32 (dt, hw, N, K);
  double dev = time_best (b, run_vk_matmul, &c, b->reps * 5);
  double ref = time_best (b, run_stream, &c, b->reps * 5);
  char shape[64];
  g_snprintf (shape, sizeof shape, "1x%u->%u %s (%.1f MB)", K, N,
      ll_dtype_name (dt), c.stream_bytes / 1e6);
  report (name, shape, dev, (double) c.stream_bytes, "GB/s",
      "memory stream (sum)", ref);
  b->vk->ops->tensor_free (b->vk, c.x);
  b->vk->ops->tensor_free (b->vk, c.w);
  b->vk->ops->tensor_free (b->vk, c.out);
  g_free (hx);
  g_free (hw);
  g_free ((gpointer) c.stream);
}

/* ---- attention ---- */

typedef struct {
  /* device */
  LlTensor *qkv, *kc, *vc, *out;
  gboolean causal;
  guint32 T, H, Hkv, D, pos0, F;
  /* host (f32), head-major copies for BLAS: q [H][T][D], k/v [Hkv][nk][D] */
  float *q, *k, *v, *o, *s;
  guint32 nk;
} AttnCase;

static void
run_vk_attn (Bench *b, gpointer user)
{
  AttnCase *a = user;
  float scale = 1.0f / sqrtf ((float) a->D);
  if (a->causal)
    b->vk->ops->attention_causal (b->vk, a->out, a->qkv, a->kc, a->vc, a->T,
        a->H, a->Hkv, a->D, a->pos0, scale);
  else
    b->vk->ops->attention_frames (b->vk, a->out, a->qkv, a->F, a->T, a->H,
        a->D, scale);
  sync_or_die (b);
}

#define ATT_BLOCK 256

/* Blocked attention with OpenBLAS: per head and block of 256 queries,
 * S = Q Kᵀ (sgemm), causal mask + softmax per row, O = S V (sgemm).  Only
 * the keys a block can see are multiplied. */
static void
run_blas_attn (Bench *b, gpointer user)
{
  AttnCase *a = user;
  float scale = 1.0f / sqrtf ((float) a->D);
  guint32 G = a->H / a->Hkv;
  for (guint32 h = 0; h < a->H; h++) {
    const float *kh = a->k + (gsize) (h / G) * a->nk * a->D;
    const float *vh = a->v + (gsize) (h / G) * a->nk * a->D;
    for (guint32 t0 = 0; t0 < a->T; t0 += ATT_BLOCK) {
      guint32 bt = MIN (ATT_BLOCK, a->T - t0);
      guint32 nk = a->causal ? a->pos0 + t0 + bt : a->nk;
      const float *qb = a->q + ((gsize) h * a->T + t0) * a->D;
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, bt, nk, a->D,
          scale, qb, a->D, kh, a->D, 0.0f, a->s, nk);
      for (guint32 i = 0; i < bt; i++) {
        float *row = a->s + (gsize) i * nk;
        guint32 n = a->causal ? a->pos0 + t0 + i + 1 : nk;
        float mx = -INFINITY, sum = 0.0f;
        for (guint32 j = 0; j < n; j++)
          mx = MAX (mx, row[j]);
        for (guint32 j = 0; j < n; j++) {
          row[j] = expf (row[j] - mx);
          sum += row[j];
        }
        float inv = 1.0f / sum;
        for (guint32 j = 0; j < n; j++)
          row[j] *= inv;
        for (guint32 j = n; j < nk; j++)
          row[j] = 0.0f;
      }
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, bt, a->D, nk,
          1.0f, a->s, nk, vh, a->D, 0.0f,
          a->o + ((gsize) h * a->T + t0) * a->D, a->D);
    }
  }
}

static void
bench_attention (Bench *b, const char *name, gboolean causal, guint32 T,
    guint32 pos0, guint32 H, guint32 Hkv, guint32 D)
{
  if (!selected (b, name))
    return;
  AttnCase a = { .causal = causal, .T = T, .H = H, .Hkv = causal ? Hkv : H,
    .D = D, .pos0 = pos0, .F = 1 };
  a.nk = causal ? pos0 + T : T;
  guint32 qkv_cols = causal ? (H + 2 * Hkv) * D : 3 * H * D;
  float *hqkv = rnd (b, (gsize) T * qkv_cols, 1.0f);
  a.qkv = tensor (b, LL_F32, T, qkv_cols, hqkv, "qkv");
  a.out = tensor (b, LL_F32, T, H * D, NULL, "attn");
  a.q = g_new (float, (gsize) H * T * D);
  a.k = rnd (b, (gsize) a.Hkv * a.nk * D, 1.0f);
  a.v = rnd (b, (gsize) a.Hkv * a.nk * D, 1.0f);
  a.o = g_new (float, (gsize) H * T * D);
  a.s = g_new (float, (gsize) ATT_BLOCK * a.nk);
  for (guint32 h = 0; h < H; h++)
    for (guint32 t = 0; t < T; t++)
      memcpy (a.q + ((gsize) h * T + t) * D, hqkv + (gsize) t * qkv_cols + h * D,
          D * sizeof (float));
  if (causal) {
    /* f16 cache [Hkv*nk, D] holding the same k / v as the host copies */
    a.kc = tensor (b, LL_F16, Hkv * a.nk, D, a.k, "k_cache");
    a.vc = tensor (b, LL_F16, Hkv * a.nk, D, a.v, "v_cache");
  }
  /* QKᵀ and PV over the visible keys */
  double pairs = causal ? (double) T * pos0 + (double) T * (T + 1) / 2.0
      : (double) T * T;
  double flop = 4.0 * H * D * pairs;
  int reps = MAX (1, b->reps / (T > 1000 ? 3 : 1));
  double dev = time_best (b, run_vk_attn, &a, reps);
  double ref = time_best (b, run_blas_attn, &a, reps);
  char shape[80];
  if (causal)
    g_snprintf (shape, sizeof shape, "T=%u at %u, %u/%ux%u f16", T, pos0, H,
        Hkv, D);
  else
    g_snprintf (shape, sizeof shape, "%ux%u, %ux%u", T, T, H, D);
  report (name, shape, dev, flop, "GFLOP/s", "OpenBLAS blocked attn", ref);
  b->vk->ops->tensor_free (b->vk, a.qkv);
  b->vk->ops->tensor_free (b->vk, a.out);
  if (causal) {
    b->vk->ops->tensor_free (b->vk, a.kc);
    b->vk->ops->tensor_free (b->vk, a.vc);
  }
  g_free (hqkv);
  g_free (a.q);
  g_free (a.k);
  g_free (a.v);
  g_free (a.o);
  g_free (a.s);
}

int
main (int argc, char **argv)
{
  Bench b = { .scale = 1, .reps = 3, .device = -1 };
  gboolean quick = FALSE;
  char *kernels = NULL, *only = NULL;
  GOptionEntry entries[] = {
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "Divide token counts by 8", NULL },
    { "scale", 0, 0, G_OPTION_ARG_INT, &b.scale, "Divide token counts by N", "N" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &b.reps, "Timed repetitions (best is shown)", "N" },
    { "device", 0, 0, G_OPTION_ARG_INT, &b.device, "Vulkan device index", "N" },
    { "kernels", 0, 0, G_OPTION_ARG_STRING, &kernels, "Kernel flavour cpu|gpu", "K" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Run benchmarks whose name contains S", "S" },
    { NULL }
  };
  GError *err = NULL;
  GOptionContext *ctx = g_option_context_new ("- time the Vulkan kernels");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("llava-bench-kernels: %s\n", err->message);
    return 1;
  }
  g_option_context_free (ctx);
  if (quick && b.scale == 1)
    b.scale = 8;
  b.scale = MAX (1, b.scale);
  b.reps = MAX (1, b.reps);
  b.only = only;
  LlVkKernels k = LL_VK_KERNELS_AUTO;
  if (kernels && strcmp (kernels, "cpu") == 0)
    k = LL_VK_KERNELS_CPU;
  else if (kernels && strcmp (kernels, "gpu") == 0)
    k = LL_VK_KERNELS_GPU;
  else if (kernels) {
    g_printerr ("llava-bench-kernels: --kernels must be cpu or gpu\n");
    return 1;
  }
  b.vk = ll_backend_vulkan_new_full (b.device, k, &err);
  die_on (err);
  b.rng = g_rand_new_with_seed (42);

  char *loadavg = NULL;
  if (g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL))
    g_strchomp (loadavg);
  g_print ("device: %s; kernels: %s-style; OpenBLAS %s, %d threads; token "
      "counts divided by %d; best of %d; %u CPUs, load average at start %s\n",
      b.vk->ops->describe (b.vk),
      ll_backend_vulkan_cpu_style (b.vk) ? "CPU" : "GPU",
      openblas_get_config (), openblas_get_num_threads (), b.scale, b.reps,
      g_get_num_processors (), loadavg ? loadavg : "?");
  g_free (loadavg);
  g_print ("%-22s %-26s %13s %15s | %-22s %13s %15s | %s\n", "kernel", "shape",
      "device", "rate", "CPU reference", "time", "rate", "ref time / device time");

  guint32 T_llm = MAX (1, 7306 / b.scale);
  bench_gemm (&b, "gemm siglip fc1", 7290, 1152, 4304);
  bench_gemm (&b, "gemm qwen up", 7306, 1024, 2816);
  bench_gemv (&b, "gemv qwen up f16", LL_F16, 1024, 2816);
  bench_gemv (&b, "gemv qwen up q8_0", LL_Q8_0, 1024, 2816);
  bench_attention (&b, "attn causal prefill", TRUE, T_llm, 0, 16, 16, 64);
  bench_attention (&b, "attn causal decode", TRUE, 1, 7305, 16, 16, 64);
  bench_attention (&b, "attn siglip", FALSE, 729, 0, 16, 16, 72);

  ll_backend_free (b.vk);
  g_rand_free (b.rng);
  g_free (kernels);
  g_free (only);
  return 0;
}
