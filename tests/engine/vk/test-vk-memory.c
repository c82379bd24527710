/* test-vk-memory.c — the Vulkan backend's memory arenas (engine/vk/vk_memory.c).
 *
 * Most tests run with LLAVA_VK_ARENA_BLOCK=1 MiB so that blocks fill up,
 * new blocks are made and "larger than a block" is a few MiB.  What is
 * checked: many tensors of odd sizes share a block, at aligned, disjoint
 * offsets, and keep their data; weights and activations never share a
 * block; repeated alloc / free cycles of scratch (freed in another order
 * than allocated) do not grow device memory; a tensor over half a block is
 * a dedicated allocation; the staging buffer is reused; the accounting
 * (memory_in_use = tensor bytes, memory_peak = device memory) adds up.
 */
#include "backend.h"
#include "vk/vk_backend.h"

#include <string.h>

#define SMALL_BLOCK (1u << 20)

static LlBackend *
vk_new (guint64 block, gboolean force_staging)
{
  GError *err = NULL;
  char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, block);
  g_setenv ("LLAVA_VK_ARENA_BLOCK", v, TRUE);
  if (force_staging)
    g_setenv ("LLAVA_VK_FORCE_STAGING", "1", TRUE);
  LlBackend *b = ll_backend_vulkan_new (-1, &err);
  g_unsetenv ("LLAVA_VK_ARENA_BLOCK");
  g_unsetenv ("LLAVA_VK_FORCE_STAGING");
  g_free (v);
  g_assert_no_error (err);
  LlVkMemoryStats s;
  g_assert_true (ll_backend_vulkan_memory_stats (b, &s));
  g_assert_cmpuint (s.block_size, ==, block);
  return b;
}

static LlVkMemoryStats
stats (LlBackend *b)
{
  LlVkMemoryStats s;
  g_assert_true (ll_backend_vulkan_memory_stats (b, &s));
  /* invariants that hold at every moment */
  g_assert_cmpuint (s.tensor_bytes, ==, b->ops->memory_in_use (b));
  g_assert_cmpuint (s.device_peak, ==, b->ops->memory_peak (b));
  g_assert_cmpuint (s.device_bytes, <=, s.device_peak);
  g_assert_cmpuint (s.tensor_bytes, <=, s.tensor_peak);
  g_assert_cmpuint (s.device_bytes, ==, s.arena_bytes[0] + s.arena_bytes[1]
      + s.dedicated_bytes);
  g_assert_cmpuint (s.tensor_bytes, <=, s.arena_used[0] + s.arena_used[1]
      + s.dedicated_bytes);
  g_assert_cmpuint (s.dedicated_bytes, <=, s.dedicated_peak);
  g_assert_cmpuint (s.device_peak, <=, s.arena_peak[0] + s.arena_peak[1]
      + s.dedicated_peak);
  for (guint a = 0; a < LL_VK_ARENA_COUNT; a++) {
    g_assert_cmpuint (s.arena_bytes[a], <=, s.arena_peak[a]);
    g_assert_cmpuint (s.arena_used[a], <=, s.arena_bytes[a]);
    g_assert_cmpuint (s.arena_bytes[a], <=, (guint64) s.n_blocks[a] * s.block_size);
  }
  return s;
}

/* a weight when the name ends in ".weight" (this test's convention) */
static LlTensor *
tensor (LlBackend *b, LlDType dt, guint32 rows, guint32 cols, const char *name)
{
  GError *err = NULL;
  LlTensor *t = g_str_has_suffix (name, ".weight")
      ? ll_backend_weight_new (b, dt, rows, cols, name, &err)
      : b->ops->tensor_new (b, dt, rows, cols, name, &err);
  g_assert_no_error (err);
  g_assert_nonnull (t);
  return t;
}

static float *
pattern (guint32 n, guint32 seed)
{
  float *x = g_new (float, n);
  for (guint32 i = 0; i < n; i++)
    x[i] = (float) ((i * 2654435761u + seed * 40503u) % 100003u) / 1000.0f;
  return x;
}

