/* gstllavameta.h — GstLlavaTextMeta: the text llavainterleave wrote for a
 * window of video, attached to the next video buffer leaving the element.
 *
 * Installed as <gst/llava/gstllavameta.h>; link with `pkg-config --libs
 * gstllavameta-1.0`.  The meta is registered with no tags, so
 * GstBaseTransform-based converters (videoconvert, videoscale, …) and
 * GstVideoEncoder copy it; its transform is a deep copy.
 *
 *   GstLlavaTextMeta *m;
 *   gpointer state = NULL;
 *   while ((m = (GstLlavaTextMeta *) gst_buffer_iterate_meta_filtered (buf,
 *               &state, GST_LLAVA_TEXT_META_API_TYPE)))
 *     g_print ("%" GST_TIME_FORMAT ": %s\n", GST_TIME_ARGS (m->window_start),
 *         m->text);
 *
 * Bindings without this header can use gst_llava_text_meta_to_structure ()
 * through GObject introspection-free code, or listen to the element's
 * "llava-result" bus messages, which carry the same fields.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#if defined(BUILDING_GST_LLAVA_META)
#define GST_LLAVA_META_API __attribute__ ((visibility ("default"))) extern
#else
#define GST_LLAVA_META_API extern
#endif

#define GST_LLAVA_TEXT_META_API_TYPE (gst_llava_text_meta_api_get_type ())
#define GST_LLAVA_TEXT_META_INFO (gst_llava_text_meta_get_info ())

typedef struct {
  GstMeta meta;

  gchar *text;                  /* UTF-8, may be "" */
  guint64 window_index;         /* windows since the stream (segment) started */
  GstClockTime window_start;    /* PTS of the window, [start, end) */
  GstClockTime window_end;
  guint n_frames;
  GstClockTime *frame_pts;      /* [n_frames] PTS of the sampled frames */
  gchar *prompt;                /* the user prompt used for this window */
  guint n_prompt_tokens;        /* after expanding the image placeholders */
  guint n_generated_tokens;
  gchar *stop_reason;           /* "eos", "max_new_tokens", … */
  /* timings, ns */
  GstClockTime preprocess_time, vision_time, prefill_time, decode_time;
  GstClockTime latency;         /* window complete → text ready (queue + inference) */
} GstLlavaTextMeta;

GST_LLAVA_META_API
GType gst_llava_text_meta_api_get_type (void);

GST_LLAVA_META_API
const GstMetaInfo *gst_llava_text_meta_get_info (void);

/* Adds a meta with copies of text, prompt and frame_pts; the other fields
 * are zero / GST_CLOCK_TIME_NONE for the caller to fill in. */
GST_LLAVA_META_API
GstLlavaTextMeta *gst_buffer_add_llava_text_meta (GstBuffer *buffer,
    const gchar *text, GstClockTime window_start, GstClockTime window_end,
    const GstClockTime *frame_pts, guint n_frames, const gchar *prompt);

/* The first GstLlavaTextMeta of buffer, or NULL (iterate with
 * gst_buffer_iterate_meta_filtered when there may be several). */
#define gst_buffer_get_llava_text_meta(b) \
  ((GstLlavaTextMeta *) gst_buffer_get_meta ((b), GST_LLAVA_TEXT_META_API_TYPE))

/* A "llava-result" structure with every field (the element posts the same
 * structure, plus its stats, as an element message):
 *   text (string), window-index (guint64), window-start, window-end
 *   (GstClockTime as guint64), frame-timestamps (GstValueArray of guint64),
 *   prompt (string), prompt-tokens, generated-tokens (guint),
 *   stop-reason (string), preprocess-time, vision-time, prefill-time,
 *   decode-time, latency (guint64 ns). */
GST_LLAVA_META_API
GstStructure *gst_llava_text_meta_to_structure (const GstLlavaTextMeta *meta);

G_END_DECLS
