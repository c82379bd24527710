/* test-sampler.c — the window/sampling rules of gst/llavasampler.c, frame by
 * frame, against offline oracles that see the whole stream at once. */
#include "llavasampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEC G_GUINT64_CONSTANT (1000000000)

/* ---- a fake "frame → payload" world that counts what is alive ---- */

typedef struct {
  guint id;
  guint64 pts;
  gboolean fail;            /* load fails */
} TestFrame;

typedef struct {
  int ref;
  guint id;
  guint64 pts;
  struct _Counters *c;
} TestPayload;

typedef struct _Counters {
  guint loads, live_payloads, held, max_held, max_live;
  GHashTable *loaded_ids;   /* id → times loaded */
} Counters;

static gpointer
t_load (gpointer frame, gpointer user_data, GError **err)
{
  Counters *c = user_data;
  TestFrame *f = frame;
  TestPayload *p;

  if (f->fail) {
    g_set_error (err, g_quark_from_static_string ("test"), 1, "frame %u bad",
        f->id);
    return NULL;
  }
  p = g_new0 (TestPayload, 1);
  p->ref = 1;
  p->id = f->id;
  p->pts = f->pts;
  p->c = c;
  c->loads++;
  c->live_payloads++;
  c->max_live = MAX (c->max_live, c->live_payloads);
  g_hash_table_insert (c->loaded_ids, GUINT_TO_POINTER (f->id + 1),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (c->loaded_ids,
                  GUINT_TO_POINTER (f->id + 1))) + 1));
  return p;
}

static gpointer
t_hold (gpointer frame, gpointer user_data)
{
  Counters *c = user_data;
  c->held++;
  c->max_held = MAX (c->max_held, c->held);
  return g_memdup2 (frame, sizeof (TestFrame));
}

static Counters *release_counters;      /* release has no user_data */

static void
t_release (gpointer held)
{
  release_counters->held--;
  g_free (held);
}

static gpointer
t_ref (gpointer payload)
{
  ((TestPayload *) payload)->ref++;
  return payload;
}

static void
t_unref (gpointer payload)
{
  TestPayload *p = payload;
  if (--p->ref == 0) {
    p->c->live_payloads--;
    g_free (p);
  }
}

static const LlavaSamplerFuncs funcs = { t_load, t_hold, t_release, t_ref,
  t_unref
};

typedef struct {
  Counters c;
  LlavaSampler *s;
  GPtrArray *windows;       /* LlavaWindow* popped so far */
} Fixture;

static void
fixture_init (Fixture *f)
{
  memset (f, 0, sizeof (*f));
  f->c.loaded_ids = g_hash_table_new (NULL, NULL);
  release_counters = &f->c;
  f->s = llava_sampler_new (&funcs, &f->c);
  f->windows = g_ptr_array_new_with_free_func ((GDestroyNotify)
      llava_window_free);
}

static void
fixture_pop_all (Fixture *f)
{
  LlavaWindow *w;
  while ((w = llava_sampler_pop (f->s)))
    g_ptr_array_add (f->windows, w);
}

static void
fixture_push (Fixture *f, guint id, guint64 pts, guint64 dur)
{
  TestFrame fr = { id, pts, FALSE };
  GError *err = NULL;
  g_assert_true (llava_sampler_push (f->s, pts, dur, &fr, &err));
  g_assert_no_error (err);
  fixture_pop_all (f);
  g_assert_cmpuint (f->c.held, <=, 1);
}

/* Everything is released: no payload or held frame leaks. */
static void
fixture_clear (Fixture *f)
{
  llava_sampler_free (f->s);
  g_ptr_array_free (f->windows, TRUE);
  g_assert_cmpuint (f->c.live_payloads, ==, 0);
  g_assert_cmpuint (f->c.held, ==, 0);
  g_hash_table_destroy (f->c.loaded_ids);
}

/* Payload ids of a window match its seq/pts (the window really holds the
 * frames it names). */
static void
check_window_payloads (const LlavaWindow *w, const guint64 *pts_of_id)
{
  for (guint i = 0; i < w->n_frames; i++) {
    const TestPayload *p = w->payloads[i];
    g_assert_cmpuint (p->pts, ==, w->pts[i]);
    if (pts_of_id)
      g_assert_cmpuint (pts_of_id[p->id], ==, w->pts[i]);
    if (i > 0)
      g_assert_cmpuint (w->pts[i], >, w->pts[i - 1]);
  }
}

