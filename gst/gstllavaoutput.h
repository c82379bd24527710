/* gstllavaoutput.h — the four ways a window's text leaves llavainterleave:
 * a GstLlavaTextMeta on the next video buffer, a text/x-raw buffer (or a GAP)
 * on text_src, an element message "llava-result" on the bus, and a
 * GST_TAG_DESCRIPTION tag before EOS. */
#pragma once

#include "gstllavainterleave.h"
#include "gstllavaworker.h"

G_BEGIN_DECLS

/* An empty buffer carrying the window's GstLlavaTextMeta: the video buffer,
 * the text buffer and the bus message all copy it, so all three say the
 * same. */
GstBuffer *gst_llava_output_make_result (const GstLlavaWorkItem *item,
    const LlavaResult *res, GstClockTime latency);

/* ---- meta (streaming thread) ---- */

/* Moves the results queued by the worker onto `buf` as metas. */
void gst_llava_output_attach_results (GstLlavaInterleave *self,
    GstBuffer *buf);

/* ---- text_src: data from the worker, sticky events from the streaming
 * thread once the worker is idle ---- */

void gst_llava_output_push_text (GstLlavaInterleave *self,
    const GstLlavaWorkItem *item, GstBuffer *carrier, const char *text);
void gst_llava_output_push_gap (GstLlavaInterleave *self,
    GstClockTime start, GstClockTime dur);
/* Pushes an event on text_src (takes it). */
void gst_llava_output_push_event (GstLlavaInterleave *self, GstEvent *event);
/* stream-start (sparse, upstream's group) and caps on text_src. */
void gst_llava_output_start_text_stream (GstLlavaInterleave *self,
    GstEvent *upstream);
/* Pad query function of text_src: LATENCY adds window + inference time. */
gboolean gst_llava_output_text_src_query (GstPad *pad, GstObject *parent,
    GstQuery *query);

/* ---- bus ---- */

void gst_llava_output_post_result (GstLlavaInterleave *self,
    const GstLlavaWorkItem *item, GstBuffer *carrier, guint64 processed,
    guint64 dropped);
/* A LATENCY message when the inference time drifted from what the last
 * LATENCY query was told (live only). */
void gst_llava_output_post_latency_if_drifted (GstLlavaInterleave *self);

/* ---- tag (EOS) ---- */

/* GST_TAG_DESCRIPTION = the last text, on both source pads. */
void gst_llava_output_push_final_tag (GstLlavaInterleave *self);

G_END_DECLS
