/* gstllavaoutput.c — the outputs of llavainterleave, one section each:
 *   - meta: a GstLlavaTextMeta queued by the worker, attached by the
 *     streaming thread to the next video buffer (transform_ip);
 *   - text_src: a text/x-raw buffer per window (PTS = window start,
 *     duration = window length), a GAP event when the window has no text,
 *     and the pad's sticky events and LATENCY answer;
 *   - bus: the element message "llava-result" with the fields and the stats,
 *     and LATENCY when the inference time drifts;
 *   - tag: GST_TAG_DESCRIPTION = the latest text, before EOS.
 * Only the worker pushes data on text_src; the streaming thread pushes the
 * sticky events and EOS there after waiting for the worker to be idle. */
#include "gstllavaoutput.h"
#include "gstllavameta.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_llava_interleave_debug);
#define GST_CAT_DEFAULT gst_llava_interleave_debug

static GstClockTime
ms_to_ns (double ms)
{
  return ms > 0 ? (GstClockTime) (ms * GST_MSECOND) : 0;
}

GstBuffer *
gst_llava_output_make_result (const GstLlavaWorkItem *item,
    const LlavaResult *res, GstClockTime latency)
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

/* ---- meta ---- */

void
gst_llava_output_attach_results (GstLlavaInterleave *self, GstBuffer *buf)
{
  GstBuffer *carrier;

  for (;;) {
    g_mutex_lock (&self->lock);
    carrier = g_queue_pop_head (&self->results);
    g_mutex_unlock (&self->lock);
    if (!carrier)
      break;
    copy_result_meta (carrier, buf);
    gst_buffer_unref (carrier);
  }
}

/* ---- text_src ---- */

void
gst_llava_output_push_text (GstLlavaInterleave *self,
    const GstLlavaWorkItem *item, GstBuffer *carrier, const char *text)
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

void
gst_llava_output_push_gap (GstLlavaInterleave *self, GstClockTime start,
    GstClockTime dur)
{
  GST_LOG_OBJECT (self, "text gap %" GST_TIME_FORMAT " + %" GST_TIME_FORMAT,
      GST_TIME_ARGS (start), GST_TIME_ARGS (dur));
  gst_pad_push_event (self->text_srcpad, gst_event_new_gap (start, dur));
}

void
gst_llava_output_push_event (GstLlavaInterleave *self, GstEvent *event)
{
  /* not linked: the event stays sticky on the pad, which is fine */
  gst_pad_push_event (self->text_srcpad, event);
}

void
gst_llava_output_start_text_stream (GstLlavaInterleave *self,
    GstEvent *upstream)
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
  gst_llava_output_push_event (self, ev);
  gst_llava_output_push_event (self,
      gst_event_new_caps (gst_pad_get_pad_template_caps (self->text_srcpad)));
}

gboolean
gst_llava_output_text_src_query (GstPad *pad, GstObject *parent,
    GstQuery *query)
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

/* ---- bus ---- */

void
gst_llava_output_post_result (GstLlavaInterleave *self,
    const GstLlavaWorkItem *item, GstBuffer *carrier, guint64 processed,
    guint64 dropped)
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

/* Re-announce latency when the inference time drifts by more than 25 %
 * from what the last LATENCY query was told (live only). */
void
gst_llava_output_post_latency_if_drifted (GstLlavaInterleave *self)
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

/* ---- tag ---- */

void
gst_llava_output_push_final_tag (GstLlavaInterleave *self)
{
  gchar *text;
  GstTagList *tags;

  g_mutex_lock (&self->lock);
  text = g_strdup (self->last_text);
  g_mutex_unlock (&self->lock);
  if (!text)
    return;
  tags = gst_tag_list_new (GST_TAG_DESCRIPTION, text, NULL);
  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self),
      gst_event_new_tag (gst_tag_list_ref (tags)));
  gst_llava_output_push_event (self, gst_event_new_tag (tags));
  g_free (text);
}