static guint
unique (const int *in, guint n, guint *out)
{
  guint m = 0;
  for (guint i = 0; i < n; i++)
    if (m == 0 || out[m - 1] != (guint) in[i])
      out[m++] = in[i];
  return m;
}

/* ---- tests ---- */

static void
test_linspace_matches_numpy (void)
{
  const char *dir = g_getenv ("LLAVA_GST_TEST_DATA");
  g_autofree char *path = g_build_filename (dir ? dir : ".",
      "linspace-reference.txt", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GError *err = NULL;
  guint checked = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, &err));
  g_assert_no_error (err);
  lines = g_strsplit (text, "\n", -1);
  for (guint l = 0; lines[l]; l++) {
    guint n, N, got[LLAVA_SAMPLER_MAX_FRAMES], want[LLAVA_SAMPLER_MAX_FRAMES];
    int ref[LLAVA_SAMPLER_MAX_FRAMES];
    char *p;
    guint n_want, n_got;
    if (lines[l][0] == '#' || lines[l][0] == '\0')
      continue;
    n = strtoul (lines[l], &p, 10);
    N = strtoul (p, &p, 10);
    g_assert_true (*p == ':');
    p++;
    for (guint i = 0; i < N; i++)
      ref[i] = strtol (p, &p, 10);
    n_want = unique (ref, N, want);
    n_got = llava_linspace_indices (n, N, got);
    g_assert_cmpmem (got, n_got * sizeof (guint), want,
        n_want * sizeof (guint));
    checked++;
  }
  g_assert_cmpuint (checked, >, 3000);
}

/* The example: 30 frames at 10 fps, 3 s window. */
static void
test_cfr_clip_30_frames (void)
{
  const guint want[] = { 0, 3, 6, 9, 12, 16, 19, 22, 25, 29 };
  Fixture f;
  LlavaWindow *w;

  fixture_init (&f);
  llava_sampler_configure (f.s, 3 * SEC, 0, 10);
  llava_sampler_set_rate (f.s, 10, 1);
  for (guint i = 0; i < 30; i++)
    fixture_push (&f, i, i * SEC / 10, SEC / 10);
  g_assert_cmpuint (f.windows->len, ==, 0);     /* not closed before frame 30 */
  fixture_push (&f, 30, 3 * SEC, SEC / 10);
  g_assert_cmpuint (f.windows->len, ==, 1);
  w = f.windows->pdata[0];
  g_assert_true (w->complete);
  g_assert_cmpuint (w->start, ==, 0);
  g_assert_cmpuint (w->end, ==, 3 * SEC);
  g_assert_cmpuint (w->n_seen, ==, 30);
  g_assert_cmpmem (w->seq, w->n_frames * sizeof (guint), want, sizeof (want));
  for (guint i = 0; i < w->n_frames; i++)
    g_assert_cmpuint (w->pts[i], ==, want[i] * SEC / 10);
  check_window_payloads (w, NULL);
  /* frames are reduced on arrival: 10 sampled + the first 10 kept in case
   * the window ended early (overlapping 0,3,6,9) = 16 loads, not 30 */
  g_assert_cmpuint (f.c.loads, ==, 16 + 1);     /* + frame 30 (window 1) */
  g_assert_cmpuint (f.c.max_held, ==, 0);
  fixture_clear (&f);
}

/* Offline oracle for constant rate: frame i at ideal time i/fps counts in
 * window k when k·stride <= t_i + T/2 < k·stride + D (the grid rule);
 * expected seq = linspace over the window's n frames. */
