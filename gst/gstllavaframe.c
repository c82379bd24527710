/* gstllavaframe.c — GstBuffer → LlavaFrame → LlavaImage. */
#include "gstllavaframe.h"

#include <string.h>

struct _GstLlavaFrameReader {
  GstVideoInfo in_info;         /* what conv was made for */
  GstVideoInfo rgb_info;
  GstVideoConverter *conv;      /* NULL until a YUV frame is seen */
  guint8 *rgb;                  /* [height, stride] RGB scratch */
};

GstLlavaFrameReader *
gst_llava_frame_reader_new (void)
{
  return g_new0 (GstLlavaFrameReader, 1);
}

void
gst_llava_frame_reader_free (GstLlavaFrameReader *r)
{
  if (!r)
    return;
  if (r->conv)
    gst_video_converter_free (r->conv);
  g_free (r->rgb);
  g_free (r);
}

static gboolean
packed_format (GstVideoFormat f, LlavaPixelFormat *out)
{
  switch (f) {
    case GST_VIDEO_FORMAT_RGB: *out = LLAVA_PIXEL_RGB; return TRUE;
    case GST_VIDEO_FORMAT_RGBA: *out = LLAVA_PIXEL_RGBA; return TRUE;
    case GST_VIDEO_FORMAT_RGBx: *out = LLAVA_PIXEL_RGBX; return TRUE;
    case GST_VIDEO_FORMAT_BGRA: *out = LLAVA_PIXEL_BGRA; return TRUE;
    case GST_VIDEO_FORMAT_BGRx: *out = LLAVA_PIXEL_BGRX; return TRUE;
    case GST_VIDEO_FORMAT_xRGB: *out = LLAVA_PIXEL_XRGB; return TRUE;
    default: return FALSE;
  }
}

/* A converter from info to packed RGB of the same size, made when the
 * input info changes. */
static gboolean
ensure_converter (GstLlavaFrameReader *r, const GstVideoInfo *info,
    GError **err)
{
  if (r->conv && gst_video_info_is_equal (&r->in_info, info))
    return TRUE;
  if (r->conv)
    gst_video_converter_free (r->conv);
  r->conv = NULL;
  g_clear_pointer (&r->rgb, g_free);

  /* same size, rate, aspect and interlacing: only the format changes */
  gst_video_info_set_interlaced_format (&r->rgb_info, GST_VIDEO_FORMAT_RGB,
      GST_VIDEO_INFO_INTERLACE_MODE (info), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info));
  r->rgb_info.fps_n = info->fps_n;
  r->rgb_info.fps_d = info->fps_d;
  r->rgb_info.par_n = info->par_n;
  r->rgb_info.par_d = info->par_d;
  r->conv = gst_video_converter_new ((GstVideoInfo *) info, &r->rgb_info,
      gst_structure_new ("options",
          GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD,
          GST_VIDEO_DITHER_NONE, NULL));
  if (!r->conv) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "no converter from %s %dx%d to RGB",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)),
        GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info));
    return FALSE;
  }
  r->in_info = *info;
  r->rgb = g_malloc (GST_VIDEO_INFO_SIZE (&r->rgb_info));
  return TRUE;
}

LlavaImage *
gst_llava_frame_reader_load (GstLlavaFrameReader *r, const LlavaModel *m,
    GstBuffer *buf, const GstVideoInfo *info, guint64 key, GError **err)
{
  GstVideoFrame vf;
  LlavaFrame frame;
  LlavaImage *img;

  if (!gst_video_frame_map (&vf, (GstVideoInfo *) info, buf, GST_MAP_READ)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "cannot map a %s %dx%d frame of %" G_GSIZE_FORMAT " bytes",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)),
        GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
        gst_buffer_get_size (buf));
    return NULL;
  }
  frame.width = GST_VIDEO_FRAME_WIDTH (&vf);
  frame.height = GST_VIDEO_FRAME_HEIGHT (&vf);
  if (packed_format (GST_VIDEO_FRAME_FORMAT (&vf), &frame.format)) {
    frame.data = GST_VIDEO_FRAME_PLANE_DATA (&vf, 0);
    frame.stride = GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0);
  } else {
    GstVideoFrame rgb;
    if (!ensure_converter (r, info, err)) {
      gst_video_frame_unmap (&vf);
      return NULL;
    }
    /* rgb_info describes the scratch memory exactly (offsets, strides) */
    memset (&rgb, 0, sizeof (rgb));
    rgb.info = r->rgb_info;
    for (guint p = 0; p < GST_VIDEO_MAX_PLANES; p++)
      rgb.data[p] = r->rgb + GST_VIDEO_INFO_PLANE_OFFSET (&r->rgb_info, p);
    gst_video_converter_frame (r->conv, &vf, &rgb);
    frame.data = r->rgb;
    frame.stride = GST_VIDEO_INFO_PLANE_STRIDE (&r->rgb_info, 0);
    frame.format = LLAVA_PIXEL_RGB;
  }
  img = llava_image_new_from_frame (m, &frame, key, err);
  gst_video_frame_unmap (&vf);
  return img;
}
