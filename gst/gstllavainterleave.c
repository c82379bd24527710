/* gstllavainterleave.c — the llavainterleave element: properties, states,
 * events, and the streaming side (frames → sampler → worker queue).  The
 * worker thread and the outputs are in gstllavaworker.c. */

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
#include "gstllavameta.h"

#include <gst/video/video.h>

GST_DEBUG_CATEGORY (gst_llava_interleave_debug);
#define GST_CAT_DEFAULT gst_llava_interleave_debug

#define DEFAULT_PROMPT "Describe what happens in this video."
#define DEFAULT_DEVICE -1
#define DEFAULT_PRECISION LLAVA_PRECISION_AUTO
#define DEFAULT_N_FRAMES 10
#define DEFAULT_WINDOW_DURATION (10 * GST_SECOND)
#define DEFAULT_WINDOW_STRIDE 0
#define DEFAULT_MODE GST_LLAVA_MODE_AUTO
#define DEFAULT_MAX_PENDING 2
#define DEFAULT_MAX_NEW_TOKENS 128
#define DEFAULT_TEMPERATURE 0.0f
#define DEFAULT_TOP_K 0
#define DEFAULT_TOP_P 1.0f
#define DEFAULT_SEED 0
#define MAX_WINDOW_DURATION (3600 * GST_SECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_PROMPT,
  PROP_SYSTEM_PROMPT,
  PROP_FRAMES_PER_WINDOW,
  PROP_WINDOW_DURATION,
  PROP_WINDOW_STRIDE,
  PROP_MODE,
  PROP_MAX_PENDING_WINDOWS,
  PROP_MAX_NEW_TOKENS,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_SEED,
  PROP_WINDOWS_PROCESSED,
  PROP_WINDOWS_DROPPED,
  PROP_LAST_LATENCY,
};

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

/* ---- enums ---- */

GType
gst_llava_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LLAVA_MODE_AUTO, "Live when upstream is live (LATENCY query)",
        "auto"},
    {GST_LLAVA_MODE_LIVE, "Never hold back the video; drop windows the "
          "model cannot keep up with", "live"},
    {GST_LLAVA_MODE_FILE, "Describe every window; hold back upstream while "
          "the queue is full", "file"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLlavaMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_llava_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {LLAVA_PRECISION_AUTO, "f16 where the device has 16-bit storage, else f32",
        "auto"},
    {LLAVA_PRECISION_F32, "32-bit float weights", "f32"},
    {LLAVA_PRECISION_F16, "16-bit float weights", "f16"},
    {LLAVA_PRECISION_Q8_0, "8-bit blocks of 32 weights with an f32 scale",
        "q8_0"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLlavaPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

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

/* ---- sampler callbacks: a video frame and its preprocessing ---- */

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

/* ---- model (NULL→READY / READY→NULL) ---- */

static void
load_progress (double fraction, const char *what, gpointer user_data)
{
  GstLlavaInterleave *self = user_data;
  gchar *text = g_strdup_printf ("%s (%d%%)", what ? what : "loading",
      (int) (fraction * 100.0 + 0.5));

  GstMessage *msg = gst_message_new_progress (GST_OBJECT (self),
      GST_PROGRESS_TYPE_CONTINUE, "load-model", text);

  gst_structure_set (gst_message_writable_structure (msg), "percent",
      G_TYPE_INT, CLAMP ((int) (fraction * 100.0 + 0.5), 0, 100), NULL);
  gst_element_post_message (GST_ELEMENT (self), msg);
  g_free (text);
}

static gboolean
load_model (GstLlavaInterleave *self)
{
  LlavaModelOptions opt;
  GError *err = NULL;
  gchar *path;
  gchar *text;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  llava_model_options_init (&opt);
  opt.device_index = self->device;
  opt.precision = self->precision;
  opt.max_frames = MAX (16, self->n_frames);
  GST_OBJECT_UNLOCK (self);
  opt.progress = load_progress;
  opt.progress_data = self;

  if (!path || !path[0]) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No model set: the \"model\" property must name a "
            "llava-interleave model directory"), (NULL));
    g_free (path);
    return FALSE;
  }

  text = g_strdup_printf ("Loading model %s", path);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), GST_PROGRESS_TYPE_START,
          "load-model", text));
  g_free (text);

  self->model = llava_model_load (path, &opt, &err);
  if (self->model)
    self->session = llava_session_new (self->model, NULL, &err);
  if (!self->session) {
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_progress (GST_OBJECT (self), GST_PROGRESS_TYPE_ERROR,
            "load-model", err ? err->message : "failed"));
    if (g_error_matches (err, LLAVA_ERROR, LLAVA_ERROR_FILE))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Could not load the model \"%s\": %s", path, err->message),
          ("llava_model_load failed"));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not load the model \"%s\": %s", path,
              err ? err->message : "unknown error"),
          ("llava_model_load / llava_session_new failed"));
    g_clear_error (&err);
    g_clear_pointer (&self->model, llava_model_unref);
    g_free (path);
    return FALSE;
  }
  self->model_max_frames = opt.max_frames;
  self->model_dirty = FALSE;

  {
    const LlavaModelInfo *mi = llava_model_get_info (self->model);
    text = g_strdup_printf ("Loaded %s (%s, %s)", path,
        mi->device ? mi->device : "?", llava_precision_name (mi->precision));
    GST_INFO_OBJECT (self, "%s", text);
  }
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self),
          GST_PROGRESS_TYPE_COMPLETE, "load-model", text));
  g_free (text);
  g_free (path);
  return TRUE;
}

