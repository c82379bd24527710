/* llavasampler.c — windows by PTS and frame sampling; see llavasampler.h. */
#include "llavasampler.h"

#include <math.h>
#include <string.h>

#define NS_PER_S 1000000000.0

typedef struct {
  guint64 pts;
  guint seq;                /* index among the window's frames */
  gpointer payload;         /* reference */
} Pick;

typedef struct {
  guint64 index, start, end;
  guint n_seen;
  guint64 last_pts, last_end;
  gboolean cfr;             /* constant-rate rule (decided at open) */
  /* constant rate: frame f0 = first frame, n frames expected */
  guint64 f0;
  guint n_expected;
  guint target_idx[LLAVA_SAMPLER_MAX_FRAMES];
  /* variable rate: target times */
  guint64 target_t[LLAVA_SAMPLER_MAX_FRAMES];
  guint n_targets, next_target;
  GArray *picks;            /* Pick: frames chosen by the rule */
  GArray *firsts;           /* Pick: the first N frames (dropped past N) */
} OpenWindow;

/* The frame being pushed, or the previous one kept for the variable-rate
 * "latest at or before" rule. */
typedef struct {
  gboolean valid;
  guint64 pts;
  gpointer frame;           /* push argument or held handle */
  gboolean held;            /* frame came from funcs->hold */
  gpointer payload;         /* loaded once, shared by windows (reference) */
  gboolean load_failed;
} FrameSlot;

struct _LlavaSampler {
  LlavaSamplerFuncs funcs;
  gpointer user_data;
  guint64 duration, stride;
  guint n_frames;
  int fps_n, fps_d;         /* 0/0: variable */

  guint64 origin;           /* NONE until the first frame after a reset */
  guint64 next_index;       /* first window not opened yet */
  guint64 last_pts;
  GQueue open;              /* OpenWindow*, ascending index */
  GQueue ready;             /* LlavaWindow* */
  FrameSlot prev;
  GError *load_error;       /* first load error of the current push */
};

/* ---- helpers ---- */

guint
llava_linspace_indices (guint n, guint n_frames, guint *out)
{
  guint n_out = 0;

  /* numpy: step = delta / div; y = arange (num) * step; y[-1] = stop;
   * astype (int) truncates.  num == 1 gives [start]. */
  for (guint i = 0; i < n_frames; i++) {
    guint v;
    if (n_frames == 1 || n == 0)
      v = 0;
    else if (i == n_frames - 1)
      v = n - 1;
    else {
      double step = (double) (n - 1) / (double) (n_frames - 1);
      v = (guint) ((double) i * step);
    }
    if (n_out == 0 || out[n_out - 1] != v)
      out[n_out++] = v;
  }
  return n_out;
}

static gboolean
sampler_cfr (const LlavaSampler *s)
{
  return s->fps_n > 0 && s->fps_d > 0;
}

/* Half a frame period (ns) at a constant rate, else 0. */
static guint64
half_period (const LlavaSampler *s)
{
  if (!sampler_cfr (s))
    return 0;
  return (guint64) (NS_PER_S * s->fps_d / s->fps_n / 2.0);
}

/* Frame periods between two timestamps at the current rate. */
static double
periods (const LlavaSampler *s, guint64 from, guint64 to)
{
  return (double) (to - from) * s->fps_n / (s->fps_d * NS_PER_S);
}

static void
pick_clear (const LlavaSampler *s, Pick *p)
{
  if (p->payload)
    s->funcs.payload_unref (p->payload);
  p->payload = NULL;
}

static void
picks_free (const LlavaSampler *s, GArray *a)
{
  if (!a)
    return;
  for (guint i = 0; i < a->len; i++)
    pick_clear (s, &g_array_index (a, Pick, i));
  g_array_free (a, TRUE);
}

static void
open_window_free (const LlavaSampler *s, OpenWindow *w)
{
  if (!w)
    return;
  picks_free (s, w->picks);
  picks_free (s, w->firsts);
  g_free (w);
}

static void
slot_clear (LlavaSampler *s, FrameSlot *f)
{
  if (f->payload)
    s->funcs.payload_unref (f->payload);
  if (f->held && f->frame && s->funcs.release)
    s->funcs.release (f->frame);
  memset (f, 0, sizeof (*f));
}