static void
upload_check (LlBackend *b, LlTensor *t, guint32 seed)
{
  GError *err = NULL;
  guint32 n = t->rows * t->cols;
  float *x = pattern (n, seed);
  g_assert_true (b->ops->upload (b, t, 0, t->rows, x, &err));
  g_assert_no_error (err);
  g_free (x);
}

static void
download_check (LlBackend *b, LlTensor *t, guint32 seed)
{
  GError *err = NULL;
  guint32 n = t->rows * t->cols;
  float *x = pattern (n, seed), *y = g_new (float, n);
  g_assert_true (b->ops->download (b, t, 0, t->rows, y, &err));
  g_assert_no_error (err);
  g_assert_cmpmem (x, n * sizeof (float), y, n * sizeof (float));
  g_free (x);
  g_free (y);
}

typedef struct {
  guint64 mem, off, size;
  gboolean weight;
} Place;

/* Placements of every chunk of `ts`: aligned, and disjoint where they share
 * a memory.  Returns how many distinct memories they use. */
static guint
check_placements (LlBackend *b, LlTensor **ts, guint n, const gboolean *weight)
{
  LlVkMemoryStats s = stats (b);
  GArray *pl = g_array_new (FALSE, FALSE, sizeof (Place));
  for (guint i = 0; i < n; i++) {
    for (guint c = 0;; c++) {
      Place p = { .weight = weight[i] };
      p.mem = ll_backend_vulkan_tensor_placement (b, ts[i], c, &p.off, &p.size);
      if (!p.mem)
        break;
      g_assert_cmpuint (p.off % s.offset_alignment, ==, 0);
      g_assert_cmpuint (p.size, >=, 16);
      g_array_append_val (pl, p);
    }
  }
  guint distinct = 0;
  for (guint i = 0; i < pl->len; i++) {
    Place *p = &g_array_index (pl, Place, i);
    gboolean seen = FALSE;
    for (guint j = 0; j < pl->len; j++) {
      Place *q = &g_array_index (pl, Place, j);
      if (i == j || p->mem != q->mem)
        continue;
      seen |= j < i;
      /* same block: never overlapping, never weights next to scratch */
      g_assert_true (p->off + p->size <= q->off || q->off + q->size <= p->off);
      g_assert_cmpint (p->weight, ==, q->weight);
    }
    distinct += !seen;
  }
  g_array_free (pl, TRUE);
  return distinct;
}

/* Many tensors of odd sizes and every dtype, weights and activations
 * interleaved: they share a few blocks, at aligned disjoint offsets, and
 * keep their data (checked through download and through a matmul whose
 * q8_0 / f16 weights live in the arena, against the reference backend). */
