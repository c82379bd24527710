/* qwen2.h — the Qwen2 decoder (prefill + decode with a KV cache), written
 * against the op interface (backend.h). */
#pragma once

#include <gio/gio.h>
#include "../weights.h"
#include "../model/model.h"

G_BEGIN_DECLS

typedef struct {
  LlTensor *ln_in;              /* [1, d] */
  LlTensor *qkv_w, *qkv_b;      /* [(H+2Hkv)·D, d], [1, (H+2Hkv)·D] fused */
  LlTensor *o_w;                /* [d, H·D] */
  LlTensor *ln_post;            /* [1, d] */
  LlTensor *gu_w;               /* [2I, d]  gate | up fused */
  LlTensor *down_w;             /* [d, I] */
} Qwen2Layer;

typedef struct {
  guint d, I, H, Hkv, D, n_layers, vocab;
  float eps, theta;
  LlTensor *embed;              /* [vocab, d] */
  LlTensor *lm_head;            /* [vocab, d]; == embed when tied */
  LlTensor *norm;               /* [1, d] */
  Qwen2Layer *layers;
} Qwen2Model;

Qwen2Model *qwen2_model_load (LlavaWeightLoader *l, const LlavaConfig *cfg,
    gboolean has_lm_head, GError **err);
void qwen2_model_free (LlBackend *be, Qwen2Model *m);

/* Per-session state: KV cache and activations for chunks of `chunk` rows. */
typedef struct {
  guint ctx, chunk, n_layers;
  LlTensor **kc, **vc;          /* per layer [Hkv·ctx, D] f16 or f32 */
  LlTensor *emb;                /* [ctx, d] inputs_embeds of the prompt */
  LlTensor *ids;                /* [ctx, 1] i32 prompt ids */
  LlTensor *x, *a;              /* [chunk, d] */
  LlTensor *qkv;                /* [chunk, (H+2Hkv)·D] */
  LlTensor *o;                  /* [chunk, H·D] */
  LlTensor *gu;                 /* [chunk, 2I] */
  LlTensor *m;                  /* [chunk, I] */
  LlTensor *last;               /* [1, d] */
  LlTensor *logits;             /* [1, vocab] */
  LlTensor *next;               /* [1, 1] i32: the id fed to the next step */
} Qwen2State;

Qwen2State *qwen2_state_new (LlBackend *be, const Qwen2Model *m, guint ctx,
    guint chunk, LlDType kv_dtype, GError **err);
void qwen2_state_free (LlBackend *be, Qwen2State *s);

/* Runs the decoder over s->emb rows [0, T) at positions 0..T-1 (filling the
 * KV cache) and leaves the last position's logits in s->logits.  Checks
 * `cancel` between chunks. */
gboolean qwen2_prefill (LlBackend *be, const Qwen2Model *m, Qwen2State *s,
    guint T, GCancellable *cancel, GError **err);

/* One decode step: embeds the id in s->next at position `pos` and leaves
 * the logits in s->logits. */
void qwen2_decode_step (LlBackend *be, const Qwen2Model *m, Qwen2State *s,
    guint pos);

G_END_DECLS