/* The payload of a frame slot, loading it the first time (NULL on error,
 * which is remembered in s->load_error and not retried). */
static gpointer
slot_payload (LlavaSampler *s, FrameSlot *f)
{
  GError *err = NULL;

  if (f->payload || f->load_failed)
    return f->payload;
  f->payload = s->funcs.load (f->frame, s->user_data, &err);
  if (!f->payload) {
    f->load_failed = TRUE;
    if (!err)
      err = g_error_new (g_quark_from_static_string ("llava-sampler-error"),
          0, "frame at %"
          G_GUINT64_FORMAT " ns could not be loaded", f->pts);
    if (!s->load_error)
      s->load_error = err;
    else
      g_error_free (err);
  }
  return f->payload;
}

/* Appends frame f (index seq in w) to `a` unless it is already its last. */
static void
add_pick (LlavaSampler *s, GArray *a, FrameSlot *f, guint seq)
{
  gpointer payload;
  Pick p;

  if (a->len > 0 && g_array_index (a, Pick, a->len - 1).seq == seq)
    return;
  payload = slot_payload (s, f);
  if (!payload)
    return;
  p.pts = f->pts;
  p.seq = seq;
  p.payload = s->funcs.payload_ref (payload);
  g_array_append_val (a, p);
}

/* ---- windows ---- */

static OpenWindow *
open_window (LlavaSampler *s, guint64 k, guint64 first_pts)
{
  OpenWindow *w = g_new0 (OpenWindow, 1);

  w->index = k;
  w->start = s->origin + k * s->stride;
  w->end = w->start + s->duration;
  w->picks = g_array_new (FALSE, FALSE, sizeof (Pick));
  w->firsts = g_array_new (FALSE, FALSE, sizeof (Pick));
  w->cfr = sampler_cfr (s);
  w->f0 = first_pts;
  if (w->cfr) {
    /* frames f0 + j·T with f0 + j·T + T/2 < end: j < (end - f0)/T - 1/2.
     * The half period makes the count exact for rounded timestamps; the
     * 1e-6 absorbs float noise when (end - f0)/T is an integer + 1/2. */
    double x = 0.0;
    if (w->end > first_pts)
      x = periods (s, first_pts, w->end) - 0.5;
    w->n_expected = (guint) MAX (1.0, ceil (x - 1e-6));
    w->n_targets = llava_linspace_indices (w->n_expected, s->n_frames,
        w->target_idx);
  } else {
    for (guint i = 0; i < s->n_frames; i++)
      w->target_t[i] = w->start + (i * s->duration) / s->n_frames;
    w->n_targets = s->n_frames;
  }
  return w;
}

/* Variable rate: targets earlier than `now` are settled by the window's
 * latest frame (s->prev, when it belongs to w). */
static void
settle_targets_before (LlavaSampler *s, OpenWindow *w, guint64 now)
{
  gboolean any = FALSE;

  if (w->cfr || w->n_seen == 0)
    return;
  while (w->next_target < w->n_targets && w->target_t[w->next_target] < now) {
    w->next_target++;
    any = TRUE;
  }
  if (any && s->prev.valid && s->prev.pts == w->last_pts)
    add_pick (s, w->picks, &s->prev, w->n_seen - 1);
}

static LlavaWindow *
close_window (LlavaSampler *s, OpenWindow *w, gboolean complete)
{
  LlavaWindow *out = g_new0 (LlavaWindow, 1);
  GArray *use;

  /* targets after the last frame: the last frame is the latest before them */
  settle_targets_before (s, w, G_MAXUINT64);

  out->index = w->index;
  out->start = w->start;
  out->end = complete ? w->end : MIN (w->end, w->last_end);
  out->complete = complete;
  out->n_seen = w->n_seen;
  out->payload_unref = s->funcs.payload_unref;

  use = w->n_seen <= s->n_frames && w->firsts ? w->firsts : w->picks;
  out->n_frames = use->len;
  out->pts = g_new (guint64, MAX (1, use->len));
  out->seq = g_new (guint, MAX (1, use->len));
  out->payloads = g_new0 (gpointer, MAX (1, use->len));
  for (guint i = 0; i < use->len; i++) {
    Pick *p = &g_array_index (use, Pick, i);
    out->pts[i] = p->pts;
    out->seq[i] = p->seq;
    out->payloads[i] = p->payload;      /* reference moves */
    p->payload = NULL;
  }
  open_window_free (s, w);
  return out;
}