static void
release_model (GstLlavaInterleave *self)
{
  g_clear_pointer (&self->session, llava_session_free);
  g_clear_pointer (&self->model, llava_model_unref);
}

static GstStateChangeReturn
gst_llava_interleave_change_state (GstElement *element,
    GstStateChange transition)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!load_model (self))
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
      release_model (self);
      break;
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (ret == GST_STATE_CHANGE_FAILURE)
        release_model (self);
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
    release_model (self);
    if (!load_model (self))
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

static void
attach_results (GstLlavaInterleave *self, GstBuffer *buf)
{
  GstBuffer *carrier;

  for (;;) {
    g_mutex_lock (&self->lock);
    carrier = g_queue_pop_head (&self->results);
    g_mutex_unlock (&self->lock);
    if (!carrier)
      break;
    {
      GstLlavaTextMeta *m = gst_buffer_get_llava_text_meta (carrier);
      GstMetaTransformCopy copy = { FALSE, 0, (gsize) - 1 };
      m->meta.info->transform_func (buf, &m->meta, carrier,
          _gst_meta_transform_copy, &copy);
    }
    gst_buffer_unref (carrier);
  }
}

static GstFlowReturn
gst_llava_interleave_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (trans);
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);
  FrameRef frame;
  GError *err = NULL;

  attach_results (self, buf);

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

static void
push_text_event (GstLlavaInterleave *self, GstEvent *event)
{
  /* not linked: the event stays sticky on the pad, which is fine */
  gst_pad_push_event (self->text_srcpad, event);
}

static void
start_text_stream (GstLlavaInterleave *self, GstEvent *upstream)
{
  gchar *id = gst_pad_create_stream_id (self->text_srcpad,
      GST_ELEMENT (self), "text");
  GstEvent *ev = gst_event_new_stream_start (id);
  guint group;

  if (gst_event_parse_group_id (upstream, &group))
    gst_event_set_group_id (ev, group);
  /* captions come and go: downstream must not wait for them */
  gst_event_set_stream_flags (ev, GST_STREAM_FLAG_SPARSE);
  g_free (id);
  push_text_event (self, ev);
  push_text_event (self, gst_event_new_caps (gst_pad_get_pad_template_caps
          (self->text_srcpad)));
}

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
      start_text_stream (self, event);
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
      push_text_event (self, gst_event_new_segment (seg));
      break;
    }
    case GST_EVENT_EOS:{
      gchar *text;
      if (drain (self)) {
        g_mutex_lock (&self->lock);
        text = g_strdup (self->last_text);
        g_mutex_unlock (&self->lock);
        if (text) {
          GstTagList *tags = gst_tag_list_new (GST_TAG_DESCRIPTION, text,
              NULL);
          gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
          gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self),
              gst_event_new_tag (gst_tag_list_ref (tags)));
          push_text_event (self, gst_event_new_tag (tags));
          g_free (text);
        }
      }
      push_text_event (self, gst_event_ref (event));
      break;
    }
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      gst_llava_queue_clear_locked (self);
      if (self->cancel)
        g_cancellable_cancel (self->cancel);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      push_text_event (self, gst_event_ref (event));
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
      push_text_event (self, gst_event_ref (event));
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

