/* gstllavaworker.c — the queue between the streaming thread and the
 * inference thread, and that thread: it runs the engine on queued windows,
 * in order, and delivers each result:
 *   - a text/x-raw buffer on text_src (PTS = window start, duration = window
 *     length), or a GAP event when the window has no text;
 *   - an element message "llava-result" with the fields and the stats;
 *   - a GstLlavaTextMeta queued for the next video buffer (transform_ip);
 *   - the text kept for the tag pushed before EOS.
 * Only this thread pushes data on text_src; the streaming thread pushes the
 * sticky events and EOS there after waiting for this one to be idle. */
#include "gstllavaworker.h"
#include "gstllavameta.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_llava_interleave_debug);
#define GST_CAT_DEFAULT gst_llava_interleave_debug

void
gst_llava_work_item_free (GstLlavaWorkItem *item)
{
  if (!item)
    return;
  llava_window_free (item->window);
  g_free (item->prompt);
  g_free (item->system_prompt);
  g_free (item);
}

gpointer
gst_llava_image_ref (gpointer ref)
{
  g_atomic_int_inc (&((GstLlavaImageRef *) ref)->ref);
  return ref;
}

void
gst_llava_image_unref (gpointer ref)
{
  GstLlavaImageRef *r = ref;
  if (r && g_atomic_int_dec_and_test (&r->ref)) {
    llava_image_free (r->image);
    g_free (r);
  }
}

static GstClockTime
ms_to_ns (double ms)
{
  return ms > 0 ? (GstClockTime) (ms * GST_MSECOND) : 0;
}

static void
push_gap (GstLlavaInterleave *self, GstClockTime start, GstClockTime dur)
{
  GST_LOG_OBJECT (self, "text gap %" GST_TIME_FORMAT " + %" GST_TIME_FORMAT,
      GST_TIME_ARGS (start), GST_TIME_ARGS (dur));
  gst_pad_push_event (self->text_srcpad, gst_event_new_gap (start, dur));
}

/* The meta carrier for a finished window: an empty buffer with one meta,
 * from which the meta is copied to the video, the text buffer and the bus
 * message, so all three say the same. */
static GstBuffer *
make_result (const GstLlavaWorkItem *item, const LlavaResult *res,
    GstClockTime latency)
{
  GstBuffer *carrier = gst_buffer_new ();
  const LlavaWindow *w = item->window;
  GstLlavaTextMeta *m;

  m = gst_buffer_add_llava_text_meta (carrier, res->text, item->start,
      item->start + item->duration, w->pts, w->n_frames, item->prompt);
  m->window_index = w->index;
  m->n_prompt_tokens = res->n_prompt_tokens;
  m->n_generated_tokens = res->n_ids;
  m->stop_reason = g_strdup (llava_stop_reason_name (res->stop_reason));
  m->preprocess_time = ms_to_ns (res->preprocess_ms);
  m->vision_time = ms_to_ns (res->vision_ms);
  m->prefill_time = ms_to_ns (res->prefill_ms);
  m->decode_time = ms_to_ns (res->decode_ms);
  m->latency = latency;
  return carrier;
}

static void
copy_result_meta (GstBuffer *carrier, GstBuffer *dest)
{
  GstLlavaTextMeta *m = gst_buffer_get_llava_text_meta (carrier);
  GstMetaTransformCopy copy = { FALSE, 0, (gsize) - 1 };

  m->meta.info->transform_func (dest, &m->meta, carrier,
      _gst_meta_transform_copy, &copy);
}