void
llava_window_free (LlavaWindow *w)
{
  if (!w)
    return;
  for (guint i = 0; i < w->n_frames; i++)
    if (w->payloads[i] && w->payload_unref)
      w->payload_unref (w->payloads[i]);
  g_free (w->pts);
  g_free (w->seq);
  g_free (w->payloads);
  g_free (w);
}

/* Adds the current frame (s-side slot `cur`) to open window w. */
static void
window_add_frame (LlavaSampler *s, OpenWindow *w, FrameSlot *cur,
    guint64 duration)
{
  guint seq = w->n_seen;

  if (w->cfr) {
    double j_f = periods (s, w->f0, cur->pts);
    guint j = (guint) floor (j_f + 0.5);
    gboolean take = FALSE;
    /* targets skipped by missing frames are served by this one */
    while (w->next_target < w->n_targets && w->target_idx[w->next_target] < j) {
      w->next_target++;
      take = TRUE;
    }
    if (w->next_target < w->n_targets && w->target_idx[w->next_target] == j) {
      w->next_target++;
      take = TRUE;
    }
    if (take)
      add_pick (s, w->picks, cur, seq);
  } else if (w->n_seen == 0) {
    /* targets at or before the first frame: nothing earlier exists in the
     * window, the first frame serves them */
    gboolean take = FALSE;
    while (w->next_target < w->n_targets
        && w->target_t[w->next_target] <= cur->pts) {
      w->next_target++;
      take = TRUE;
    }
    if (take)
      add_pick (s, w->picks, cur, seq);
  }

  if (w->firsts) {
    if (w->n_seen < s->n_frames)
      add_pick (s, w->firsts, cur, seq);
    else {
      /* more than N frames: the rule decides, the first N are not needed */
      picks_free (s, w->firsts);
      w->firsts = NULL;
    }
  }

  w->n_seen++;
  w->last_pts = cur->pts;
  if (duration != LLAVA_SAMPLER_NONE)
    w->last_end = cur->pts + duration;
  else if (sampler_cfr (s))
    w->last_end = cur->pts + 2 * half_period (s);
  else
    w->last_end = w->end;
}

/* Does the variable-rate rule of w still need the frame just added? */
static gboolean
window_may_need_last (const OpenWindow *w)
{
  return !w->cfr && w->next_target < w->n_targets;
}

static void
close_all (LlavaSampler *s, gboolean complete)
{
  OpenWindow *w;

  while ((w = g_queue_pop_head (&s->open)))
    g_queue_push_tail (&s->ready, close_window (s, w, complete));
  slot_clear (s, &s->prev);
  s->origin = LLAVA_SAMPLER_NONE;
  s->next_index = 0;
  s->last_pts = LLAVA_SAMPLER_NONE;
}

/* ---- public ---- */

LlavaSampler *
llava_sampler_new (const LlavaSamplerFuncs *funcs, gpointer user_data)
{
  LlavaSampler *s = g_new0 (LlavaSampler, 1);

  s->funcs = *funcs;
  s->user_data = user_data;
  g_queue_init (&s->open);
  g_queue_init (&s->ready);
  llava_sampler_configure (s, 10 * (guint64) NS_PER_S, 0, 10);
  return s;
}

void
llava_sampler_free (LlavaSampler *s)
{
  if (!s)
    return;
  llava_sampler_reset (s);
  g_free (s);
}

void
llava_sampler_configure (LlavaSampler *s, guint64 duration, guint64 stride,
    guint n_frames)
{
  llava_sampler_reset (s);
  s->duration = MAX (duration, 1);
  s->stride = stride ? stride : s->duration;
  s->stride = MAX (s->stride, (s->duration + LLAVA_SAMPLER_MAX_OVERLAP - 1)
      / LLAVA_SAMPLER_MAX_OVERLAP);
  s->n_frames = CLAMP (n_frames, 1, LLAVA_SAMPLER_MAX_FRAMES);
}

guint64
llava_sampler_get_stride (const LlavaSampler *s)
{
  return s->stride;
}

