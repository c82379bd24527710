/* preprocess.c — Pillow-exact bicubic resize + ORC rescale/normalise.
 *
 * The resize follows Pillow's src/libImaging/Resample.c (ImagingResample
 * with the BICUBIC filter on an 8-bit image): separable, horizontal pass then
 * vertical pass; per output pixel the kernel support is 2 * max(1, in/out)
 * (antialiasing when downscaling); the double weights are normalised to sum
 * 1 and converted to 22-bit fixed point; each pass rounds (+ 1 << 21) and
 * clamps to uint8, so the intermediate image is uint8.  A pass whose size
 * does not change is skipped (Pillow does the same), so no extra rounding.
 *
 * The u8 → f32 conversion is an ORC program reproducing transformers'
 * arithmetic bit for bit: rescale multiplies in float64 and rounds to
 * float32, normalise is (x - mean) / std in float32.
 */
#include "preprocess.h"

#include <math.h>
#include <string.h>
#include <orc/orc.h>

#define PRECISION_BITS (32 - 8 - 2)

struct _LlavaPreprocessor {
  LlavaPreprocessParams p;
  OrcProgram *convert;          /* u8 → f32: ((f32)(u8 * rescale) - mean) / std */
};

/* Pillow's bicubic_filter with a = -0.5 */
static double
bicubic_filter (double x)
{
  const double a = -0.5;
  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0)
    return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc.
 * bounds [out_size, 2] = (first input index, count); kk [out_size, ksize]
 * fixed-point weights.  Returns ksize. */
static int
precompute_coeffs (guint in_size, guint out_size, int **bounds_out,
    int **kk_out)
{
  double scale = (double) in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 2.0 * filterscale;
  int ksize = (int) ceil (support) * 2 + 1;
  double *k = g_new0 (double, ksize);
  int *kk = g_new0 (int, (gsize) out_size * ksize);
  int *bounds = g_new0 (int, (gsize) out_size * 2);

  for (guint xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    double ww = 0.0, ss = 1.0 / filterscale;
    int xmin = (int) (center - support + 0.5);
    int xmax = (int) (center + support + 0.5);
    if (xmin < 0)
      xmin = 0;
    if (xmax > (int) in_size)
      xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; x++) {
      double w = bicubic_filter ((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < ksize; x++) {
      double w = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
      kk[xx * ksize + x] = w < 0 ? (int) (-0.5 + w * (1 << PRECISION_BITS))
          : (int) (0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  g_free (k);
  *bounds_out = bounds;
  *kk_out = kk;
  return ksize;
}

static inline guint8
clip8 (int in)
{
  if (in >= (1 << PRECISION_BITS << 8))
    return 255;
  if (in <= 0)
    return 0;
  return (guint8) (in >> PRECISION_BITS);
}

/* One pass along a dimension: `n_lines` lines; element i of line l is at
 * base[l * line_step + i * elem_step]. */
static void
resample_pass (const guint8 *in, gsize in_line, gsize in_elem, guint in_size,
    guint8 *out, gsize out_line, gsize out_elem, guint out_size,
    guint n_lines)
{
  int *bounds, *kk;
  int ksize = precompute_coeffs (in_size, out_size, &bounds, &kk);

  for (guint l = 0; l < n_lines; l++) {
    for (guint xx = 0; xx < out_size; xx++) {
      int xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1];
      const int *k = &kk[xx * ksize];
      int ss = 1 << (PRECISION_BITS - 1);
      for (int x = 0; x < xmax; x++)
        ss += in[l * in_line + (xmin + x) * in_elem] * k[x];
      out[l * out_line + xx * out_elem] = clip8 (ss);
    }
  }
  g_free (bounds);
  g_free (kk);
}

void
llava_resize_bicubic_plane (const guint8 *in, guint iw, guint ih,
    guint8 *out, guint ow, guint oh)
{
  /* horizontal pass: [ih, iw] → [ih, ow] (skipped when iw == ow) */
  guint8 *tmp = NULL;
  const guint8 *h = in;
  if (iw != ow) {
    tmp = g_malloc ((gsize) ih * ow);
    resample_pass (in, iw, 1, iw, tmp, ow, 1, ow, ih);
    h = tmp;
  }
  /* vertical pass: [ih, ow] → [oh, ow]; lines are columns */
  if (ih != oh)
    resample_pass (h, 1, ow, ih, out, 1, ow, oh, ow);
  else
    memcpy (out, h, (gsize) oh * ow);
  g_free (tmp);
}

static OrcProgram *
build_convert_program (void)
{
  OrcProgram *p = orc_program_new ();

  orc_program_set_name (p, "llava_u8_to_f32_normalize");
  orc_program_add_destination (p, 4, "d1");
  orc_program_add_source (p, 1, "s1");
  orc_program_add_parameter_double (p, 8, "p1");  /* rescale */
  orc_program_add_parameter_float (p, 4, "p2");   /* mean */
  orc_program_add_parameter_float (p, 4, "p3");   /* std */
  orc_program_add_temporary (p, 2, "t1");
  orc_program_add_temporary (p, 4, "t2");
  orc_program_add_temporary (p, 8, "t3");
  orc_program_add_temporary (p, 4, "t4");
  orc_program_append_str (p, "convubw", "t1", "s1", NULL);
  orc_program_append_str (p, "convuwl", "t2", "t1", NULL);
  orc_program_append_str (p, "convld", "t3", "t2", NULL);
  orc_program_append_str (p, "muld", "t3", "t3", "p1");
  orc_program_append_str (p, "convdf", "t4", "t3", NULL);
  orc_program_append_str (p, "subf", "t4", "t4", "p2");
  orc_program_append_str (p, "divf", "d1", "t4", "p3");
  return p;
}

LlavaPreprocessor *
llava_preprocessor_new (const LlavaPreprocessParams *params, GError **err)
{
  LlavaPreprocessor *pp;
  OrcCompileResult res;

  if (params->width == 0 || params->height == 0 || params->width > 8192
      || params->height > 8192) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "preprocessor_config.json: bad image size %ux%u", params->width,
        params->height);
    return NULL;
  }
  orc_init ();
  pp = g_new0 (LlavaPreprocessor, 1);
  pp->p = *params;
  if (!pp->p.do_rescale)
    pp->p.rescale = 1.0;
  if (!pp->p.do_normalize) {
    for (int c = 0; c < 3; c++) {
      pp->p.mean[c] = 0.0f;
      pp->p.std[c] = 1.0f;
    }
  }
  pp->convert = build_convert_program ();
  res = orc_program_compile (pp->convert);
  /* A non-fatal failure means ORC runs the program in its emulator (same
   * result, slower); a fatal one means the program itself is wrong. */
  if (ORC_COMPILE_RESULT_IS_FATAL (res)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "preprocess: ORC cannot compile the u8→f32 program (%d)", res);
    llava_preprocessor_free (pp);
    return NULL;
  }
  return pp;
}