/* ---- text pad queries: latency ---- */

static gboolean
text_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:{
      gboolean live;
      GstClockTime min, max, est, window;
      if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), query))
        return FALSE;
      gst_query_parse_latency (query, &live, &min, &max);
      if (live) {
        GST_OBJECT_LOCK (self);
        window = self->window_duration;
        GST_OBJECT_UNLOCK (self);
        g_mutex_lock (&self->lock);
        /* before the first window: assume the model keeps up */
        est = self->last_inference != GST_CLOCK_TIME_NONE
            ? self->last_inference : window;
        self->reported_inference = est;
        g_mutex_unlock (&self->lock);
        min += window + est;
        if (max != GST_CLOCK_TIME_NONE)
          max += window + est;
        GST_DEBUG_OBJECT (self, "text latency: min %" GST_TIME_FORMAT
            " max %" GST_TIME_FORMAT, GST_TIME_ARGS (min),
            GST_TIME_ARGS (max));
        gst_query_set_latency (query, live, min, max);
      }
      return TRUE;
    }
    case GST_QUERY_CAPS:{
      GstCaps *caps = gst_pad_get_pad_template_caps (pad), *filter, *res;
      gst_query_parse_caps (query, &filter);
      res = filter ? gst_caps_intersect (caps, filter) : gst_caps_ref (caps);
      gst_query_set_caps_result (query, res);
      gst_caps_unref (res);
      gst_caps_unref (caps);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ---- properties ---- */

/* model, device, precision: in NULL, or in READY (the model is then
 * loaded again on READY→PAUSED) */
static gboolean
model_settable (GstLlavaInterleave *self, const char *name)
{
  if (GST_STATE (self) > GST_STATE_READY
      || GST_STATE_PENDING (self) > GST_STATE_READY) {
    GST_WARNING_OBJECT (self, "\"%s\" can only be changed in the NULL or "
        "READY state: ignored", name);
    return FALSE;
  }
  return TRUE;
}

static void
gst_llava_interleave_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (object);

  switch (prop_id) {
    case PROP_MODEL:
    case PROP_DEVICE:
    case PROP_PRECISION:
      if (!model_settable (self, pspec->name))
        return;
      break;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_DEVICE:
      self->device = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    case PROP_PROMPT:
      g_free (self->prompt);
      self->prompt = g_value_dup_string (value);
      break;
    case PROP_SYSTEM_PROMPT:
      g_free (self->system_prompt);
      self->system_prompt = g_value_dup_string (value);
      break;
    case PROP_FRAMES_PER_WINDOW:
      self->n_frames = g_value_get_uint (value);
      break;
    case PROP_WINDOW_DURATION:
      self->window_duration = g_value_get_uint64 (value);
      break;
    case PROP_WINDOW_STRIDE:
      self->window_stride = g_value_get_uint64 (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_MAX_PENDING_WINDOWS:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_MAX_NEW_TOKENS:
      self->max_new_tokens = g_value_get_uint (value);
      break;
    case PROP_TEMPERATURE:
      self->temperature = g_value_get_float (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_TOP_P:
      self->top_p = g_value_get_float (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  /* a larger max-pending-windows may unblock a waiting streaming thread */
  if (prop_id == PROP_MODEL || prop_id == PROP_DEVICE
      || prop_id == PROP_PRECISION)
    self->model_dirty = TRUE;
  if (prop_id == PROP_MAX_PENDING_WINDOWS) {
    g_mutex_lock (&self->lock);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
}

static void
gst_llava_interleave_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (object);

  switch (prop_id) {
    case PROP_WINDOWS_PROCESSED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->windows_processed);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_WINDOWS_DROPPED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->windows_dropped);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_LAST_LATENCY:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->last_latency);
      g_mutex_unlock (&self->lock);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_DEVICE:
      g_value_set_int (value, self->device);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_PROMPT:
      g_value_set_string (value, self->prompt);
      break;
    case PROP_SYSTEM_PROMPT:
      g_value_set_string (value, self->system_prompt);
      break;
    case PROP_FRAMES_PER_WINDOW:
      g_value_set_uint (value, self->n_frames);
      break;
    case PROP_WINDOW_DURATION:
      g_value_set_uint64 (value, self->window_duration);
      break;
    case PROP_WINDOW_STRIDE:
      g_value_set_uint64 (value, self->window_stride);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_MAX_PENDING_WINDOWS:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_MAX_NEW_TOKENS:
      g_value_set_uint (value, self->max_new_tokens);
      break;
    case PROP_TEMPERATURE:
      g_value_set_float (value, self->temperature);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_TOP_P:
      g_value_set_float (value, self->top_p);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- GObject ---- */

static void
gst_llava_interleave_finalize (GObject *object)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (object);

  release_model (self);
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
  gst_pad_set_query_function (self->text_srcpad, text_src_query);
  gst_pad_use_fixed_caps (self->text_srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->text_srcpad);

  self->device = DEFAULT_DEVICE;
  self->precision = DEFAULT_PRECISION;
  self->prompt = g_strdup (DEFAULT_PROMPT);
  self->n_frames = DEFAULT_N_FRAMES;
  self->window_duration = DEFAULT_WINDOW_DURATION;
  self->window_stride = DEFAULT_WINDOW_STRIDE;
  self->mode = DEFAULT_MODE;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->max_new_tokens = DEFAULT_MAX_NEW_TOKENS;
  self->temperature = DEFAULT_TEMPERATURE;
  self->top_k = DEFAULT_TOP_K;
  self->top_p = DEFAULT_TOP_P;
  self->seed = DEFAULT_SEED;
  self->last_latency = GST_CLOCK_TIME_NONE;
  self->last_inference = GST_CLOCK_TIME_NONE;
  self->reported_inference = GST_CLOCK_TIME_NONE;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->items);
  g_queue_init (&self->results);
}

#define RW_PLAYING (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS \
    | GST_PARAM_MUTABLE_PLAYING)
