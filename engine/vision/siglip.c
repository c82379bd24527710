/* siglip.c — SigLIP vision tower + projector, in the order of the math
 * (MODEL.md §1.2-1.3).  Shapes: M = F·P rows (P patches per frame). */
#include "siglip.h"

#include <math.h>

#define VT "vision_tower.vision_model."

static gboolean
load_layer (LlavaWeightLoader *l, const SiglipModel *m, guint i,
    SiglipLayer *ly, GError **err)
{
  char *pre = g_strdup_printf (VT "encoder.layers.%u.", i);
  char *n[3];
  guint32 C = m->C, I = m->I, lens[3] = { C, C, C };
  gboolean ok = FALSE;

#define NAME(k, s) (n[k] = g_strconcat (pre, s, NULL))
#define FREE3() do { g_free (n[0]); g_free (n[1]); g_free (n[2]); } while (0)
  NAME (0, "layer_norm1.weight"); NAME (1, "layer_norm1.bias"); n[2] = NULL;
  ly->ln1_w = llava_weights_vector1 (l, n[0], C, err);
  ly->ln1_b = ly->ln1_w ? llava_weights_vector1 (l, n[1], C, err) : NULL;
  FREE3 ();
  if (!ly->ln1_b)
    goto out;
  NAME (0, "self_attn.q_proj.weight"); NAME (1, "self_attn.k_proj.weight");
  NAME (2, "self_attn.v_proj.weight");
  ly->qkv_w = llava_weights_matrix (l, (const char *const *) n, lens, 3, C,
      NULL, err);
  FREE3 ();
  if (!ly->qkv_w)
    goto out;
  NAME (0, "self_attn.q_proj.bias"); NAME (1, "self_attn.k_proj.bias");
  NAME (2, "self_attn.v_proj.bias");
  ly->qkv_b = llava_weights_vector (l, (const char *const *) n, lens, 3, err);
  FREE3 ();
  if (!ly->qkv_b)
    goto out;
  NAME (0, "self_attn.out_proj.weight"); NAME (1, "self_attn.out_proj.bias");
  n[2] = NULL;
  ly->o_w = llava_weights_matrix1 (l, n[0], C, C, err);
  ly->o_b = ly->o_w ? llava_weights_vector1 (l, n[1], C, err) : NULL;
  FREE3 ();
  if (!ly->o_b)
    goto out;
  NAME (0, "layer_norm2.weight"); NAME (1, "layer_norm2.bias");
  ly->ln2_w = llava_weights_vector1 (l, n[0], C, err);
  ly->ln2_b = ly->ln2_w ? llava_weights_vector1 (l, n[1], C, err) : NULL;
  FREE3 ();
  if (!ly->ln2_b)
    goto out;
  NAME (0, "mlp.fc1.weight"); NAME (1, "mlp.fc1.bias");
  ly->fc1_w = llava_weights_matrix1 (l, n[0], I, C, err);
  ly->fc1_b = ly->fc1_w ? llava_weights_vector1 (l, n[1], I, err) : NULL;
  FREE3 ();
  if (!ly->fc1_b)
    goto out;
  NAME (0, "mlp.fc2.weight"); NAME (1, "mlp.fc2.bias");
  ly->fc2_w = llava_weights_matrix1 (l, n[0], C, I, err);
  ly->fc2_b = ly->fc2_w ? llava_weights_vector1 (l, n[1], C, err) : NULL;
  FREE3 ();
  ok = ly->fc2_b != NULL;
#undef NAME
#undef FREE3
out:
  g_free (pre);
  return ok;
}

