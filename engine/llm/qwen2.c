/* qwen2.c — Qwen2 decoder in the order of the math (MODEL.md §1.4).
 * Rows are processed in chunks of s->chunk; the causal attention reads the
 * KV cache of all earlier positions, so a chunk only needs its own rows. */
#include "qwen2.h"

#include <math.h>

#define LM "language_model."

static gboolean
load_layer (LlavaWeightLoader *l, const Qwen2Model *m, guint i,
    Qwen2Layer *ly, GError **err)
{
  char *pre = g_strdup_printf (LM "model.layers.%u.", i);
  char *n[3] = { NULL, NULL, NULL };
  guint32 d = m->d, qn = m->H * m->D, kn = m->Hkv * m->D;
  guint32 qkv_lens[3] = { qn, kn, kn }, gu_lens[2] = { m->I, m->I };
  gboolean ok = FALSE;

#define NAME(k, s) (n[k] = g_strconcat (pre, s, NULL))
#define FREE3() do { g_free (n[0]); g_free (n[1]); g_free (n[2]); \
    n[0] = n[1] = n[2] = NULL; } while (0)
  NAME (0, "input_layernorm.weight");
  ly->ln_in = llava_weights_vector1 (l, n[0], d, err);
  FREE3 ();
  if (!ly->ln_in)
    goto out;
  NAME (0, "self_attn.q_proj.weight"); NAME (1, "self_attn.k_proj.weight");
  NAME (2, "self_attn.v_proj.weight");
  ly->qkv_w = llava_weights_matrix (l, (const char *const *) n, qkv_lens, 3,
      d, NULL, err);
  FREE3 ();
  if (!ly->qkv_w)
    goto out;
  NAME (0, "self_attn.q_proj.bias"); NAME (1, "self_attn.k_proj.bias");
  NAME (2, "self_attn.v_proj.bias");
  ly->qkv_b = llava_weights_vector (l, (const char *const *) n, qkv_lens, 3,
      err);
  FREE3 ();
  if (!ly->qkv_b)
    goto out;
  NAME (0, "self_attn.o_proj.weight");
  ly->o_w = llava_weights_matrix1 (l, n[0], d, qn, err);
  FREE3 ();
  if (!ly->o_w)
    goto out;
  NAME (0, "post_attention_layernorm.weight");
  ly->ln_post = llava_weights_vector1 (l, n[0], d, err);
  FREE3 ();
  if (!ly->ln_post)
    goto out;
  NAME (0, "mlp.gate_proj.weight"); NAME (1, "mlp.up_proj.weight");
  ly->gu_w = llava_weights_matrix (l, (const char *const *) n, gu_lens, 2, d,
      NULL, err);
  FREE3 ();
  if (!ly->gu_w)
    goto out;
  NAME (0, "mlp.down_proj.weight");
  ly->down_w = llava_weights_matrix1 (l, n[0], d, m->I, err);
  FREE3 ();
  ok = ly->down_w != NULL;
#undef NAME
#undef FREE3
out:
  g_free (pre);
  return ok;
}

Qwen2Model *
qwen2_model_load (LlavaWeightLoader *l, const LlavaConfig *cfg,
    gboolean has_lm_head, GError **err)
{
  Qwen2Model *m = g_new0 (Qwen2Model, 1);

  m->d = cfg->t_hidden;
  m->I = cfg->t_intermediate;
  m->H = cfg->t_heads;
  m->Hkv = cfg->t_kv_heads;
  m->D = cfg->t_head_dim;
  m->n_layers = cfg->t_layers;
  m->vocab = cfg->t_vocab;
  m->eps = cfg->rms_eps;
  m->theta = cfg->rope_theta;
  m->layers = g_new0 (Qwen2Layer, m->n_layers);
  if (m->H == 0 || m->Hkv == 0 || m->H % m->Hkv != 0 || m->D == 0
      || m->D % 2 != 0 || m->vocab == 0) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "config.json: unsupported text config (heads %u, kv heads %u, "
        "head dim %u, vocab %u)", m->H, m->Hkv, m->D, m->vocab);
    qwen2_model_free (l->be, m);
    return NULL;
  }

  /* The embedding table is stored once and used both by the gather and,
   * when the LM head is tied (0.5B), by the final projection. */
  if (!(m->embed = llava_weights_matrix1 (l,
              LM "model.embed_tokens.weight", m->vocab, m->d, err)))
    goto fail;
  for (guint i = 0; i < m->n_layers; i++)
    if (!load_layer (l, m, i, &m->layers[i], err))
      goto fail;
  if (!(m->norm = llava_weights_vector1 (l, LM "model.norm.weight", m->d,
              err)))
    goto fail;
  if (has_lm_head && !cfg->tie_embeddings) {
    if (!(m->lm_head = llava_weights_matrix1 (l, LM "lm_head.weight",
                m->vocab, m->d, err)))
      goto fail;
  } else {
    m->lm_head = m->embed;
  }
  return m;