#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS \
    | GST_PARAM_MUTABLE_READY)
#define RO (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

static void
gst_llava_interleave_class_init (GstLlavaInterleaveClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_llava_interleave_set_property;
  gobject_class->get_property = gst_llava_interleave_get_property;
  gobject_class->finalize = gst_llava_interleave_finalize;

  /**
   * GstLlavaInterleave:model:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Directory of a llava-interleave model in Hugging Face layout "
          "(config.json, model.safetensors, tokenizer files); loaded on "
          "NULL→READY (again on READY→PAUSED when changed in READY)", NULL,
          RW_READY));
  /**
   * GstLlavaInterleave:device:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_int ("device", "Device",
          "Vulkan physical device index; -1: the LLAVA_VK_DEVICE environment "
          "variable, else discrete > integrated > CPU", -1, G_MAXINT16,
          DEFAULT_DEVICE, RW_READY));
  /**
   * GstLlavaInterleave:precision:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Weight precision on the device", GST_TYPE_LLAVA_PRECISION,
          DEFAULT_PRECISION, RW_READY));
  /**
   * GstLlavaInterleave:prompt:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt",
          "What to ask about each window (after its frames); a change "
          "applies from the next window", DEFAULT_PROMPT, RW_PLAYING));
  /**
   * GstLlavaInterleave:system-prompt:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SYSTEM_PROMPT,
      g_param_spec_string ("system-prompt", "System prompt",
          "System turn of the chat template; NULL: none (the llava-hf "
          "template); a change applies from the next window", NULL,
          RW_PLAYING));
  /**
   * GstLlavaInterleave:frames-per-window:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_PER_WINDOW,
      g_param_spec_uint ("frames-per-window", "Frames per window",
          "Frames sampled from each window, uniformly in time (constant "
          "frame rate: np.linspace over the window's frames); a window "
          "with fewer frames uses all",
          1, LLAVA_SAMPLER_MAX_FRAMES, DEFAULT_N_FRAMES, RW_READY));
  /**
   * GstLlavaInterleave:window-duration:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW_DURATION,
      g_param_spec_uint64 ("window-duration", "Window duration",
          "Length of a window in nanoseconds of PTS", GST_MSECOND,
          MAX_WINDOW_DURATION, DEFAULT_WINDOW_DURATION, RW_READY));
  /**
   * GstLlavaInterleave:window-stride:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW_STRIDE,
      g_param_spec_uint64 ("window-stride", "Window stride",
          "Nanoseconds from one window's start to the next; 0: equal to "
          "window-duration; smaller: overlapping windows (at most 32 "
          "overlap); larger: gaps between windows", 0, MAX_WINDOW_DURATION,
          DEFAULT_WINDOW_STRIDE, RW_READY | GST_PARAM_DOC_SHOW_DEFAULT));
  /**
   * GstLlavaInterleave:mode:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "live: drop windows rather than hold back the video; file: "
          "describe every window, holding back upstream when needed",
          GST_TYPE_LLAVA_MODE, DEFAULT_MODE, RW_READY));
  /**
   * GstLlavaInterleave:max-pending-windows:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_PENDING_WINDOWS,
      g_param_spec_uint ("max-pending-windows", "Max pending windows",
          "Windows that may wait for the model besides the one it works on; "
          "live mode drops (and counts) windows beyond, file mode waits",
          1, 1000, DEFAULT_MAX_PENDING, RW_PLAYING));
  /**
   * GstLlavaInterleave:max-new-tokens:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_NEW_TOKENS,
      g_param_spec_uint ("max-new-tokens", "Max new tokens",
          "Longest answer, in tokens", 1, 4096, DEFAULT_MAX_NEW_TOKENS,
          RW_PLAYING));
  /**
   * GstLlavaInterleave:temperature:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TEMPERATURE,
      g_param_spec_float ("temperature", "Temperature",
          "Sampling temperature; 0: greedy (always the most likely token)",
          0.0f, 10.0f, DEFAULT_TEMPERATURE, RW_PLAYING));
  /**
   * GstLlavaInterleave:top-k:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Sample among the k most likely tokens; 0: no limit (temperature "
          "> 0 only)", 0, G_MAXINT32, DEFAULT_TOP_K, RW_PLAYING));
  /**
   * GstLlavaInterleave:top-p:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TOP_P,
      g_param_spec_float ("top-p", "Top p",
          "Sample among the most likely tokens whose probabilities add up to "
          "p; 1: no limit (temperature > 0 only)", 0.0f, 1.0f, DEFAULT_TOP_P,
          RW_PLAYING));
  /**
   * GstLlavaInterleave:seed:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Random seed for sampling (temperature > 0)", 0, G_MAXUINT64,
          DEFAULT_SEED, RW_PLAYING));
  /**
   * GstLlavaInterleave:windows-processed:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS_PROCESSED,
      g_param_spec_uint64 ("windows-processed", "Windows processed",
          "Windows described since the stream started", 0, G_MAXUINT64, 0,
          RO));
  /**
   * GstLlavaInterleave:windows-dropped:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS_DROPPED,
      g_param_spec_uint64 ("windows-dropped", "Windows dropped",
          "Windows dropped in live mode because the model was busy", 0,
          G_MAXUINT64, 0, RO));
  /**
   * GstLlavaInterleave:last-latency:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LAST_LATENCY,
      g_param_spec_uint64 ("last-latency", "Last latency",
          "Nanoseconds from the end of the last described window to its "
          "text (waiting + inference); GST_CLOCK_TIME_NONE before the first",
          0, G_MAXUINT64, GST_CLOCK_TIME_NONE, RO));

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

  gst_type_mark_as_plugin_api (GST_TYPE_LLAVA_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LLAVA_PRECISION, 0);
}
