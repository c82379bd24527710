/* gstllavainterleave.c — the llavainterleave element: pads, states, events,
 * and the streaming side (frames → sampler → worker queue).  Beside it:
 * gstllavaproperties.c (properties and enums), gstllavamodel.c (loading and
 * sharing the model), gstllavaworker.c (the queue and the inference
 * thread), gstllavaoutput.c (meta, text pad, bus messages, tag),
 * gstllavaframe.c (video frame → model input). */

/**
 * SECTION:element-llavainterleave
 * @title: llavainterleave
 *
 * Describes video with LLaVA-Interleave (a vision-language model) run on a
 * Vulkan device.  The video passes through unchanged and on time; the
 * element cuts it into time windows by PTS (#GstLlavaInterleave:window-duration,
 * #GstLlavaInterleave:window-stride), samples
 * #GstLlavaInterleave:frames-per-window frames from each (reduced to the
 * model's input size as they arrive), and a worker thread asks the model to
 * answer #GstLlavaInterleave:prompt about them.  Each answer comes out four
 * ways:
 *
 * - a #GstLlavaTextMeta on the next video buffer leaving the element
 *   (`pkg-config gstllavameta-1.0`);
 * - a `text/x-raw,format=utf8` buffer on the always pad `text_src`, with the
 *   window's PTS and duration (GAP events for windows without text), for
 *   textoverlay, subtitle encoders and muxers;
 * - an element message `llava-result` on the bus;
 * - a tag event with %GST_TAG_DESCRIPTION = the latest text, before EOS.
 *
 * In live mode the streaming thread never waits for the model: at most
 * #GstLlavaInterleave:max-pending-windows windows wait, later ones are
 * dropped and counted.  In file mode every window is described and the
 * element holds back upstream when the queue is full.
 *
 * The text of a window exists only once the window is over and the model
 * has answered, so a branch that joins video and text by time (textoverlay,
 * a muxer) needs a queue on the video side that holds at least
 * window-duration + inference time of video.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *   llavainterleave model=/models/llava-interleave-qwen-0.5b-hf ! fakesink
 * ]| Prints one `llava-result` message per 10 s of video.
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! videoconvert ! \
 *   llavainterleave name=l model=/models/llava-interleave-qwen-0.5b-hf \
 *     window-duration=5000000000 ! \
 *   queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! \
 *   textoverlay name=o ! videoconvert ! autovideosink \
 *   l.text_src ! queue ! o.text_sink
 * ]| Writes the description of each 5 s window over the live video.
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *   llavainterleave name=l model=/models/llava-interleave-qwen-0.5b-hf ! fakesink \
 *   l.text_src ! queue ! srtenc ! filesink location=clip.srt
 * ]| Writes the window texts as SRT subtitles.
 *
 * Since: 0.1
 */
#include "gstllavainterleave.h"
#include "gstllavaworker.h"
#include "gstllavamodel.h"
#include "gstllavaoutput.h"
#include "gstllavaproperties.h"

#include <gst/video/video.h>

GST_DEBUG_CATEGORY (gst_llava_interleave_debug);
#define GST_CAT_DEFAULT gst_llava_interleave_debug

#define VIDEO_CAPS GST_VIDEO_CAPS_MAKE (GST_LLAVA_FRAME_FORMATS)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_CAPS));
static GstStaticPadTemplate text_src_template =
GST_STATIC_PAD_TEMPLATE ("text_src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format=(string)utf8"));