static void
check_cfr_stream (int fps_n, int fps_d, guint64 D, guint64 S, guint N,
    guint n_total, guint64 t0)
{
  Fixture f;
  guint64 *pts = g_new (guint64, n_total);
  double T = 1e9 * fps_d / fps_n;
  guint n_windows_expected = 0;

  fixture_init (&f);
  llava_sampler_configure (f.s, D, S, N);
  llava_sampler_set_rate (f.s, fps_n, fps_d);
  for (guint i = 0; i < n_total; i++) {
    /* as gst_util_uint64_scale (i, GST_SECOND * fps_d, fps_n): rounded down */
    pts[i] = t0 + (guint64) (((unsigned __int128) i * SEC * fps_d) / fps_n);
    fixture_push (&f, i, pts[i], LLAVA_SAMPLER_NONE);
  }
  for (guint64 k = 0;; k++) {
    double ws = (double) (k * (S ? S : D)), we = ws + (double) D;
    int idx[4096];
    guint n = 0, want[LLAVA_SAMPLER_MAX_FRAMES], n_want;
    /* only windows that closed (a later frame past their end) */
    if ((n_total - 1) * T + T / 2 < we)
      break;
    for (guint i = 0; i < n_total; i++) {
      double e = i * T + T / 2;
      if (e >= ws && e < we)
        idx[n++] = i;
    }
    if (n == 0)
      continue;
    {
      guint lin[LLAVA_SAMPLER_MAX_FRAMES];
      guint nl = llava_linspace_indices (n, N, lin);
      n_want = 0;
      for (guint j = 0; j < nl; j++)
        want[n_want++] = idx[lin[j]];
    }
    g_assert_cmpuint (n_windows_expected, <, f.windows->len);
    {
      LlavaWindow *w = f.windows->pdata[n_windows_expected];
      g_assert_cmpuint (w->index, ==, k);
      g_assert_cmpuint (w->n_seen, ==, n);
      g_assert_cmpuint (w->n_frames, ==, n_want);
      for (guint j = 0; j < n_want; j++)
        g_assert_cmpuint (((TestPayload *) w->payloads[j])->id, ==, want[j]);
      check_window_payloads (w, pts);
    }
    n_windows_expected++;
  }
  g_assert_cmpuint (f.windows->len, ==, n_windows_expected);
  g_assert_cmpuint (n_windows_expected, >, 0);
  /* every frame loaded at most once, even when windows overlap */
  {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, f.c.loaded_ids);
    while (g_hash_table_iter_next (&it, &k, &v))
      g_assert_cmpuint (GPOINTER_TO_UINT (v), ==, 1);
  }
  g_assert_cmpuint (f.c.max_held, ==, 0);
  fixture_clear (&f);
  g_free (pts);
}

static void
test_cfr_rates (void)
{
  check_cfr_stream (10, 1, 3 * SEC, 0, 10, 95, 0);
  check_cfr_stream (30, 1, 10 * SEC, 0, 10, 1000, 0);
  /* 29.97: timestamps rounded to ns, windows not a whole number of frames */
  check_cfr_stream (30000, 1001, 2 * SEC, 0, 10, 400, 0);
  check_cfr_stream (24000, 1001, 1 * SEC, 0, 16, 200, 5 * SEC);
  check_cfr_stream (60, 1, SEC / 2, 0, 10, 200, 123456789);
  /* fewer frames than N per window: all of them */
  check_cfr_stream (2, 1, 3 * SEC, 0, 10, 20, 0);
  check_cfr_stream (25, 1, 4 * SEC, 0, 1, 300, 0);
}

static void
test_cfr_overlap (void)
{
  check_cfr_stream (10, 1, 3 * SEC, 3 * SEC / 2, 10, 100, 0);
  check_cfr_stream (30, 1, 2 * SEC, SEC / 2, 8, 300, 0);
  check_cfr_stream (30000, 1001, 3 * SEC, SEC, 10, 300, 0);
  /* stride longer than the window: frames between windows are unused */
  check_cfr_stream (10, 1, 1 * SEC, 2 * SEC, 5, 100, 0);
}

/* Offline oracle for variable rate: targets start + i·D/N, latest frame at
 * or before each (the first frame for targets before it); all frames when
 * the window has at most N. */