static void
post_result (GstLlavaInterleave *self, const GstLlavaWorkItem *item,
    GstBuffer *carrier, guint64 processed, guint64 dropped)
{
  GstStructure *s =
      gst_llava_text_meta_to_structure (gst_buffer_get_llava_text_meta
      (carrier));

  gst_structure_set (s,
      "running-time", G_TYPE_UINT64, item->running_time,
      "windows-processed", G_TYPE_UINT64, processed,
      "windows-dropped", G_TYPE_UINT64, dropped, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static void
push_text (GstLlavaInterleave *self, const GstLlavaWorkItem *item,
    GstBuffer *carrier, const char *text)
{
  gsize len = strlen (text);
  GstBuffer *buf = gst_buffer_new_memdup (text, len);
  GstFlowReturn ret;

  GST_BUFFER_PTS (buf) = item->start;
  GST_BUFFER_DURATION (buf) = item->duration;
  copy_result_meta (carrier, buf);
  ret = gst_pad_push (self->text_srcpad, buf);
  /* an unlinked text pad must never stop the video; flushing is expected */
  if (ret != GST_FLOW_OK && ret != GST_FLOW_NOT_LINKED)
    GST_DEBUG_OBJECT (self, "text push: %s", gst_flow_get_name (ret));
}

static void
run_window (GstLlavaInterleave *self, GstLlavaWorkItem *item,
    GCancellable *cancel)
{
  LlavaWindow *w = item->window;
  LlavaImage **images = g_new0 (LlavaImage *, MAX (1, w->n_frames));
  LlavaGenerateParams params;
  LlavaResult res = { 0 };
  GError *err = NULL;
  gint64 t0 = g_get_monotonic_time (), t1;
  gboolean ok;
  GstBuffer *carrier;
  guint64 processed, dropped;
  GstClockTime latency, inference;

  for (guint i = 0; i < w->n_frames; i++)
    images[i] = ((GstLlavaImageRef *) w->payloads[i])->image;

  llava_generate_params_init (&params);
  params.system_prompt = item->system_prompt;
  params.max_new_tokens = item->max_new_tokens;
  params.temperature = item->temperature;
  params.top_k = item->top_k;
  params.top_p = item->top_p;
  params.seed = item->seed;

  GST_DEBUG_OBJECT (self, "window %" G_GUINT64_FORMAT " [%" GST_TIME_FORMAT
      ", %" GST_TIME_FORMAT "): %u frames", w->index,
      GST_TIME_ARGS (item->start),
      GST_TIME_ARGS (item->start + item->duration), w->n_frames);

  if (w->n_frames == 0) {
    /* every frame failed to load (already warned): nothing to describe */
    ok = FALSE;
    g_set_error (&err, LLAVA_ERROR, LLAVA_ERROR_INVALID, "no usable frame");
  } else {
    ok = llava_session_generate (self->session, images, w->n_frames,
        item->prompt, &params, NULL, NULL, cancel, &res, &err);
  }
  g_free (images);
  t1 = g_get_monotonic_time ();

  if (!ok || res.stop_reason == LLAVA_STOP_CANCELLED) {
    gboolean cancelled = g_cancellable_is_cancelled (cancel)
        || g_error_matches (err, LLAVA_ERROR, LLAVA_ERROR_CANCELLED);
    if (!cancelled) {
      /* the video goes on; this window just has no text */
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("Could not describe the window at %" GST_TIME_FORMAT ": %s",
              GST_TIME_ARGS (item->start), err ? err->message : "?"),
          ("window %" G_GUINT64_FORMAT ", %u frames", w->index, w->n_frames));
      push_gap (self, item->start, item->duration);
    }
    g_clear_error (&err);
    llava_result_clear (&res);
    return;
  }

  latency = (t1 - item->queued_at) * GST_USECOND;
  inference = (t1 - t0) * GST_USECOND;
  carrier = make_result (item, &res, latency);

  g_mutex_lock (&self->lock);
  processed = ++self->windows_processed;
  dropped = self->windows_dropped;
  self->last_latency = latency;
  self->last_inference = inference;
  if (res.text && res.text[0]) {
    g_free (self->last_text);
    self->last_text = g_strdup (res.text);
  }
  g_queue_push_tail (&self->results, gst_buffer_ref (carrier));
  g_mutex_unlock (&self->lock);

  GST_INFO_OBJECT (self, "window %" G_GUINT64_FORMAT ": \"%s\" (%u tokens, %"
      GST_TIME_FORMAT ")", w->index, res.text, res.n_ids,
      GST_TIME_ARGS (inference));

  if (res.text && res.text[0])
    push_text (self, item, carrier, res.text);
  else
    push_gap (self, item->start, item->duration);
  post_result (self, item, carrier, processed, dropped);
  gst_buffer_unref (carrier);
  llava_result_clear (&res);

  g_object_notify (G_OBJECT (self), "windows-processed");
}

/* Re-announce latency when the inference time drifts by more than 25 %
 * from what the last LATENCY query was told (live only). */
static void
maybe_post_latency (GstLlavaInterleave *self)
{
  gboolean post = FALSE;

  g_mutex_lock (&self->lock);
  if (self->live && self->reported_inference != GST_CLOCK_TIME_NONE
      && self->last_inference != GST_CLOCK_TIME_NONE) {
    GstClockTime a = self->reported_inference, b = self->last_inference;
    post = (a > b ? a - b : b - a) * 4 > a;
    if (post)
      self->reported_inference = GST_CLOCK_TIME_NONE;
  }
  g_mutex_unlock (&self->lock);
  if (post)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
}

/* ---- the queue, streaming thread side ---- */

void
gst_llava_queue_clear_locked (GstLlavaInterleave *self)
{
  GstLlavaWorkItem *item;
  GstBuffer *b;

  while ((item = g_queue_pop_head (&self->items)))
    gst_llava_work_item_free (item);
  self->n_pending = 0;
  while ((b = g_queue_pop_head (&self->results)))
    gst_buffer_unref (b);
}

/* Waits until the worker has emptied its queue and is idle; FALSE when
 * flushing cut the wait short. */
gboolean
gst_llava_queue_wait_idle (GstLlavaInterleave *self)
{
  gboolean ok;

  g_mutex_lock (&self->lock);
  while (!self->flushing && self->worker
      && (self->busy || !g_queue_is_empty (&self->items)))
    g_cond_wait (&self->cond, &self->lock);
  ok = !self->flushing;
  g_mutex_unlock (&self->lock);
  return ok;
}

void
gst_llava_queue_gap (GstLlavaInterleave *self, GstClockTime start, GstClockTime dur)
{
  GstLlavaWorkItem *tail, *item;

  g_mutex_lock (&self->lock);
  tail = g_queue_peek_tail (&self->items);
  /* consecutive gaps (dropped windows) become one */
  if (tail && tail->kind == GST_LLAVA_ITEM_GAP && dur != GST_CLOCK_TIME_NONE
      && tail->duration != GST_CLOCK_TIME_NONE
      && tail->start + tail->duration >= start) {
    tail->duration = MAX (tail->start + tail->duration, start + dur)
        - tail->start;
  } else {
    item = g_new0 (GstLlavaWorkItem, 1);
    item->kind = GST_LLAVA_ITEM_GAP;
    item->start = start;
    item->duration = dur;
    g_queue_push_tail (&self->items, item);
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
}

/* Hands a closed window to the worker.  Live: drop it when
 * max-pending-windows are waiting (force: never drop, for EOS).  File: wait
 * for room. */
GstFlowReturn
gst_llava_queue_window (GstLlavaInterleave *self, LlavaWindow *w, gboolean force)
{
  GstLlavaWorkItem *item = g_new0 (GstLlavaWorkItem, 1);
  GstFlowReturn ret = GST_FLOW_OK;
  guint max_pending;

  item->kind = GST_LLAVA_ITEM_WINDOW;
  item->window = w;
  item->start = w->start;
  item->duration = w->end - w->start;
  item->running_time = self->segment.format == GST_FORMAT_TIME
      ? gst_segment_to_running_time (&self->segment, GST_FORMAT_TIME,
      w->start) : GST_CLOCK_TIME_NONE;
  item->queued_at = g_get_monotonic_time ();

  GST_OBJECT_LOCK (self);
  item->prompt = g_strdup (self->prompt ? self->prompt : "");
  item->system_prompt = g_strdup (self->system_prompt);
  item->max_new_tokens = self->max_new_tokens;
  item->temperature = self->temperature;
  item->top_k = self->top_k;
  item->top_p = self->top_p;
  item->seed = self->seed;
  max_pending = self->max_pending;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (self->live && !force && self->n_pending >= max_pending) {
    GstClockTime start = item->start, dur = item->duration;
    self->windows_dropped++;
    g_mutex_unlock (&self->lock);
    GST_DEBUG_OBJECT (self, "worker busy: window %" G_GUINT64_FORMAT
        " at %" GST_TIME_FORMAT " dropped", w->index, GST_TIME_ARGS (start));
    gst_llava_work_item_free (item);
    gst_llava_queue_gap (self, start, dur);
    g_object_notify (G_OBJECT (self), "windows-dropped");
    return GST_FLOW_OK;
  }
  while (!self->flushing && !force && self->n_pending >= max_pending)
    g_cond_wait (&self->cond, &self->lock);
  if (self->flushing) {
    gst_llava_work_item_free (item);
    ret = GST_FLOW_FLUSHING;
  } else {
    g_queue_push_tail (&self->items, item);
    self->n_pending++;
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  return ret;
}

/* ---- the queue, worker side ---- */

gpointer
gst_llava_worker_run (gpointer data)
{
  GstLlavaInterleave *self = data;

  g_mutex_lock (&self->lock);
  for (;;) {
    GstLlavaWorkItem *item;
    GCancellable *cancel;

    while (!self->stopping && g_queue_is_empty (&self->items))
      g_cond_wait (&self->cond, &self->lock);
    if (self->stopping)
      break;
    item = g_queue_pop_head (&self->items);
    if (item->kind == GST_LLAVA_ITEM_WINDOW)
      self->n_pending--;
    self->busy = TRUE;
    cancel = self->cancel = g_cancellable_new ();
    g_cond_broadcast (&self->cond);     /* room in the queue */
    g_mutex_unlock (&self->lock);

    if (item->kind == GST_LLAVA_ITEM_WINDOW) {
      run_window (self, item, cancel);
      maybe_post_latency (self);
    } else
      push_gap (self, item->start, item->duration);
    gst_llava_work_item_free (item);

    g_mutex_lock (&self->lock);
    g_clear_object (&self->cancel);
    self->busy = FALSE;
    g_cond_broadcast (&self->cond);     /* idle: EOS / segment / flush wait */
  }
  g_mutex_unlock (&self->lock);
  return NULL;
}