fail:
  qwen2_model_free (l->be, m);
  return NULL;
}

void
qwen2_model_free (LlBackend *be, Qwen2Model *m)
{
  if (!m)
    return;
  for (guint i = 0; m->layers && i < m->n_layers; i++) {
    Qwen2Layer *ly = &m->layers[i];
    LlTensor *t[] = { ly->ln_in, ly->qkv_w, ly->qkv_b, ly->o_w, ly->ln_post,
      ly->gu_w, ly->down_w };
    for (guint k = 0; k < G_N_ELEMENTS (t); k++)
      llava_tensor_free (be, t[k]);
  }
  g_free (m->layers);
  if (m->lm_head != m->embed)
    llava_tensor_free (be, m->lm_head);
  llava_tensor_free (be, m->embed);
  llava_tensor_free (be, m->norm);
  g_free (m);
}

Qwen2State *
qwen2_state_new (LlBackend *be, const Qwen2Model *m, guint ctx, guint chunk,
    LlDType kv_dtype, GError **err)
{
  const LlBackendOps *o = be->ops;
  Qwen2State *s = g_new0 (Qwen2State, 1);
  guint32 nqkv = (m->H + 2 * m->Hkv) * m->D;

  s->ctx = ctx;
  s->n_layers = m->n_layers;
  s->chunk = chunk = MIN (chunk, ctx);
  s->kc = g_new0 (LlTensor *, m->n_layers);
  s->vc = g_new0 (LlTensor *, m->n_layers);
  for (guint i = 0; i < m->n_layers; i++) {
    char *kn = g_strdup_printf ("kv_cache.%u.k", i);
    char *vn = g_strdup_printf ("kv_cache.%u.v", i);
    s->kc[i] = o->tensor_new (be, kv_dtype, m->Hkv * ctx, m->D, kn, err);
    s->vc[i] = s->kc[i] ? o->tensor_new (be, kv_dtype, m->Hkv * ctx, m->D,
        vn, err) : NULL;
    g_free (kn);
    g_free (vn);
    if (!s->vc[i])
      goto fail;
  }
  if (!(s->emb = o->tensor_new (be, LL_F32, ctx, m->d, "llm.inputs_embeds",
              err))
      || !(s->ids = o->tensor_new (be, LL_I32, ctx, 1, "llm.ids", err))
      || !(s->x = o->tensor_new (be, LL_F32, chunk, m->d, "llm.x", err))
      || !(s->a = o->tensor_new (be, LL_F32, chunk, m->d, "llm.a", err))
      || !(s->qkv = o->tensor_new (be, LL_F32, chunk, nqkv, "llm.qkv", err))
      || !(s->o = o->tensor_new (be, LL_F32, chunk, m->H * m->D, "llm.attn",
              err))
      || !(s->gu = o->tensor_new (be, LL_F32, chunk, 2 * m->I, "llm.gate_up",
              err))
      || !(s->m = o->tensor_new (be, LL_F32, chunk, m->I, "llm.mlp", err))
      || !(s->last = o->tensor_new (be, LL_F32, 1, m->d, "llm.last", err))
      || !(s->logits = o->tensor_new (be, LL_F32, 1, m->vocab, "llm.logits",
              err))
      || !(s->next = o->tensor_new (be, LL_I32, 1, 1, "llm.next_id", err)))
    goto fail;
  return s;

fail:
  qwen2_state_free (be, s);
  return NULL;
}