gboolean
llava_sampler_set_rate (LlavaSampler *s, int fps_n, int fps_d)
{
  gboolean drained = FALSE;

  if (fps_n <= 0 || fps_d <= 0)
    fps_n = fps_d = 0;
  /* compare as rationals: 20/2 is 10/1 */
  if ((gint64) fps_n * MAX (s->fps_d, 1) == (gint64) s->fps_n * MAX (fps_d, 1)
      && (fps_n == 0) == (s->fps_n == 0))
    return FALSE;
  if (s->open.length > 0) {
    close_all (s, FALSE);
    drained = TRUE;
  }
  s->origin = LLAVA_SAMPLER_NONE;
  s->fps_n = fps_n;
  s->fps_d = fps_d;
  return drained;
}

gboolean
llava_sampler_push (LlavaSampler *s, guint64 pts, guint64 duration,
    gpointer frame, GError **err)
{
  FrameSlot cur = { TRUE, pts, frame, FALSE, NULL, FALSE };
  guint64 e, half = half_period (s);
  gboolean need_hold = FALSE;
  OpenWindow *w;

  if (pts == LLAVA_SAMPLER_NONE)
    return TRUE;
  if (s->last_pts != LLAVA_SAMPLER_NONE && pts < s->last_pts)
    return TRUE;                /* backwards: not ours to guess */
  s->last_pts = pts;

  if (s->origin == LLAVA_SAMPLER_NONE) {
    s->origin = pts;
    s->next_index = 0;
  }
  e = pts + half;               /* where the frame counts on the window grid */

  /* 1. windows that end before this frame: settle and close */
  while ((w = g_queue_peek_head (&s->open)) && w->end <= e) {
    g_queue_pop_head (&s->open);
    g_queue_push_tail (&s->ready, close_window (s, w, TRUE));
  }

  /* 2. variable-rate targets passed by this frame go to the previous one */
  for (GList * l = s->open.head; l; l = l->next)
    settle_targets_before (s, l->data, pts);
  slot_clear (s, &s->prev);

  /* 3. open the windows this frame starts: k·stride <= e - origin <
   * k·stride + duration */
  {
    guint64 rel = e - s->origin;
    guint64 k_max = rel / s->stride;
    guint64 k_min = rel < s->duration ? 0
        : (rel - s->duration) / s->stride + 1;
    for (guint64 k = MAX (k_min, s->next_index); k <= k_max; k++) {
      g_queue_push_tail (&s->open, open_window (s, k, pts));
      s->next_index = k + 1;
    }
  }

  /* 4. add the frame to every open window */
  for (GList * l = s->open.head; l; l = l->next) {
    window_add_frame (s, l->data, &cur, duration);
    need_hold |= window_may_need_last (l->data);
  }

  /* 5. keep it (loaded, or raw when not loaded yet) for step 2 next time */
  if (need_hold) {
    s->prev = cur;
    if (!cur.payload && !cur.load_failed) {
      s->prev.frame = s->funcs.hold (frame, s->user_data);
      s->prev.held = TRUE;
    } else
      s->prev.frame = NULL;
  } else if (cur.payload)
    s->funcs.payload_unref (cur.payload);

  if (s->load_error) {
    g_propagate_error (err, s->load_error);
    s->load_error = NULL;
    return FALSE;
  }
  return TRUE;
}

void
llava_sampler_drain (LlavaSampler *s)
{
  close_all (s, FALSE);
  if (s->load_error)
    g_clear_error (&s->load_error);
}

void
llava_sampler_reset (LlavaSampler *s)
{
  OpenWindow *w;
  LlavaWindow *r;

  while ((w = g_queue_pop_head (&s->open)))
    open_window_free (s, w);
  while ((r = g_queue_pop_head (&s->ready)))
    llava_window_free (r);
  slot_clear (s, &s->prev);
  g_clear_error (&s->load_error);
  s->origin = LLAVA_SAMPLER_NONE;
  s->next_index = 0;
  s->last_pts = LLAVA_SAMPLER_NONE;
}

LlavaWindow *
llava_sampler_pop (LlavaSampler *s)
{
  return g_queue_pop_head (&s->ready);
}

guint
llava_sampler_n_open (const LlavaSampler *s)
{
  return s->open.length;
}
