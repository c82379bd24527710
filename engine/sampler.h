/* sampler.h — token choice on the host: temperature, top-k, top-p with a
 * seeded generator owned by the caller (no global state). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 state;
} LlavaRng;

void llava_rng_seed (LlavaRng *r, guint64 seed);
/* uniform in [0, 1) with 53 random bits */
double llava_rng_uniform (LlavaRng *r);

typedef struct {
  float temperature;            /* <= 0: greedy */
  guint top_k;                  /* 0: off */
  float top_p;                  /* >= 1: off */
} LlavaSamplerParams;

/* Picks an id in [0, n) from logits [n].  `scratch` holds n entries of
 * sampler work space (llava_sampler_scratch_size). */
gint32 llava_sample (const float *logits, guint n,
    const LlavaSamplerParams *p, LlavaRng *rng, gpointer scratch);
gsize llava_sampler_scratch_size (guint n);

G_END_DECLS