void
qwen2_state_free (LlBackend *be, Qwen2State *s)
{
  if (!s)
    return;
  for (guint i = 0; i < s->n_layers; i++) {
    llava_tensor_free (be, s->kc[i]);
    llava_tensor_free (be, s->vc[i]);
  }
  g_free (s->kc);
  g_free (s->vc);
  llava_tensor_free (be, s->emb);
  llava_tensor_free (be, s->ids);
  llava_tensor_free (be, s->x);
  llava_tensor_free (be, s->a);
  llava_tensor_free (be, s->qkv);
  llava_tensor_free (be, s->o);
  llava_tensor_free (be, s->gu);
  llava_tensor_free (be, s->m);
  llava_tensor_free (be, s->last);
  llava_tensor_free (be, s->logits);
  llava_tensor_free (be, s->next);
  g_free (s);
}

/* All decoder layers over s->x rows [0, T) at positions pos0..pos0+T-1. */
static void
qwen2_layers (LlBackend *be, const Qwen2Model *m, Qwen2State *s, guint T,
    guint pos0)
{
  const LlBackendOps *o = be->ops;
  float scale = 1.0f / sqrtf ((float) m->D);

  for (guint i = 0; i < m->n_layers; i++) {
    const Qwen2Layer *ly = &m->layers[i];
    /* a = RMSNorm(x); qkv = a·Wqkvᵀ + b   [T, (H+2Hkv)·D] */
    o->rmsnorm (be, s->a, s->x, ly->ln_in, m->eps, T);
    o->matmul (be, s->qkv, s->a, ly->qkv_w, ly->qkv_b, NULL, LL_ACT_NONE, T);
    /* RoPE on q (in place) and k; k, v appended to the cache at pos0.. */
    o->rope_kv (be, s->qkv, s->kc[i], s->vc[i], T, m->H, m->Hkv, m->D, pos0,
        m->theta);
    /* o = causal softmax(q kᵀ / √D) v over positions 0..pos0+t   [T, H·D] */
    o->attention_causal (be, s->o, s->qkv, s->kc[i], s->vc[i], T, m->H,
        m->Hkv, m->D, pos0, scale);
    /* x = x + o·Woᵀ */
    o->matmul (be, s->x, s->o, ly->o_w, NULL, s->x, LL_ACT_NONE, T);
    /* x = x + Wdown·(silu(Wgate·a) ⊙ Wup·a),  a = RMSNorm(x)   gu [T, 2I] */
    o->rmsnorm (be, s->a, s->x, ly->ln_post, m->eps, T);
    o->matmul (be, s->gu, s->a, ly->gu_w, NULL, NULL, LL_ACT_NONE, T);
    o->silu_mul (be, s->m, s->gu, T);
    o->matmul (be, s->x, s->m, ly->down_w, NULL, s->x, LL_ACT_NONE, T);
  }
}

/* logits [1, vocab] = RMSNorm(x[row])·Eᵀ — the LM head on one row only. */
static void
qwen2_logits (LlBackend *be, const Qwen2Model *m, Qwen2State *s, guint row)
{
  const LlBackendOps *o = be->ops;

  o->copy_rows (be, s->last, 0, s->x, row, 1);
  o->rmsnorm (be, s->last, s->last, m->norm, m->eps, 1);
  o->matmul (be, s->logits, s->last, m->lm_head, NULL, NULL, LL_ACT_NONE, 1);
}

gboolean
qwen2_prefill (LlBackend *be, const Qwen2Model *m, Qwen2State *s, guint T,
    GCancellable *cancel, GError **err)
{
  const LlBackendOps *o = be->ops;
  guint n = 0;

  g_return_val_if_fail (T >= 1 && T <= s->ctx, FALSE);
  for (guint pos0 = 0; pos0 < T; pos0 += n) {
    n = MIN (s->chunk, T - pos0);
    if (g_cancellable_is_cancelled (cancel)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_CANCELLED,
          "cancelled during the prefill (at position %u of %u)", pos0, T);
      return FALSE;
    }
    /* x [n, d] = inputs_embeds rows pos0.. */
    o->copy_rows (be, s->x, 0, s->emb, pos0, n);
    qwen2_layers (be, m, s, n, pos0);
    /* One chunk per submit: the device starts early, and a cancel is seen
     * within one chunk. */
    if (!o->sync (be, err))
      return FALSE;
  }
  qwen2_logits (be, m, s, n - 1);
  return TRUE;
}

void
qwen2_decode_step (LlBackend *be, const Qwen2Model *m, Qwen2State *s,
    guint pos)
{
  /* x [1, d] = E[next] */
  be->ops->embed_rows (be, s->x, m->embed, s->next, 1);
  qwen2_layers (be, m, s, 1, pos);
  qwen2_logits (be, m, s, 0);
}
