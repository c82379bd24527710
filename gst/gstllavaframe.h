/* gstllavaframe.h — a raw video frame to the engine's preprocessed input.
 *
 * Packed RGB-like formats are handed to the engine as they are (it reads
 * RGB, RGBA, RGBx, BGRA, BGRx, xRGB); I420 and NV12 are converted to RGB
 * first with a GstVideoConverter kept for the current video info.
 */
#pragma once

#include <gst/video/video.h>
#include "llava.h"

G_BEGIN_DECLS

typedef struct _GstLlavaFrameReader GstLlavaFrameReader;

GstLlavaFrameReader *gst_llava_frame_reader_new (void);
void gst_llava_frame_reader_free (GstLlavaFrameReader *r);

/* Formats the element accepts, as a caps format list. */
#define GST_LLAVA_FRAME_FORMATS "{ RGB, RGBA, BGRx, BGRA, RGBx, xRGB, I420, NV12 }"

/* Preprocesses one frame for model m (llava_image_new_from_frame); key
 * names it in the session's feature cache (0: never cached). */
LlavaImage *gst_llava_frame_reader_load (GstLlavaFrameReader *r,
    const LlavaModel *m, GstBuffer *buf, const GstVideoInfo *info,
    guint64 key, GError **err);

G_END_DECLS