G_DEFINE_TYPE (GstLlavaInterleave, gst_llava_interleave,
    GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (llavainterleave, "llavainterleave",
    GST_RANK_NONE, GST_TYPE_LLAVA_INTERLEAVE,
    GST_DEBUG_CATEGORY_INIT (gst_llava_interleave_debug, "llavainterleave", 0,
        "LLaVA-Interleave video description"));

/* ---- the sampler: video frames in (preprocessed on arrival), closed
 * windows out to the worker ---- */

typedef struct {
  GstBuffer *buf;
  GstVideoInfo info;
  guint64 key;
} FrameRef;

static gpointer
frame_load (gpointer frame, gpointer user_data, GError **err)
{
  GstLlavaInterleave *self = user_data;
  FrameRef *f = frame;
  GstLlavaImageRef *ref;
  LlavaImage *img;

  img = gst_llava_frame_reader_load (self->reader, self->model, f->buf,
      &f->info, f->key, err);
  if (!img)
    return NULL;
  ref = g_new0 (GstLlavaImageRef, 1);
  ref->ref = 1;
  ref->image = img;
  return ref;
}

static gpointer
frame_hold (gpointer frame, gpointer user_data)
{
  FrameRef *held = g_memdup2 (frame, sizeof (FrameRef));
  gst_buffer_ref (held->buf);
  return held;
}

static void
frame_release (gpointer held)
{
  FrameRef *f = held;
  gst_buffer_unref (f->buf);
  g_free (f);
}

static const LlavaSamplerFuncs sampler_funcs = {
  frame_load, frame_hold, frame_release, gst_llava_image_ref,
  gst_llava_image_unref
};

/* Hands the windows the sampler closed to the worker; after an error
 * (flushing) the rest are dropped. */
static GstFlowReturn
queue_closed_windows (GstLlavaInterleave *self, gboolean force)
{
  GstFlowReturn ret = GST_FLOW_OK;
  LlavaWindow *w;

  while ((w = llava_sampler_pop (self->sampler))) {
    if (ret == GST_FLOW_OK)
      ret = gst_llava_queue_window (self, w, force);
    else
      llava_window_free (w);
  }
  return ret;
}

/* ---- states: the model on NULL↔READY (gstllavamodel.c) ---- */

static GstStateChangeReturn
gst_llava_interleave_change_state (GstElement *element,
    GstStateChange transition)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_llava_interleave_load_model (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* a streaming thread waiting for room in the queue must let go
       * before the pads are deactivated */
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      if (self->cancel)
        g_cancellable_cancel (self->cancel);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_llava_interleave_parent_class)->change_state
      (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_llava_interleave_release_model (self);
      break;
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (ret == GST_STATE_CHANGE_FAILURE)
        gst_llava_interleave_release_model (self);
      break;
    default:
      break;
  }
  return ret;
}

/* ---- stream start / stop (READY↔PAUSED) ---- */

static gboolean
gst_llava_interleave_start (GstBaseTransform *trans)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (trans);
  guint n_frames;
  guint64 duration, stride;

  GST_OBJECT_LOCK (self);
  n_frames = self->n_frames;
  duration = self->window_duration;
  stride = self->window_stride;
  GST_OBJECT_UNLOCK (self);

  /* model settings changed in READY, or more frames than the model was
   * sized for: load it again */
  if (self->model_dirty || n_frames > self->model_max_frames) {
    gst_llava_interleave_release_model (self);
    if (!gst_llava_interleave_load_model (self))
      return FALSE;
  }

  self->sampler = llava_sampler_new (&sampler_funcs, self);
  llava_sampler_configure (self->sampler, duration, stride, n_frames);
  self->window_duration_used = duration;
  self->reader = gst_llava_frame_reader_new ();
  gst_video_info_init (&self->info);
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->segment_sent = FALSE;
  self->live_known = FALSE;
  self->live = FALSE;
  self->need_initial_gap = TRUE;
  self->warned_no_pts = self->warned_load = FALSE;

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  self->stopping = FALSE;
  self->busy = FALSE;
  self->windows_processed = self->windows_dropped = 0;
  self->last_latency = GST_CLOCK_TIME_NONE;
  self->last_inference = GST_CLOCK_TIME_NONE;
  self->reported_inference = GST_CLOCK_TIME_NONE;
  g_clear_pointer (&self->last_text, g_free);
  self->worker = g_thread_new ("llava-worker", gst_llava_worker_run, self);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_llava_interleave_stop (GstBaseTransform *trans)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (trans);
  GThread *worker;

  g_mutex_lock (&self->lock);
  self->stopping = self->flushing = TRUE;
  if (self->cancel)
    g_cancellable_cancel (self->cancel);
  g_cond_broadcast (&self->cond);
  worker = self->worker;
  self->worker = NULL;
  g_mutex_unlock (&self->lock);
  if (worker)
    g_thread_join (worker);

  g_mutex_lock (&self->lock);
  gst_llava_queue_clear_locked (self);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->sampler, llava_sampler_free);
  g_clear_pointer (&self->reader, gst_llava_frame_reader_free);
  return TRUE;
}

