/* llavasampler.h — time windows cut by PTS and the frames sampled from each.
 *
 * Pure GLib (no GStreamer) so the rules can be unit-tested frame by frame.
 *
 * Window k covers the timestamps [origin + k·stride, origin + k·stride + duration),
 * origin being the first frame's PTS after a reset.  stride < duration gives
 * overlapping windows (a frame then belongs to several windows).  From each
 * window N frames are chosen:
 *
 *  - constant rate (fps known): the frames with window-relative indices
 *    np.linspace (0, n-1, N, dtype=int), n being the number of frames the
 *    window holds at that rate (known when its first frame arrives).  Window
 *    membership is decided on the frame grid (PTS + half a frame period) so a
 *    frame whose PTS was rounded to 1 ns before a boundary still counts once.
 *    A frame missing upstream (dropped) is replaced by the next one.
 *  - variable rate (fps 0/1): for each of the N target times
 *    start + i·duration/N, the latest frame at or before it (the first frame
 *    of the window for targets before it).  Because a frame is only known to
 *    be the latest when the next one arrives, the sampler may *hold* the
 *    previous frame (one raw frame, never more).
 *  - a window with at most N frames uses all of them (the first N frames of
 *    every window are therefore loaded on arrival, and released as soon as
 *    the window has more than N).
 *
 * Frames are reduced on arrival: the caller's `load` turns a frame into a
 * payload (the element: a preprocessed model input), and windows keep only
 * payload references, never raw frames.  Payloads shared by overlapping
 * windows are loaded once.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LLAVA_SAMPLER_NONE G_MAXUINT64    /* an unknown time / duration */
#define LLAVA_SAMPLER_MAX_FRAMES 64       /* largest N */
#define LLAVA_SAMPLER_MAX_OVERLAP 32      /* most windows one frame may belong to */

typedef struct {
  /* Turns the frame behind `frame` into a payload (a new reference);
   * NULL and an error when it cannot. `frame` is either what was given to
   * llava_sampler_push (during that call) or what `hold` returned. */
  gpointer (*load) (gpointer frame, gpointer user_data, GError **err);
  /* Makes `frame` usable after llava_sampler_push returns. */
  gpointer (*hold) (gpointer frame, gpointer user_data);
  void (*release) (gpointer held);
  gpointer (*payload_ref) (gpointer payload);
  void (*payload_unref) (gpointer payload);
} LlavaSamplerFuncs;

/* A closed window and its sampled frames, ascending in time. */
typedef struct {
  guint64 index;          /* k: start = origin + k·stride */
  guint64 start, end;     /* [start, end) ns; end is earlier when cut short */
  gboolean complete;      /* FALSE: cut short by drain (EOS, new segment, rate change) */
  guint n_seen;           /* frames that fell in the window */
  guint n_frames;         /* frames sampled */
  guint64 *pts;           /* [n_frames] */
  guint *seq;             /* [n_frames] index of each among the window's frames */
  gpointer *payloads;     /* [n_frames] references */
  void (*payload_unref) (gpointer payload);
} LlavaWindow;

void llava_window_free (LlavaWindow *w);

typedef struct _LlavaSampler LlavaSampler;

LlavaSampler *llava_sampler_new (const LlavaSamplerFuncs *funcs,
    gpointer user_data);
void llava_sampler_free (LlavaSampler *s);

/* Drops all state (like reset) and sets the window geometry.  duration > 0;
 * stride 0 means stride = duration; a stride below duration /
 * LLAVA_SAMPLER_MAX_OVERLAP is raised to it. n_frames in 1..MAX_FRAMES. */
void llava_sampler_configure (LlavaSampler *s, guint64 duration,
    guint64 stride, guint n_frames);
guint64 llava_sampler_get_stride (const LlavaSampler *s);

/* Frame rate of what follows; fps_n <= 0 or fps_d <= 0 means variable.  A
 * change of rate drains the open windows and restarts windowing at the next
 * frame.  Returns TRUE when it drained something. */
gboolean llava_sampler_set_rate (LlavaSampler *s, int fps_n, int fps_d);

/* Feeds one frame (timestamps in ns, duration may be LLAVA_SAMPLER_NONE).
 * Windows that end before this frame are closed and queued for
 * llava_sampler_pop.  A frame earlier than the previous one is ignored.
 * Returns FALSE with an error when `load` failed (the frame is then not
 * used; the sampler stays consistent). */
gboolean llava_sampler_push (LlavaSampler *s, guint64 pts, guint64 duration,
    gpointer frame, GError **err);

/* Closes every open window (cut short) and queues it; the next frame starts
 * a new origin. */
void llava_sampler_drain (LlavaSampler *s);
/* Forgets open and queued windows; the next frame starts a new origin. */
void llava_sampler_reset (LlavaSampler *s);

/* Next closed window in order (caller frees), or NULL. */
LlavaWindow *llava_sampler_pop (LlavaSampler *s);
guint llava_sampler_n_open (const LlavaSampler *s);

/* np.linspace (0, n-1, N, dtype=int) with numpy's float arithmetic, written
 * to out[N]; returns how many distinct values it wrote to out (ascending,
 * duplicates removed). */
guint llava_linspace_indices (guint n, guint n_frames, guint *out);

G_END_DECLS
