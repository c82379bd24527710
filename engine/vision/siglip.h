/* siglip.h — the SigLIP vision tower (truncated, no post_layernorm) and the
 * LLaVA projector, written against the op interface (backend.h). */
#pragma once

#include "../weights.h"
#include "../model/model.h"

G_BEGIN_DECLS

typedef struct {
  LlTensor *ln1_w, *ln1_b;      /* [1, C] */
  LlTensor *qkv_w, *qkv_b;      /* [3C, C], [1, 3C]  (q | k | v fused at load) */
  LlTensor *o_w, *o_b;          /* [C, C], [1, C] */
  LlTensor *ln2_w, *ln2_b;      /* [1, C] */
  LlTensor *fc1_w, *fc1_b;      /* [I, C], [1, I] */
  LlTensor *fc2_w, *fc2_b;      /* [C, I], [1, C] */
} SiglipLayer;

typedef struct {
  guint C, I, H, D;             /* hidden, MLP, heads, head dim */
  guint S, p, g, P;             /* image side, patch, grid g = S/p, P = g² */
  guint n_layers;               /* layers run (= vision_feature_layer resolved) */
  guint tokens;                 /* rows per frame handed to the LLM */
  gboolean select_full;         /* FALSE: drop the first patch ("default") */
  float eps;
  guint proj_hidden, out_dim;   /* projector: C → proj_hidden → out_dim */
  LlTensor *patch_w, *patch_b;  /* [C, 3p²] (conv weight as a matrix), [1, C] */
  LlTensor *pos;                /* [P, C] f32 */
  SiglipLayer *layers;
  LlTensor *proj1_w, *proj1_b, *proj2_w, *proj2_b;
} SiglipModel;

SiglipModel *siglip_model_load (LlavaWeightLoader *l, const LlavaConfig *cfg,
    GError **err);
void siglip_model_free (LlBackend *be, SiglipModel *m);

/* Activations for up to `max_frames` frames at a time. */
typedef struct {
  guint max_frames;
  LlTensor *pixels;             /* [F·3·S, S] */
  LlTensor *patches;            /* [F·P, 3p²] */
  LlTensor *x, *a;              /* [F·P, C] residual stream, normed / attn out */
  LlTensor *qkv;                /* [F·P, 3C] */
  LlTensor *h;                  /* [F·P, I] */
  LlTensor *sel;                /* [F·tokens, C] ("default" only) */
  LlTensor *ph;                 /* [F·tokens, proj_hidden] */
  LlTensor *out;                /* [F·tokens, out_dim] projected features */
} SiglipScratch;

/* Frames per chunk such that no activation exceeds `max_bytes`. */
guint siglip_frames_per_chunk (const SiglipModel *m, guint max_frames,
    gsize max_bytes);
SiglipScratch *siglip_scratch_new (LlBackend *be, const SiglipModel *m,
    guint max_frames, GError **err);
void siglip_scratch_free (LlBackend *be, SiglipScratch *s);

/* Encodes F ≤ max_frames frames (pixels [F, 3, S, S] on the host): the
 * projected features [F·tokens, out_dim] are left in s->out.  When non-NULL,
 * `features` [F, tokens, C] gets the selected vision layer's output and
 * `projected` [F, tokens, out_dim] the projector output (read back). */
gboolean siglip_encode_frames (LlBackend *be, const SiglipModel *m,
    SiglipScratch *s, const float *pixels, guint F, float *features,
    float *projected, GError **err);

G_END_DECLS
