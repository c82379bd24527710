/* gstllavameta.c — GstLlavaTextMeta registration, copy and GstStructure view. */
#include "gstllavameta.h"

#include <string.h>

GType
gst_llava_text_meta_api_get_type (void)
{
  static GType type = 0;
  /* no tags: converters and encoders keep tag-less metas */
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstLlavaTextMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
llava_text_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstLlavaTextMeta *m = (GstLlavaTextMeta *) meta;

  m->text = NULL;
  m->window_index = 0;
  m->window_start = m->window_end = GST_CLOCK_TIME_NONE;
  m->n_frames = 0;
  m->frame_pts = NULL;
  m->prompt = NULL;
  m->n_prompt_tokens = m->n_generated_tokens = 0;
  m->stop_reason = NULL;
  m->preprocess_time = m->vision_time = m->prefill_time = m->decode_time = 0;
  m->latency = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static void
llava_text_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstLlavaTextMeta *m = (GstLlavaTextMeta *) meta;

  g_free (m->text);
  g_free (m->frame_pts);
  g_free (m->prompt);
  g_free (m->stop_reason);
}

/* Deep copy of every field onto dest (any transform: the text describes
 * the window, not the pixels, so scaling or converting keeps it valid). */
static gboolean
llava_text_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
    GQuark type, gpointer data)
{
  const GstLlavaTextMeta *src = (const GstLlavaTextMeta *) meta;
  GstLlavaTextMeta *d;

  d = gst_buffer_add_llava_text_meta (dest, src->text, src->window_start,
      src->window_end, src->frame_pts, src->n_frames, src->prompt);
  if (!d)
    return FALSE;
  d->window_index = src->window_index;
  d->n_prompt_tokens = src->n_prompt_tokens;
  d->n_generated_tokens = src->n_generated_tokens;
  d->stop_reason = g_strdup (src->stop_reason);
  d->preprocess_time = src->preprocess_time;
  d->vision_time = src->vision_time;
  d->prefill_time = src->prefill_time;
  d->decode_time = src->decode_time;
  d->latency = src->latency;
  return TRUE;
}

const GstMetaInfo *
gst_llava_text_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *i = gst_meta_register (GST_LLAVA_TEXT_META_API_TYPE,
        "GstLlavaTextMeta", sizeof (GstLlavaTextMeta), llava_text_meta_init,
        llava_text_meta_free, llava_text_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) i);
  }
  return info;
}

GstLlavaTextMeta *
gst_buffer_add_llava_text_meta (GstBuffer *buffer, const gchar *text,
    GstClockTime window_start, GstClockTime window_end,
    const GstClockTime *frame_pts, guint n_frames, const gchar *prompt)
{
  GstLlavaTextMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (n_frames == 0 || frame_pts != NULL, NULL);

  m = (GstLlavaTextMeta *) gst_buffer_add_meta (buffer,
      GST_LLAVA_TEXT_META_INFO, NULL);
  if (!m)
    return NULL;
  m->text = g_strdup (text ? text : "");
  m->window_start = window_start;
  m->window_end = window_end;
  m->n_frames = n_frames;
  m->frame_pts = n_frames ? g_memdup2 (frame_pts,
      n_frames * sizeof (GstClockTime)) : NULL;
  m->prompt = g_strdup (prompt);
  return m;
}

GstStructure *
gst_llava_text_meta_to_structure (const GstLlavaTextMeta *m)
{
  GstStructure *s;
  GValue arr = G_VALUE_INIT, v = G_VALUE_INIT;

  g_return_val_if_fail (m != NULL, NULL);

  gst_value_array_init (&arr, m->n_frames);
  g_value_init (&v, G_TYPE_UINT64);
  for (guint i = 0; i < m->n_frames; i++) {
    g_value_set_uint64 (&v, m->frame_pts[i]);
    gst_value_array_append_value (&arr, &v);
  }
  g_value_unset (&v);

  s = gst_structure_new ("llava-result",
      "text", G_TYPE_STRING, m->text ? m->text : "",
      "window-index", G_TYPE_UINT64, m->window_index,
      "window-start", G_TYPE_UINT64, m->window_start,
      "window-end", G_TYPE_UINT64, m->window_end, NULL);
  gst_structure_take_value (s, "frame-timestamps", &arr);
  gst_structure_set (s,
      "prompt", G_TYPE_STRING, m->prompt ? m->prompt : "",
      "prompt-tokens", G_TYPE_UINT, m->n_prompt_tokens,
      "generated-tokens", G_TYPE_UINT, m->n_generated_tokens,
      "stop-reason", G_TYPE_STRING, m->stop_reason ? m->stop_reason : "",
      "preprocess-time", G_TYPE_UINT64, m->preprocess_time,
      "vision-time", G_TYPE_UINT64, m->vision_time,
      "prefill-time", G_TYPE_UINT64, m->prefill_time,
      "decode-time", G_TYPE_UINT64, m->decode_time,
      "latency", G_TYPE_UINT64, m->latency, NULL);
  return s;
}