void
llava_preprocessor_free (LlavaPreprocessor *pp)
{
  if (!pp)
    return;
  if (pp->convert)
    orc_program_free (pp->convert);
  g_free (pp);
}

/* Byte offsets of R, G, B in a pixel, and bytes per pixel. */
static gboolean
pixel_layout (LlavaPixelFormat f, int off[3], int *bpp)
{
  switch (f) {
    case LLAVA_PIXEL_RGB:  off[0] = 0; off[1] = 1; off[2] = 2; *bpp = 3; return TRUE;
    case LLAVA_PIXEL_RGBA:
    case LLAVA_PIXEL_RGBX: off[0] = 0; off[1] = 1; off[2] = 2; *bpp = 4; return TRUE;
    case LLAVA_PIXEL_BGRA:
    case LLAVA_PIXEL_BGRX: off[0] = 2; off[1] = 1; off[2] = 0; *bpp = 4; return TRUE;
    case LLAVA_PIXEL_XRGB: off[0] = 1; off[1] = 2; off[2] = 3; *bpp = 4; return TRUE;
  }
  return FALSE;
}

gboolean
llava_preprocessor_run (const LlavaPreprocessor *pp, const LlavaFrame *frame,
    float *out, GError **err)
{
  int off[3], bpp;
  guint iw = frame->width, ih = frame->height;
  guint ow = pp->p.width, oh = pp->p.height;
  guint8 *plane, *resized;

  if (!pixel_layout (frame->format, off, &bpp)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "frame: unknown pixel format %d", frame->format);
    return FALSE;
  }
  if (!frame->data || iw == 0 || ih == 0 || iw > 16384 || ih > 16384
      || frame->stride < (gsize) iw * bpp) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "frame: bad geometry %ux%u stride %" G_GSIZE_FORMAT, iw, ih,
        frame->stride);
    return FALSE;
  }
  if (!pp->p.do_resize && (iw != ow || ih != oh)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "frame: %ux%u but the model takes %ux%u and do_resize is off",
        iw, ih, ow, oh);
    return FALSE;
  }

  /* Pillow treats the channels independently (RGB images; alpha and X
   * bytes are ignored, as after convert("RGB")), so planes are resized one
   * at a time. */
  plane = g_malloc ((gsize) iw * ih);
  resized = g_malloc ((gsize) ow * oh);
  for (int c = 0; c < 3; c++) {
    OrcExecutor ex;

    for (guint y = 0; y < ih; y++) {
      const guint8 *row = frame->data + y * frame->stride + off[c];
      guint8 *dst = plane + (gsize) y * iw;
      for (guint x = 0; x < iw; x++)
        dst[x] = row[(gsize) x * bpp];
    }
    llava_resize_bicubic_plane (plane, iw, ih, resized, ow, oh);

    memset (&ex, 0, sizeof ex);
    orc_executor_set_program (&ex, pp->convert);
    orc_executor_set_n (&ex, (int) (ow * oh));
    orc_executor_set_array (&ex, ORC_VAR_S1, resized);
    orc_executor_set_array (&ex, ORC_VAR_D1, out + (gsize) c * ow * oh);
    orc_executor_set_param_double (&ex, ORC_VAR_P1, pp->p.rescale);
    orc_executor_set_param_float (&ex, ORC_VAR_P2, pp->p.mean[c]);
    orc_executor_set_param_float (&ex, ORC_VAR_P3, pp->p.std[c]);
    orc_executor_run (&ex);
  }
  g_free (plane);
  g_free (resized);
  return TRUE;
}
