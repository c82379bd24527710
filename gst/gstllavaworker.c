/* gstllavaworker.c — the queue between the streaming thread and the
 * inference thread, and that thread: it runs the engine on queued windows,
 * in order, and hands each result to the outputs (gstllavaoutput.c): the
 * text on text_src (or a GAP when the window has no text), the
 * "llava-result" message, the meta queued for the next video buffer, and
 * the text kept for the tag pushed before EOS. */
#include "gstllavaworker.h"
#include "gstllavaoutput.h"

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
      gst_llava_output_push_gap (self, item->start, item->duration);
    }
    g_clear_error (&err);
    llava_result_clear (&res);
    return;
  }

  latency = (t1 - item->queued_at) * GST_USECOND;
  inference = (t1 - t0) * GST_USECOND;
  carrier = gst_llava_output_make_result (item, &res, latency);

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
    gst_llava_output_push_text (self, item, carrier, res.text);
  else
    gst_llava_output_push_gap (self, item->start, item->duration);
  gst_llava_output_post_result (self, item, carrier, processed, dropped);
  gst_buffer_unref (carrier);
  llava_result_clear (&res);

  g_object_notify (G_OBJECT (self), "windows-processed");
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
      gst_llava_output_post_latency_if_drifted (self);
    } else
      gst_llava_output_push_gap (self, item->start, item->duration);
    gst_llava_work_item_free (item);

    g_mutex_lock (&self->lock);
    g_clear_object (&self->cancel);
    self->busy = FALSE;
    g_cond_broadcast (&self->cond);     /* idle: EOS / segment / flush wait */
  }
  g_mutex_unlock (&self->lock);
  return NULL;
}
