/* preprocess.h — frames to model input: Pillow-exact bicubic resize, then
 * rescale and normalise (SiglipImageProcessor semantics, MODEL.md §3.1). */
#pragma once

#include "llava.h"

G_BEGIN_DECLS

typedef struct {
  guint width, height;          /* output size (preprocessor_config "size") */
  gboolean do_resize, do_rescale, do_normalize;
  double rescale;               /* 1/255 */
  float mean[3], std[3];
} LlavaPreprocessParams;

typedef struct _LlavaPreprocessor LlavaPreprocessor;

/* Compiles the ORC u8 → f32 program once; the result is immutable and may
 * be used from several threads. */
LlavaPreprocessor *llava_preprocessor_new (const LlavaPreprocessParams *p,
    GError **err);
void llava_preprocessor_free (LlavaPreprocessor *pp);

/* frame (any size, any LlavaPixelFormat) → out [3, height, width] fp32. */
gboolean llava_preprocessor_run (const LlavaPreprocessor *pp,
    const LlavaFrame *frame, float *out, GError **err);

/* Pillow's ImagingResample (bicubic, a = -0.5, 8 bpc) on one u8 plane:
 * in [ih, iw] → out [oh, ow].  Exposed for tests. */
void llava_resize_bicubic_plane (const guint8 *in, guint iw, guint ih,
    guint8 *out, guint ow, guint oh);

G_END_DECLS