static void
check_vfr_stream (const guint64 *pts, guint n_total, guint64 D, guint64 S,
    guint N)
{
  Fixture f;
  guint n_windows = 0;
  guint64 stride = S ? S : D;

  fixture_init (&f);
  llava_sampler_configure (f.s, D, S, N);
  llava_sampler_set_rate (f.s, 0, 1);
  for (guint i = 0; i < n_total; i++)
    fixture_push (&f, i, pts[i], LLAVA_SAMPLER_NONE);

  for (guint64 k = 0;; k++) {
    guint64 ws = pts[0] + k * stride, we = ws + D;
    guint first = G_MAXUINT, n = 0, want[LLAVA_SAMPLER_MAX_FRAMES], n_want = 0;
    if (pts[n_total - 1] < we)
      break;                    /* not closed */
    for (guint i = 0; i < n_total; i++)
      if (pts[i] >= ws && pts[i] < we) {
        if (first == G_MAXUINT)
          first = i;
        n++;
      }
    if (n == 0)
      continue;
    if (n <= N) {
      for (guint i = 0; i < n; i++)
        want[n_want++] = first + i;
    } else {
      for (guint t = 0; t < N; t++) {
        guint64 T = ws + t * D / N;
        guint best = first;
        for (guint i = first; i < first + n; i++)
          if (pts[i] <= T)
            best = i;
        if (n_want == 0 || want[n_want - 1] != best)
          want[n_want++] = best;
      }
    }
    g_assert_cmpuint (n_windows, <, f.windows->len);
    {
      LlavaWindow *w = f.windows->pdata[n_windows];
      g_assert_cmpuint (w->index, ==, k);
      g_assert_cmpuint (w->start, ==, ws);
      g_assert_cmpuint (w->n_seen, ==, n);
      g_assert_cmpuint (w->n_frames, ==, n_want);
      for (guint j = 0; j < n_want; j++)
        g_assert_cmpuint (((TestPayload *) w->payloads[j])->id, ==, want[j]);
      check_window_payloads (w, pts);
    }
    n_windows++;
  }
  g_assert_cmpuint (f.windows->len, ==, n_windows);
  g_assert_cmpuint (n_windows, >, 0);
  fixture_clear (&f);
}

static void
test_vfr_latest_before_target (void)
{
  GRand *r = g_rand_new_with_seed (7);

  for (guint round = 0; round < 40; round++) {
    guint n = g_rand_int_range (r, 5, 400);
    guint64 *pts = g_new (guint64, n);
    guint64 t = g_rand_int_range (r, 0, 1000) * G_GUINT64_CONSTANT (1000000);
    guint64 D = g_rand_int_range (r, 1, 40) * SEC / 10;
    guint64 S = round % 3 == 0 ? D / 2 : 0;
    guint N = g_rand_int_range (r, 1, 17);
    for (guint i = 0; i < n; i++) {
      pts[i] = t;
      /* bursts, pauses and jitter */
      t += g_rand_int_range (r, 1, 4) == 1
          ? g_rand_int_range (r, 1, 3000) * G_GUINT64_CONSTANT (1000000)
          : g_rand_int_range (r, 1, 100) * G_GUINT64_CONSTANT (1000000);
    }
    check_vfr_stream (pts, n, D, S, N);
    g_free (pts);
  }
  g_rand_free (r);
}

/* The golden clip's 30 frames at 100 ms with caps framerate=0/1: the
 * variable-rate rule picks 0,3,…,27 — the golden frames/frame_KK.png. */
static void
test_vfr_clip_golden_indices (void)
{
  const guint want[] = { 0, 3, 6, 9, 12, 15, 18, 21, 24, 27 };
  Fixture f;
  LlavaWindow *w;

  fixture_init (&f);
  llava_sampler_configure (f.s, 3 * SEC, 0, 10);
  llava_sampler_set_rate (f.s, 0, 1);
  for (guint i = 0; i < 30; i++)
    fixture_push (&f, i, i * SEC / 10, SEC / 10);
  llava_sampler_drain (f.s);
  fixture_pop_all (&f);
  g_assert_cmpuint (f.windows->len, ==, 1);
  w = f.windows->pdata[0];
  g_assert_false (w->complete);
  g_assert_cmpuint (w->end, ==, 3 * SEC);       /* last frame 2.9 s + 0.1 s */
  g_assert_cmpmem (w->seq, w->n_frames * sizeof (guint), want, sizeof (want));
  g_assert_cmpuint (f.c.max_held, <=, 1);
  fixture_clear (&f);
}

