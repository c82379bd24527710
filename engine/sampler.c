/* sampler.c — see sampler.h. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
  float logit;
  gint32 id;
} Cand;

/* splitmix64: small, fast, good enough for sampling, and fully determined
 * by the seed. */
static guint64
splitmix64 (guint64 *s)
{
  guint64 z = (*s += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

void
llava_rng_seed (LlavaRng *r, guint64 seed)
{
  r->state = seed;
}

double
llava_rng_uniform (LlavaRng *r)
{
  return (splitmix64 (&r->state) >> 11) * (1.0 / 9007199254740992.0);
}

gsize
llava_sampler_scratch_size (guint n)
{
  return (gsize) n * sizeof (Cand);
}

/* descending logit; ties by ascending id so the order is total */
static int
cand_cmp (const void *a, const void *b)
{
  const Cand *x = a, *y = b;
  if (x->logit != y->logit)
    return x->logit > y->logit ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static gint32
argmax (const float *logits, guint n)
{
  guint best = 0;
  for (guint i = 1; i < n; i++)
    if (logits[i] > logits[best])
      best = i;
  return (gint32) best;
}

gint32
llava_sample (const float *logits, guint n, const LlavaSamplerParams *p,
    LlavaRng *rng, gpointer scratch)
{
  Cand *c = scratch;
  guint k = n;
  double sum = 0.0, cum = 0.0, r;
  float max;

  if (p->temperature <= 0.0f || p->top_k == 1)
    return argmax (logits, n);
  for (guint i = 0; i < n; i++) {
    c[i].logit = logits[i];
    c[i].id = (gint32) i;
  }
  qsort (c, n, sizeof (Cand), cand_cmp);
  if (p->top_k > 0 && p->top_k < k)
    k = p->top_k;
  /* softmax(logit / T) over the k best; c[i].logit becomes the probability */
  max = c[0].logit;
  for (guint i = 0; i < k; i++) {
    double e = exp ((c[i].logit - max) / p->temperature);
    c[i].logit = (float) e;
    sum += e;
  }
  /* top-p: the smallest prefix whose probability reaches top_p */
  if (p->top_p > 0.0f && p->top_p < 1.0f) {
    guint keep = 0;
    double acc = 0.0;
    while (keep < k) {
      acc += c[keep++].logit / sum;
      if (acc >= p->top_p)
        break;
    }
    k = keep;
    sum = 0.0;
    for (guint i = 0; i < k; i++)
      sum += c[i].logit;
  }
  r = llava_rng_uniform (rng) * sum;
  for (guint i = 0; i < k; i++) {
    cum += c[i].logit;
    if (r < cum)
      return c[i].id;
  }
  return c[k - 1].id;
}
