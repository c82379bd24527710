/* image_io.c — PNG (libpng simplified API) and JPEG (libjpeg) decoding. */
#include "image_io.h"

#include <stdio.h>
#include <setjmp.h>
#include <string.h>
#include <png.h>
#include <jpeglib.h>

#include "../llava.h"

static guint8 *
load_png (const char *path, const guint8 *data, gsize size, guint *w,
    guint *h, GError **err)
{
  png_image img;
  guint8 *pix;

  memset (&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory (&img, data, size)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: bad PNG: %s",
        path, img.message);
    return NULL;
  }
  /* 8-bit sRGB RGB; alpha is composited onto black by libpng, palette and
   * grey expanded. */
  img.format = PNG_FORMAT_RGB;
  pix = g_malloc (PNG_IMAGE_SIZE (img));
  if (!png_image_finish_read (&img, NULL, pix, 0, NULL)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: bad PNG: %s",
        path, img.message);
    png_image_free (&img);
    g_free (pix);
    return NULL;
  }
  *w = img.width;
  *h = img.height;
  return pix;
}

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void
jpeg_error_exit (j_common_ptr cinfo)
{
  JpegErr *e = (JpegErr *) cinfo->err;
  cinfo->err->format_message (cinfo, e->msg);
  longjmp (e->jump, 1);
}

static guint8 *
load_jpeg (const char *path, const guint8 *data, gsize size, guint *w,
    guint *h, GError **err)
{
  struct jpeg_decompress_struct cinfo;
  JpegErr jerr;
  guint8 *volatile pix = NULL;

  cinfo.err = jpeg_std_error (&jerr.mgr);
  jerr.mgr.error_exit = jpeg_error_exit;
  if (setjmp (jerr.jump)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: bad JPEG: %s",
        path, jerr.msg);
    jpeg_destroy_decompress (&cinfo);
    g_free (pix);
    return NULL;
  }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, data, size);
  jpeg_read_header (&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress (&cinfo);
  pix = g_malloc ((gsize) cinfo.output_width * cinfo.output_height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pix + (gsize) cinfo.output_scanline * cinfo.output_width * 3;
    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  *w = cinfo.output_width;
  *h = cinfo.output_height;
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  return pix;
}

guint8 *
llava_image_io_load_rgb (const char *path, guint *width, guint *height,
    GError **err)
{
  gchar *data = NULL;
  gsize size = 0;
  guint8 *pix = NULL;
  GError *e = NULL;

  if (!g_file_get_contents (path, &data, &size, &e)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s", e->message);
    g_error_free (e);
    return NULL;
  }
  if (size >= 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0)
    pix = load_png (path, (const guint8 *) data, size, width, height, err);
  else if (size >= 3 && memcmp (data, "\xff\xd8\xff", 3) == 0)
    pix = load_jpeg (path, (const guint8 *) data, size, width, height, err);
  else
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: not a PNG or JPEG file", path);
  g_free (data);
  return pix;
}