/* ---- caps ---- */

static gboolean
gst_llava_interleave_set_caps (GstBaseTransform *trans, GstCaps *incaps,
    GstCaps *outcaps)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (trans);
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ERROR_OBJECT (self, "bad caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  /* a new size or format keeps the windows (their frames are already model
   * inputs); a new frame rate changes the sampling rule and restarts them */
  if (llava_sampler_set_rate (self->sampler, GST_VIDEO_INFO_FPS_N (&info),
          GST_VIDEO_INFO_FPS_D (&info))) {
    GST_DEBUG_OBJECT (self, "frame rate changed: windows restart");
    queue_closed_windows (self, TRUE);
  }
  self->info = info;
  return TRUE;
}

/* ---- live or file ---- */

static void
resolve_mode (GstLlavaInterleave *self)
{
  GstLlavaMode mode;
  gboolean live = FALSE;

  GST_OBJECT_LOCK (self);
  mode = self->mode;
  GST_OBJECT_UNLOCK (self);

  if (mode == GST_LLAVA_MODE_AUTO) {
    GstQuery *q = gst_query_new_latency ();
    if (gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), q))
      gst_query_parse_latency (q, &live, NULL, NULL);
    gst_query_unref (q);
  } else
    live = mode == GST_LLAVA_MODE_LIVE;
  g_mutex_lock (&self->lock);   /* the worker reads it */
  self->live = live;
  g_mutex_unlock (&self->lock);
  self->live_known = TRUE;
  GST_INFO_OBJECT (self, "%s mode", self->live ? "live" : "file");
}

/* ---- data ---- */

static GstFlowReturn
gst_llava_interleave_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (trans);
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);
  FrameRef frame;
  GError *err = NULL;

  gst_llava_output_attach_results (self, buf);

  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    if (!self->warned_no_pts)
      GST_WARNING_OBJECT (self, "buffer without PTS: not used for windows");
    self->warned_no_pts = TRUE;
    return GST_FLOW_OK;
  }
  if (!self->live_known)
    resolve_mode (self);
  if (self->need_initial_gap) {
    /* lets a text sink preroll long before the first text exists */
    gst_llava_queue_gap (self, pts, 0);
    self->need_initial_gap = FALSE;
  }

  frame.buf = buf;
  frame.info = self->info;
  frame.key = ++self->frame_serial;
  if (!llava_sampler_push (self->sampler, pts, GST_CLOCK_TIME_IS_VALID (dur)
          ? dur : LLAVA_SAMPLER_NONE, &frame, &err)) {
    if (!self->warned_load)
      GST_ELEMENT_WARNING (self, STREAM, DECODE,
          ("Could not prepare the frame at %" GST_TIME_FORMAT
              " for the model: %s", GST_TIME_ARGS (pts), err->message),
          ("further such errors are only logged"));
    else
      GST_DEBUG_OBJECT (self, "frame at %" GST_TIME_FORMAT ": %s",
          GST_TIME_ARGS (pts), err->message);
    self->warned_load = TRUE;
    g_clear_error (&err);
  }
  return queue_closed_windows (self, FALSE);
}

/* ---- events ---- */

/* Runs the partial windows and waits for their text (EOS, new segment). */
static gboolean
drain (GstLlavaInterleave *self)
{
  if (!self->sampler)
    return FALSE;
  llava_sampler_drain (self->sampler);
  if (queue_closed_windows (self, TRUE) != GST_FLOW_OK)
    return FALSE;
  return gst_llava_queue_wait_idle (self);
}