static void
test_sub_allocation (void)
{
  LlBackend *vk = vk_new (SMALL_BLOCK, FALSE), *ref = ll_backend_ref_new ();
  GError *err = NULL;
  LlVkMemoryStats s0 = stats (vk);
  enum { N = 48 };
  LlTensor *ts[N];
  gboolean weight[N];
  for (guint i = 0; i < N; i++) {
    guint32 rows = 1 + (i * 37) % 29, cols = 1 + (i * 53) % 97;
    weight[i] = i % 3 == 0;
    char *name = g_strdup_printf (weight[i] ? "layer.%u.weight" : "act.%u", i);
    ts[i] = tensor (vk, weight[i] ? (LlDType) (i / 3 % 3) : LL_F32, rows,
        cols, name);
    g_free (name);
    if (ts[i]->dtype == LL_F32)
      upload_check (vk, ts[i], i);
  }
  LlVkMemoryStats s = stats (vk);
  guint mems = check_placements (vk, ts, N, weight);
  g_test_message ("%u tensors, %" G_GUINT64_FORMAT " tensor bytes in %u "
      "memories (%u + %u blocks)", N, s.tensor_bytes - s0.tensor_bytes, mems,
      s.n_blocks[0], s.n_blocks[1]);
  /* a few blocks for all of them, none dedicated: one block per weight
   * and per activation at least, and far fewer memories than tensors */
  g_assert_cmpuint (s.n_allocations - s0.n_allocations, <=, 4);
  g_assert_cmpuint (s.n_buffers - s0.n_buffers, ==, N);
  g_assert_cmpuint (s.n_blocks[LL_VK_ARENA_WEIGHTS], >=, 1);
  g_assert_cmpuint (s.n_blocks[LL_VK_ARENA_ACTIVATIONS], >=, 1);
  g_assert_cmpuint (s.n_dedicated, ==, s0.n_dedicated);
  g_assert_cmpuint (mems, <=, 4);
  for (guint i = 0; i < N; i++)
    if (ts[i]->dtype == LL_F32)
      download_check (vk, ts[i], i);

  /* a matmul with arena-held q8_0 and f16 weights, against the reference */
  const LlDType wdt[] = { LL_Q8_0, LL_F16 };
  for (guint k = 0; k < G_N_ELEMENTS (wdt); k++) {
    const guint32 M = 3, K = 45, Nn = 13;
    float *xd = pattern (M * K, 7), *wd = pattern (Nn * K, 8);
    for (guint32 i = 0; i < Nn * K; i++)
      wd[i] = wd[i] / 100.0f - 0.5f;
    void *wh = ll_convert_from_f32 (wdt[k], wd, Nn, K);
    LlTensor *xv = tensor (vk, LL_F32, M, K, "x");
    LlTensor *xr = tensor (ref, LL_F32, M, K, "x");
    LlTensor *wv = tensor (vk, wdt[k], Nn, K, "proj.weight");
    LlTensor *wr = tensor (ref, wdt[k], Nn, K, "proj.weight");
    LlTensor *ov = tensor (vk, LL_F32, M, Nn, "o");
    LlTensor *orr = tensor (ref, LL_F32, M, Nn, "o");
    g_assert_true (vk->ops->upload (vk, xv, 0, M, xd, &err));
    g_assert_true (ref->ops->upload (ref, xr, 0, M, xd, &err));
    g_assert_true (vk->ops->upload (vk, wv, 0, Nn, wh, &err));
    g_assert_true (ref->ops->upload (ref, wr, 0, Nn, wh, &err));
    vk->ops->matmul (vk, ov, xv, wv, NULL, NULL, LL_ACT_NONE, M);
    ref->ops->matmul (ref, orr, xr, wr, NULL, NULL, LL_ACT_NONE, M);
    float a[3 * 13], r[3 * 13];
    g_assert_true (vk->ops->download (vk, ov, 0, M, a, &err));
    g_assert_true (ref->ops->download (ref, orr, 0, M, r, &err));
    g_assert_no_error (err);
    double num = 0, den = 0;
    for (guint i = 0; i < M * Nn; i++) {
      num += (a[i] - r[i]) * (double) (a[i] - r[i]);
      den += r[i] * (double) r[i];
    }
    g_assert_cmpfloat (num / den, <, 1e-10);   /* as test-vk-ops' NMSE_MATMUL */
    LlTensor *fv[] = { xv, wv, ov }, *fr[] = { xr, wr, orr };
    for (guint i = 0; i < 3; i++) {
      vk->ops->tensor_free (vk, fv[i]);
      ref->ops->tensor_free (ref, fr[i]);
    }
    g_free (wh);
    g_free (xd);
    g_free (wd);
  }

  /* the data survives neighbours being freed and the space re-used */
  for (guint i = 1; i < N; i += 2) {
    vk->ops->tensor_free (vk, ts[i]);
    ts[i] = tensor (vk, LL_F32, 5, 7, "refill");
    upload_check (vk, ts[i], 1000 + i);
    weight[i] = FALSE;
  }
  check_placements (vk, ts, N, weight);
  for (guint i = 0; i < N; i++)
    if (ts[i]->dtype == LL_F32)
      download_check (vk, ts[i], i % 2 ? 1000 + i : i);
  for (guint i = 0; i < N; i++)
    vk->ops->tensor_free (vk, ts[i]);

  s = stats (vk);
  g_assert_cmpuint (s.tensor_bytes, ==, s0.tensor_bytes);
  g_assert_cmpuint (s.arena_used[0], ==, s0.arena_used[0]);
  g_assert_cmpuint (s.arena_used[1], ==, s0.arena_used[1]);
  /* empty blocks are freed; one per arena may be kept */
  g_assert_cmpuint (s.n_blocks[0], <=, 1);
  g_assert_cmpuint (s.n_blocks[1], <=, MAX (s0.n_blocks[1], 1));
  ll_backend_free (vk);
  ll_backend_free (ref);
}