SiglipModel *
siglip_model_load (LlavaWeightLoader *l, const LlavaConfig *cfg, GError **err)
{
  SiglipModel *m = g_new0 (SiglipModel, 1);
  gint64 conv[3];

  m->C = cfg->v_hidden;
  m->I = cfg->v_intermediate;
  m->H = cfg->v_heads;
  m->D = cfg->v_heads ? cfg->v_hidden / cfg->v_heads : 0;
  m->S = cfg->v_image_size;
  m->p = cfg->v_patch_size;
  m->g = m->p ? m->S / m->p : 0;
  m->P = m->g * m->g;
  m->n_layers = cfg->v_layers_used;
  m->select_full = cfg->select_full;
  m->tokens = m->select_full ? m->P : m->P - 1;
  m->eps = cfg->v_ln_eps;
  m->proj_hidden = cfg->proj_out;
  m->out_dim = cfg->t_hidden;
  m->layers = g_new0 (SiglipLayer, m->n_layers);

  if (m->H == 0 || m->D * m->H != m->C || m->g == 0 || m->tokens == 0
      || cfg->v_channels != 3 || m->n_layers > cfg->v_layers
      || cfg->proj_in != m->C) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "config.json: unsupported vision config (hidden %u, heads %u, "
        "image %u, patch %u, channels %u, layers %u of %u, projector in %u)",
        m->C, m->H, m->S, m->p, cfg->v_channels, m->n_layers, cfg->v_layers,
        cfg->proj_in);
    siglip_model_free (l->be, m);
    return NULL;
  }

  /* Conv2d(3→C, k=p, s=p) as a GEMM over im2col rows ordered (c, ky, kx),
   * which is the conv weight's own [C, 3, p, p] layout. */
  conv[0] = 3;
  conv[1] = m->p;
  conv[2] = m->p;
  {
    const char *n[] = { VT "embeddings.patch_embedding.weight" };
    guint32 rows = m->C;
    m->patch_w = llava_weights_matrix (l, n, &rows, 1, 3 * m->p * m->p, conv,
        err);
  }
  if (!m->patch_w
      || !(m->patch_b = llava_weights_vector1 (l,
              VT "embeddings.patch_embedding.bias", m->C, err))
      || !(m->pos = llava_weights_table_f32 (l,
              VT "embeddings.position_embedding.weight", m->P, m->C, err)))
    goto fail;
  for (guint i = 0; i < m->n_layers; i++)
    if (!load_layer (l, m, i, &m->layers[i], err))
      goto fail;
  if (!(m->proj1_w = llava_weights_matrix1 (l,
              "multi_modal_projector.linear_1.weight", m->proj_hidden, m->C,
              err))
      || !(m->proj1_b = llava_weights_vector1 (l,
              "multi_modal_projector.linear_1.bias", m->proj_hidden, err))
      || !(m->proj2_w = llava_weights_matrix1 (l,
              "multi_modal_projector.linear_2.weight", m->out_dim,
              m->proj_hidden, err))
      || !(m->proj2_b = llava_weights_vector1 (l,
              "multi_modal_projector.linear_2.bias", m->out_dim, err)))
    goto fail;
  return m;

fail:
  siglip_model_free (l->be, m);
  return NULL;
}

void
siglip_model_free (LlBackend *be, SiglipModel *m)
{
  if (!m)
    return;
  for (guint i = 0; m->layers && i < m->n_layers; i++) {
    SiglipLayer *ly = &m->layers[i];
    LlTensor *t[] = { ly->ln1_w, ly->ln1_b, ly->qkv_w, ly->qkv_b, ly->o_w,
      ly->o_b, ly->ln2_w, ly->ln2_b, ly->fc1_w, ly->fc1_b, ly->fc2_w,
      ly->fc2_b };
    for (guint k = 0; k < G_N_ELEMENTS (t); k++)
      llava_tensor_free (be, t[k]);
  }
  g_free (m->layers);
  llava_tensor_free (be, m->patch_w);
  llava_tensor_free (be, m->patch_b);
  llava_tensor_free (be, m->pos);
  llava_tensor_free (be, m->proj1_w);
  llava_tensor_free (be, m->proj1_b);
  llava_tensor_free (be, m->proj2_w);
  llava_tensor_free (be, m->proj2_b);
  g_free (m);
}

guint
siglip_frames_per_chunk (const SiglipModel *m, guint max_frames,
    gsize max_bytes)
{
  /* widest per-frame activation row set, in bytes */
  guint cols = MAX (MAX (3 * m->C, m->I), MAX (3 * m->p * m->p,
          MAX (m->proj_hidden, m->out_dim)));
  gsize per_frame = (gsize) m->P * cols * sizeof (float);
  gsize pix = (gsize) 3 * m->S * m->S * sizeof (float);
  guint f = (guint) (max_bytes / MAX (per_frame, pix));

  return CLAMP (f, 1, MAX (max_frames, 1));
}