static gboolean
gst_llava_interleave_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      /* a new stream after an old one (gapless): the old texts go first */
      if (self->sampler && self->segment_sent)
        drain (self);
      gst_llava_output_start_text_stream (self, event);
      break;
    case GST_EVENT_SEGMENT:{
      const GstSegment *seg;
      gst_event_parse_segment (event, &seg);
      /* the same segment again (a caps change often resends it) changes
       * nothing */
      if (gst_segment_is_equal (seg, &self->segment) && self->segment_sent)
        break;
      /* the windows of the old segment are finished (and their text
       * pushed) before the text pad gets the new segment */
      if (self->sampler) {
        drain (self);
        llava_sampler_reset (self->sampler);
      }
      gst_segment_copy_into (seg, &self->segment);
      self->segment_sent = TRUE;
      self->need_initial_gap = TRUE;
      gst_llava_output_push_event (self, gst_event_new_segment (seg));
      break;
    }
    case GST_EVENT_EOS:
      if (drain (self))
        gst_llava_output_push_final_tag (self);
      gst_llava_output_push_event (self, gst_event_ref (event));
      break;
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      gst_llava_queue_clear_locked (self);
      if (self->cancel)
        g_cancellable_cancel (self->cancel);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      gst_llava_output_push_event (self, gst_event_ref (event));
      break;
    case GST_EVENT_FLUSH_STOP:
      /* the cancelled generation ends quickly; nothing from before the
       * flush may come out after it */
      g_mutex_lock (&self->lock);
      while (self->busy)
        g_cond_wait (&self->cond, &self->lock);
      gst_llava_queue_clear_locked (self);
      self->flushing = FALSE;
      g_mutex_unlock (&self->lock);
      if (self->sampler)
        llava_sampler_reset (self->sampler);
      self->need_initial_gap = TRUE;
      self->segment_sent = FALSE;       /* flush-stop clears it downstream */
      gst_llava_output_push_event (self, gst_event_ref (event));
      break;
    case GST_EVENT_GAP:{
      /* no video for a while: the text stream has nothing either */
      GstClockTime ts, d;
      gst_event_parse_gap (event, &ts, &d);
      if (self->sampler && llava_sampler_n_open (self->sampler) == 0)
        gst_llava_queue_gap (self, ts, d);
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_llava_interleave_parent_class)->sink_event
      (trans, event);
}

/* ---- GObject ---- */

static void
gst_llava_interleave_finalize (GObject *object)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (object);

  gst_llava_interleave_release_model (self);
  g_free (self->model_path);
  g_free (self->prompt);
  g_free (self->system_prompt);
  g_free (self->last_text);
  gst_llava_queue_clear_locked (self);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_llava_interleave_parent_class)->finalize (object);
}

static void
gst_llava_interleave_init (GstLlavaInterleave *self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);

  /* in place but not passthrough: the buffer must be writable to carry
   * the meta (a writable buffer is not copied) */
  gst_base_transform_set_in_place (trans, TRUE);
  gst_base_transform_set_passthrough (trans, FALSE);

  self->text_srcpad = gst_pad_new_from_static_template (&text_src_template,
      "text_src");
  gst_pad_set_query_function (self->text_srcpad,
      gst_llava_output_text_src_query);
  gst_pad_use_fixed_caps (self->text_srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->text_srcpad);

  gst_llava_interleave_set_defaults (self);
  self->last_latency = GST_CLOCK_TIME_NONE;
  self->last_inference = GST_CLOCK_TIME_NONE;
  self->reported_inference = GST_CLOCK_TIME_NONE;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->items);
  g_queue_init (&self->results);
}

static void
gst_llava_interleave_class_init (GstLlavaInterleaveClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->finalize = gst_llava_interleave_finalize;
  gst_llava_interleave_install_properties (gobject_class);

  gst_element_class_set_static_metadata (element_class,
      "LLaVA-Interleave video description", "Filter/Analyzer/Video",
      "Describes time windows of video with the LLaVA-Interleave "
      "vision-language model on a Vulkan device; the text comes out as "
      "buffer meta, a text/x-raw pad, bus messages and a final tag",
      "gst-llava developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class,
      &text_src_template);

  element_class->change_state = gst_llava_interleave_change_state;
  trans_class->start = gst_llava_interleave_start;
  trans_class->stop = gst_llava_interleave_stop;
  trans_class->set_caps = gst_llava_interleave_set_caps;
  trans_class->transform_ip = gst_llava_interleave_transform_ip;
  trans_class->sink_event = gst_llava_interleave_sink_event;
}