/* A session's scratch made and freed per window, in a shuffled order and
 * freed in another, next to live weights and a KV cache: after the first
 * window device memory and block counts stay put. */
static void
test_scratch_reuse (void)
{
  LlBackend *vk = vk_new (SMALL_BLOCK, FALSE);
  GRand *rng = g_rand_new_with_seed (42);
  LlTensor *w[6], *kv = tensor (vk, LL_F16, 64, 72, "kv_cache.0.k");
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    w[i] = tensor (vk, LL_Q8_0, 17 + i, 100 + 9 * i, "blk.weight");
  static const guint32 rows[] = { 7, 729, 1, 33, 100, 3, 250, 12, 64 };
  enum { NS = G_N_ELEMENTS (rows) };
  LlVkMemoryStats first = { 0 };
  for (guint cycle = 0; cycle < 12; cycle++) {
    LlTensor *sc[NS] = { 0 };
    guint order[NS];
    for (guint i = 0; i < NS; i++)
      order[i] = i;
    for (guint i = NS - 1; i > 0; i--) {
      guint j = g_rand_int_range (rng, 0, i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (guint i = 0; i < NS; i++) {
      guint k = order[i];
      sc[k] = tensor (vk, k % 4 == 3 ? LL_I32 : LL_F32, rows[k], 37 + k,
          "scratch");
      if (sc[k]->dtype == LL_F32 && k % 2)
        upload_check (vk, sc[k], cycle * 100 + k);
    }
    for (guint k = 0; k < NS; k++)
      if (sc[k]->dtype == LL_F32 && k % 2)
        download_check (vk, sc[k], cycle * 100 + k);
    LlVkMemoryStats s = stats (vk);
    if (cycle == 0) {
      first = s;
      g_test_message ("one window: %" G_GUINT64_FORMAT " device bytes, "
          "%u + %u blocks", s.device_bytes, s.n_blocks[0], s.n_blocks[1]);
    } else {
      g_assert_cmpuint (s.device_bytes, ==, first.device_bytes);
      g_assert_cmpuint (s.n_blocks[1], ==, first.n_blocks[1]);
      g_assert_cmpuint (s.arena_used[1], ==, first.arena_used[1]);
      g_assert_cmpuint (s.device_peak, ==, first.device_peak);
    }
    /* free every other one first, then the rest (holes, then coalescing) */
    for (guint k = 0; k < NS; k += 2)
      vk->ops->tensor_free (vk, sc[order[k]]);
    for (guint k = 1; k < NS; k += 2)
      vk->ops->tensor_free (vk, sc[order[k]]);
  }
  LlVkMemoryStats s = stats (vk);
  g_assert_cmpuint (s.n_blocks[0], ==, first.n_blocks[0]);  /* weights untouched */
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    vk->ops->tensor_free (vk, w[i]);
  vk->ops->tensor_free (vk, kv);
  g_rand_free (rng);
  ll_backend_free (vk);
}

/* Freed neighbours merge: after many small tensors are freed, one tensor
 * of nearly their total size fits in the same block (without coalescing
 * the free list would be small pieces and a new block would be made). */
static void
test_coalescing (void)
{
  LlBackend *vk = vk_new (SMALL_BLOCK, FALSE);
  enum { N = 24 };
  LlTensor *ts[N];
  guint64 mems[N], off, size;
  for (guint i = 0; i < N; i++) {
    ts[i] = tensor (vk, LL_F32, 30, 100, "piece");     /* 12000 bytes */
    mems[i] = ll_backend_vulkan_tensor_placement (vk, ts[i], 0, &off, &size);
  }
  LlVkMemoryStats s0 = stats (vk);
  guint64 last = mems[N - 1];
  guint in_last = 0;
  for (guint i = 0; i < N; i++)
    in_last += mems[i] == last;
  g_assert_cmpuint (in_last, >=, 8);
  /* free in an order that leaves holes first */
  for (guint i = 0; i < N; i += 2)
    vk->ops->tensor_free (vk, ts[i]);
  for (guint i = 1; i < N; i += 2)
    vk->ops->tensor_free (vk, ts[i]);
  LlTensor *one = tensor (vk, LL_F32, 30 * (in_last - 1), 100, "one");
  g_assert_cmpuint (ll_backend_vulkan_tensor_placement (vk, one, 0, &off,
          &size), ==, last);
  LlVkMemoryStats s = stats (vk);
  g_assert_cmpuint (s.device_bytes, <=, s0.device_bytes);
  g_assert_cmpuint (s.device_peak, ==, s0.device_peak);
  upload_check (vk, one, 9);
  download_check (vk, one, 9);
  vk->ops->tensor_free (vk, one);
  ll_backend_free (vk);
}

/* Blocks that become empty are given back (one per arena may be kept). */
static void
test_empty_blocks_freed (void)
{
  LlBackend *vk = vk_new (SMALL_BLOCK, FALSE);
  LlVkMemoryStats s0 = stats (vk);
  enum { N = 64 };
  LlTensor *ts[N];
  for (guint i = 0; i < N; i++)
    ts[i] = tensor (vk, LL_F32, 100, 100, "act");       /* 40000 bytes */
  LlVkMemoryStats s1 = stats (vk);
  g_assert_cmpuint (s1.n_blocks[LL_VK_ARENA_ACTIVATIONS], >=, 4);
  for (guint i = 0; i < N; i++)
    vk->ops->tensor_free (vk, ts[i]);
  LlVkMemoryStats s = stats (vk);
  g_test_message ("%u blocks (%" G_GUINT64_FORMAT " bytes) for %u tensors, "
      "%u (%" G_GUINT64_FORMAT ") after freeing them", s1.n_blocks[1],
      s1.device_bytes, N, s.n_blocks[1], s.device_bytes);
  g_assert_cmpuint (s.n_blocks[LL_VK_ARENA_ACTIVATIONS], <=,
      s0.n_blocks[LL_VK_ARENA_ACTIVATIONS] + 1);
  g_assert_cmpuint (s.arena_used[1], ==, s0.arena_used[1]);
  g_assert_cmpuint (s.device_bytes, <=, s0.device_bytes + SMALL_BLOCK);
  g_assert_cmpuint (s.device_peak, ==, s1.device_bytes);
  ll_backend_free (vk);
}

/* A tensor over half a block gets its own allocation, freed with it; the
 * blocks are not touched. */
static void
test_larger_than_block (void)
{
  LlBackend *vk = vk_new (SMALL_BLOCK, FALSE);
  LlTensor *small = tensor (vk, LL_F32, 3, 5, "small");
  LlVkMemoryStats s0 = stats (vk);
  LlTensor *big = tensor (vk, LL_F32, 1000, 777, "big");   /* 3.1 MB > 1 MiB */
  LlTensor *half = tensor (vk, LL_F32, 1, (SMALL_BLOCK / 2) / 4 + 64, "half");
  LlVkMemoryStats s = stats (vk);
  g_assert_cmpuint (s.n_dedicated, ==, s0.n_dedicated + 2);
  g_assert_cmpuint (s.dedicated_bytes, >=, s0.dedicated_bytes + 1000 * 777 * 4
      + SMALL_BLOCK / 2);
  g_assert_cmpuint (s.n_blocks[1], ==, s0.n_blocks[1]);
  g_assert_cmpuint (s.device_peak, >=, s0.device_bytes + 1000 * 777 * 4);
  guint64 off, size;
  g_assert_cmpuint (ll_backend_vulkan_tensor_placement (vk, big, 0, &off,
          &size), !=, 0);
  g_assert_cmpuint (off, ==, 0);
  g_assert_cmpuint (size, >=, 1000 * 777 * 4);
  upload_check (vk, big, 3);
  upload_check (vk, small, 4);
  download_check (vk, big, 3);
  download_check (vk, small, 4);
  vk->ops->tensor_free (vk, big);
  vk->ops->tensor_free (vk, half);
  s = stats (vk);
  g_assert_cmpuint (s.n_dedicated, ==, s0.n_dedicated);
  g_assert_cmpuint (s.device_bytes, ==, s0.device_bytes);
  vk->ops->tensor_free (vk, small);
  ll_backend_free (vk);
}

/* Through the staging path (a discrete GPU's), uploads and downloads of
 * several sizes reuse one persistent staging buffer: no allocation per
 * transfer once it is large enough. */
static void
test_staging_reuse (void)
{
  LlBackend *vk = vk_new (SMALL_BLOCK, TRUE);
  LlTensor *a = tensor (vk, LL_F32, 100, 33, "a");
  LlTensor *c = tensor (vk, LL_F32, 7, 9, "c");
  upload_check (vk, a, 1);
  LlVkMemoryStats s0 = stats (vk);
  for (guint i = 0; i < 5; i++) {
    upload_check (vk, c, 10 + i);
    upload_check (vk, a, 20 + i);
    download_check (vk, c, 10 + i);
    download_check (vk, a, 20 + i);
    LlVkMemoryStats s = stats (vk);
    g_assert_cmpuint (s.n_dedicated, ==, s0.n_dedicated);
    g_assert_cmpuint (s.device_bytes, ==, s0.device_bytes);
  }
  vk->ops->tensor_free (vk, a);
  vk->ops->tensor_free (vk, c);
  ll_backend_free (vk);
}

/* Default block size: 24 weights of 1-2.5 MB (42 MB) fit in a handful of
 * blocks, at least half used, and the peak is device memory. */
static void
test_default_blocks (void)
{
  GError *err = NULL;
  g_unsetenv ("LLAVA_VK_ARENA_BLOCK");
  LlBackend *vk = ll_backend_vulkan_new (-1, &err);
  g_assert_no_error (err);
  LlVkMemoryStats s0 = stats (vk);
  g_assert_cmpuint (s0.block_size, >, 0);
  g_assert_cmpuint (s0.block_size, <=, 64u << 20);
  LlTensor *ts[24];
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    ts[i] = tensor (vk, i % 2 ? LL_F16 : LL_Q8_0, 896, 896 + 32 * i,
        "model.layers.x.weight");
  LlVkMemoryStats s = stats (vk);
  g_test_message ("24 weights, %" G_GUINT64_FORMAT " bytes: %u blocks, %"
      G_GUINT64_FORMAT " bytes held", s.tensor_bytes - s0.tensor_bytes,
      s.n_blocks[0], s.arena_bytes[0]);
  /* growing blocks of 1/8, 1/4, 1/2, 1 block_size (32 MiB) hold 60 MiB */
  g_assert_cmpuint (s.n_blocks[0], <=, 4);
  g_assert_cmpuint (s.n_dedicated, ==, s0.n_dedicated);
  /* packed: the blocks are mostly used */
  g_assert_cmpuint (s.arena_used[0], >=, s.arena_bytes[0] / 2);
  g_assert_cmpuint (vk->ops->memory_peak (vk), >=, s.device_bytes);
  g_assert_cmpuint (vk->ops->memory_peak (vk), >=, vk->ops->memory_in_use (vk));
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vk->ops->tensor_free (vk, ts[i]);
  ll_backend_free (vk);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vk/memory/sub-allocation", test_sub_allocation);
  g_test_add_func ("/vk/memory/scratch-reuse", test_scratch_reuse);
  g_test_add_func ("/vk/memory/coalescing", test_coalescing);
  g_test_add_func ("/vk/memory/empty-blocks-freed", test_empty_blocks_freed);
  g_test_add_func ("/vk/memory/larger-than-block", test_larger_than_block);
  g_test_add_func ("/vk/memory/staging-reuse", test_staging_reuse);
  g_test_add_func ("/vk/memory/default-blocks", test_default_blocks);
  return g_test_run ();
}