/* EOS after 5 frames of a 3 s / 10 frame window: all 5, cut short. */
static void
test_drain_fewer_than_n (void)
{
  Fixture f;
  LlavaWindow *w;

  for (int rate = 0; rate < 2; rate++) {
    fixture_init (&f);
    llava_sampler_configure (f.s, 3 * SEC, 0, 10);
    llava_sampler_set_rate (f.s, rate ? 10 : 0, 1);
    for (guint i = 0; i < 5; i++)
      fixture_push (&f, i, SEC + i * SEC / 10, SEC / 10);
    g_assert_cmpuint (f.windows->len, ==, 0);
    llava_sampler_drain (f.s);
    fixture_pop_all (&f);
    g_assert_cmpuint (f.windows->len, ==, 1);
    w = f.windows->pdata[0];
    g_assert_false (w->complete);
    g_assert_cmpuint (w->start, ==, SEC);
    g_assert_cmpuint (w->end, ==, SEC + 5 * SEC / 10);
    g_assert_cmpuint (w->n_frames, ==, 5);
    for (guint i = 0; i < 5; i++)
      g_assert_cmpuint (w->seq[i], ==, i);
    fixture_clear (&f);
  }
}

/* EOS after 20 of 30 frames at a constant rate: the planned frames so far. */
static void
test_drain_partial_cfr (void)
{
  const guint want[] = { 0, 3, 6, 9, 12, 16, 19 };
  Fixture f;
  LlavaWindow *w;

  fixture_init (&f);
  llava_sampler_configure (f.s, 3 * SEC, 0, 10);
  llava_sampler_set_rate (f.s, 10, 1);
  for (guint i = 0; i < 20; i++)
    fixture_push (&f, i, i * SEC / 10, SEC / 10);
  llava_sampler_drain (f.s);
  fixture_pop_all (&f);
  g_assert_cmpuint (f.windows->len, ==, 1);
  w = f.windows->pdata[0];
  g_assert_cmpmem (w->seq, w->n_frames * sizeof (guint), want, sizeof (want));
  g_assert_cmpuint (w->end, ==, 2 * SEC);
  /* after a drain the next frame starts a new origin */
  fixture_push (&f, 100, 50 * SEC, SEC / 10);
  llava_sampler_drain (f.s);
  fixture_pop_all (&f);
  g_assert_cmpuint (f.windows->len, ==, 2);
  w = f.windows->pdata[1];
  g_assert_cmpuint (w->start, ==, 50 * SEC);
  g_assert_cmpuint (w->index, ==, 0);
  fixture_clear (&f);
}

/* Memory stays bounded whatever the stream length: payloads alive are at
 * most the sampled + first-N frames of the open windows, one raw frame held. */
static void
test_memory_bounded (void)
{
  Fixture f;

  for (int rate = 0; rate < 2; rate++) {
    fixture_init (&f);
    llava_sampler_configure (f.s, 10 * SEC, 5 * SEC, 10);
    llava_sampler_set_rate (f.s, rate ? 30 : 0, 1);
    for (guint i = 0; i < 3000; i++) {
      fixture_push (&f, i, i * SEC / 30, SEC / 30);
      /* windows are consumed as they close */
      g_ptr_array_set_size (f.windows, 0);
    }
    /* 2 overlapping windows × (10 picks + 10 firsts) + the current frame */
    g_assert_cmpuint (f.c.max_live, <=, 2 * 20 + 2);
    g_assert_cmpuint (f.c.max_held, <=, 1);
    /* ~20 loads per window, not 300 */
    g_assert_cmpuint (f.c.loads, <, 3000 / 5);
    fixture_clear (&f);
  }
}

static void
test_rate_change_drains (void)
{
  Fixture f;

  fixture_init (&f);
  llava_sampler_configure (f.s, 3 * SEC, 0, 10);
  llava_sampler_set_rate (f.s, 10, 1);
  for (guint i = 0; i < 12; i++)
    fixture_push (&f, i, i * SEC / 10, SEC / 10);
  g_assert_false (llava_sampler_set_rate (f.s, 20, 2));  /* same rate */
  g_assert_true (llava_sampler_set_rate (f.s, 25, 1));
  fixture_pop_all (&f);
  g_assert_cmpuint (f.windows->len, ==, 1);
  g_assert_false (((LlavaWindow *) f.windows->pdata[0])->complete);
  g_assert_cmpuint (llava_sampler_n_open (f.s), ==, 0);
  fixture_push (&f, 12, 12 * SEC / 10, SEC / 25);
  g_assert_cmpuint (llava_sampler_n_open (f.s), ==, 1);
  fixture_clear (&f);
}

