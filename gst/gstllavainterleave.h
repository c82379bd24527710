/* gstllavainterleave.h — the llavainterleave element: video in, video out
 * unchanged, and what LLaVA-Interleave writes about each time window. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

#include "llava.h"
#include "llavasampler.h"
#include "gstllavaframe.h"

G_BEGIN_DECLS

typedef enum {
  GST_LLAVA_MODE_AUTO,
  GST_LLAVA_MODE_LIVE,
  GST_LLAVA_MODE_FILE,
} GstLlavaMode;

#define GST_TYPE_LLAVA_MODE (gst_llava_mode_get_type ())
GType gst_llava_mode_get_type (void);
#define GST_TYPE_LLAVA_PRECISION (gst_llava_precision_get_type ())
GType gst_llava_precision_get_type (void);

#define GST_TYPE_LLAVA_INTERLEAVE (gst_llava_interleave_get_type ())
G_DECLARE_FINAL_TYPE (GstLlavaInterleave, gst_llava_interleave, GST,
    LLAVA_INTERLEAVE, GstBaseTransform)

struct _GstLlavaInterleave {
  GstBaseTransform parent;
  GstPad *text_srcpad;

  /* properties (GST_OBJECT_LOCK) */
  gchar *model_path;
  gint device;
  LlavaPrecision precision;
  gchar *prompt, *system_prompt;
  guint n_frames;
  guint64 window_duration, window_stride;
  GstLlavaMode mode;
  guint max_pending;
  guint max_new_tokens;
  gfloat temperature, top_p;
  guint top_k;
  guint64 seed;

  /* NULL→READY .. READY→NULL */
  LlavaModel *model;
  LlavaSession *session;
  guint model_max_frames;       /* frames per window the model was loaded for */
  gboolean model_dirty;         /* model settings changed since the load */

  /* streaming thread (READY→PAUSED .. PAUSED→READY) */
  LlavaSampler *sampler;
  GstLlavaFrameReader *reader;
  GstVideoInfo info;
  guint64 frame_serial;         /* feature-cache keys, never reused */
  gboolean live_known, live;
  GstSegment segment;
  gboolean segment_sent;        /* segment pushed on text_src */
  gboolean need_initial_gap;
  gboolean warned_no_pts, warned_load;
  guint64 window_duration_used; /* what the sampler was configured with */

  /* worker (lock) */
  GMutex lock;
  GCond cond;
  GThread *worker;
  GQueue items;                 /* WorkItem*, in stream order */
  guint n_pending;              /* windows among items */
  gboolean busy, flushing, stopping;
  GCancellable *cancel;         /* the generation in flight */
  GQueue results;               /* GstBuffer* holding one GstLlavaTextMeta each,
                                 * waiting for the next video buffer */
  gchar *last_text;             /* for the tag before EOS */
  guint64 windows_processed, windows_dropped;
  GstClockTime last_latency, last_inference, reported_inference;
};

GST_ELEMENT_REGISTER_DECLARE (llavainterleave);

G_END_DECLS