SiglipScratch *
siglip_scratch_new (LlBackend *be, const SiglipModel *m, guint F,
    GError **err)
{
  SiglipScratch *s = g_new0 (SiglipScratch, 1);
  guint32 M = F * m->P, Mt = F * m->tokens;
  const LlBackendOps *o = be->ops;

  s->max_frames = F;
  if (!(s->pixels = o->tensor_new (be, LL_F32, F * 3 * m->S, m->S,
              "vision.pixels", err))
      || !(s->patches = o->tensor_new (be, LL_F32, M, 3 * m->p * m->p,
              "vision.patches", err))
      || !(s->x = o->tensor_new (be, LL_F32, M, m->C, "vision.x", err))
      || !(s->a = o->tensor_new (be, LL_F32, M, m->C, "vision.a", err))
      || !(s->qkv = o->tensor_new (be, LL_F32, M, 3 * m->C, "vision.qkv",
              err))
      || !(s->h = o->tensor_new (be, LL_F32, M, m->I, "vision.mlp", err))
      || (!m->select_full && !(s->sel = o->tensor_new (be, LL_F32, Mt, m->C,
                  "vision.selected", err)))
      || !(s->ph = o->tensor_new (be, LL_F32, Mt, m->proj_hidden,
              "projector.hidden", err))
      || !(s->out = o->tensor_new (be, LL_F32, Mt, m->out_dim,
              "projector.out", err))) {
    siglip_scratch_free (be, s);
    return NULL;
  }
  return s;
}

void
siglip_scratch_free (LlBackend *be, SiglipScratch *s)
{
  if (!s)
    return;
  llava_tensor_free (be, s->pixels);
  llava_tensor_free (be, s->patches);
  llava_tensor_free (be, s->x);
  llava_tensor_free (be, s->a);
  llava_tensor_free (be, s->qkv);
  llava_tensor_free (be, s->h);
  llava_tensor_free (be, s->sel);
  llava_tensor_free (be, s->ph);
  llava_tensor_free (be, s->out);
  g_free (s);
}

gboolean
siglip_encode_frames (LlBackend *be, const SiglipModel *m, SiglipScratch *s,
    const float *pixels, guint F, float *features, float *projected,
    GError **err)
{
  const LlBackendOps *o = be->ops;
  guint32 M = F * m->P, Mt = F * m->tokens;
  float scale = 1.0f / sqrtf ((float) m->D);
  LlTensor *feat;

  g_return_val_if_fail (F >= 1 && F <= s->max_frames, FALSE);

  /* pixels [F·3·S, S] */
  if (!o->upload (be, s->pixels, 0, F * 3 * m->S, pixels, err))
    return FALSE;
  /* patch embedding: patches [M, 3p²] · Wpeᵀ + b → x [M, C]; + pos [P, C] */
  o->im2col (be, s->patches, s->pixels, F, m->S, m->p);
  o->matmul (be, s->x, s->patches, m->patch_w, m->patch_b, NULL, LL_ACT_NONE,
      M);
  o->add_rows (be, s->x, m->pos, M);

  for (guint i = 0; i < m->n_layers; i++) {
    const SiglipLayer *ly = &m->layers[i];
    /* a = LN1(x); qkv = a·Wqkvᵀ + b   [M, 3C] */
    o->layernorm (be, s->a, s->x, ly->ln1_w, ly->ln1_b, m->eps, M);
    o->matmul (be, s->qkv, s->a, ly->qkv_w, ly->qkv_b, NULL, LL_ACT_NONE, M);
    /* a = softmax(q kᵀ · D^-½) v per frame and head   [M, C] */
    o->attention_frames (be, s->a, s->qkv, F, m->P, m->H, m->D, scale);
    /* x = x + a·Woᵀ + bo */
    o->matmul (be, s->x, s->a, ly->o_w, ly->o_b, s->x, LL_ACT_NONE, M);
    /* x = x + gelu_tanh(LN2(x)·W1ᵀ + b1)·W2ᵀ + b2   (h [M, I]) */
    o->layernorm (be, s->a, s->x, ly->ln2_w, ly->ln2_b, m->eps, M);
    o->matmul (be, s->h, s->a, ly->fc1_w, ly->fc1_b, NULL, LL_ACT_GELU_TANH,
        M);
    o->matmul (be, s->x, s->h, ly->fc2_w, ly->fc2_b, s->x, LL_ACT_NONE, M);
  }

  /* feature select: "full" keeps all P rows, "default" drops patch 0 */
  feat = s->x;
  if (!m->select_full) {
    for (guint f = 0; f < F; f++)
      o->copy_rows (be, s->sel, f * m->tokens, s->x, f * m->P + 1, m->tokens);
    feat = s->sel;
  }
  if (features && !o->download (be, feat, 0, Mt, features, err))
    return FALSE;

  /* projector: out = gelu_erf(feat·W1ᵀ + b1)·W2ᵀ + b2   [Mt, out_dim] */
  o->matmul (be, s->ph, feat, m->proj1_w, m->proj1_b, NULL, LL_ACT_GELU_ERF,
      Mt);
  o->matmul (be, s->out, s->ph, m->proj2_w, m->proj2_b, NULL, LL_ACT_NONE,
      Mt);
  if (projected && !o->download (be, s->out, 0, Mt, projected, err))
    return FALSE;
  return TRUE;
}