static void
test_backwards_and_gaps (void)
{
  Fixture f;
  LlavaWindow *w;

  fixture_init (&f);
  llava_sampler_configure (f.s, SEC, 0, 4);
  llava_sampler_set_rate (f.s, 10, 1);
  for (guint i = 0; i < 10; i++)
    fixture_push (&f, i, i * SEC / 10, SEC / 10);
  fixture_push (&f, 99, SEC / 2, SEC / 10);     /* backwards: ignored */
  /* an hour-long gap closes window 0 and opens only the window of the
   * frame, not the 3600 empty ones in between */
  fixture_push (&f, 10, 3600 * SEC + SEC / 10, SEC / 10);
  g_assert_cmpuint (f.windows->len, ==, 1);
  w = f.windows->pdata[0];
  g_assert_cmpuint (w->n_seen, ==, 10);
  g_assert_cmpuint (llava_sampler_n_open (f.s), ==, 1);
  llava_sampler_drain (f.s);
  fixture_pop_all (&f);
  g_assert_cmpuint (f.windows->len, ==, 2);
  w = f.windows->pdata[1];
  g_assert_cmpuint (w->index, ==, 3600);
  g_assert_cmpuint (w->start, ==, 3600 * SEC);
  fixture_clear (&f);
}

static void
test_load_error (void)
{
  Fixture f;
  LlavaWindow *w;
  GError *err = NULL;

  fixture_init (&f);
  llava_sampler_configure (f.s, SEC, 0, 10);
  llava_sampler_set_rate (f.s, 10, 1);
  for (guint i = 0; i < 10; i++) {
    TestFrame fr = { i, i * SEC / 10, i == 4 };
    gboolean ok = llava_sampler_push (f.s, fr.pts, SEC / 10, &fr, &err);
    if (i == 4) {
      g_assert_false (ok);
      g_assert_error (err, g_quark_from_static_string ("test"), 1);
      g_clear_error (&err);
    } else {
      g_assert_true (ok);
      g_assert_no_error (err);
    }
  }
  llava_sampler_drain (f.s);
  fixture_pop_all (&f);
  w = f.windows->pdata[0];
  g_assert_cmpuint (w->n_seen, ==, 10);
  g_assert_cmpuint (w->n_frames, ==, 9);
  for (guint i = 0; i < w->n_frames; i++)
    g_assert_cmpuint (w->seq[i], !=, 4);
  fixture_clear (&f);
}

static void
test_reset_forgets (void)
{
  Fixture f;

  fixture_init (&f);
  llava_sampler_configure (f.s, SEC, SEC / 4, 10);
  llava_sampler_set_rate (f.s, 0, 1);
  for (guint i = 0; i < 37; i++)
    fixture_push (&f, i, i * SEC / 7, LLAVA_SAMPLER_NONE);
  g_assert_cmpuint (llava_sampler_n_open (f.s), >, 1);
  llava_sampler_reset (f.s);
  g_assert_cmpuint (llava_sampler_n_open (f.s), ==, 0);
  g_assert_null (llava_sampler_pop (f.s));
  g_ptr_array_set_size (f.windows, 0);
  g_assert_cmpuint (f.c.live_payloads, ==, 0);
  g_assert_cmpuint (f.c.held, ==, 0);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sampler/linspace/matches-numpy",
      test_linspace_matches_numpy);
  g_test_add_func ("/sampler/cfr/clip-30-frames", test_cfr_clip_30_frames);
  g_test_add_func ("/sampler/cfr/rates", test_cfr_rates);
  g_test_add_func ("/sampler/cfr/overlap", test_cfr_overlap);
  g_test_add_func ("/sampler/vfr/latest-before-target",
      test_vfr_latest_before_target);
  g_test_add_func ("/sampler/vfr/clip-golden-indices",
      test_vfr_clip_golden_indices);
  g_test_add_func ("/sampler/drain/fewer-than-n", test_drain_fewer_than_n);
  g_test_add_func ("/sampler/drain/partial-cfr", test_drain_partial_cfr);
  g_test_add_func ("/sampler/memory-bounded", test_memory_bounded);
  g_test_add_func ("/sampler/rate-change-drains", test_rate_change_drains);
  g_test_add_func ("/sampler/backwards-and-gaps", test_backwards_and_gaps);
  g_test_add_func ("/sampler/load-error", test_load_error);
  g_test_add_func ("/sampler/reset-forgets", test_reset_forgets);
  return g_test_run ();
}
