/* session.c — a session: KV cache, activations and the per-frame feature
 * cache; generation = vision → inputs_embeds → prefill → decode loop. */
#include "llava-private.h"
#include "sampler.h"

#include <string.h>

typedef struct {
  guint64 key;                  /* 0: free */
  guint64 last_used;
} FeatureSlot;

struct _LlavaSession {
  LlavaModel *model;
  guint ctx;
  guint frames_per_chunk;
  SiglipScratch *vs;
  Qwen2State *ls;
  /* projected features of recent frames: slot i is rows
   * [i·tokens, (i+1)·tokens) of `features` [n_slots·tokens, d] */
  LlTensor *features;
  FeatureSlot *slots;
  guint n_slots;
  guint64 use_counter;
  float *logits;                /* [vocab] host copy for sampling / dumps */
  gpointer sampler_scratch;
};

LlavaSession *
llava_session_new (LlavaModel *m, const LlavaSessionOptions *opt,
    GError **err)
{
  LlavaSession *s = g_new0 (LlavaSession, 1);
  LlBackend *be = m->be;
  LlDType kv = m->wtype == LL_F32 ? LL_F32 : LL_F16;
  guint tokens = m->vision->tokens;

  s->model = llava_model_ref (m);
  s->ctx = opt && opt->context_size ? opt->context_size : m->context_size;
  s->n_slots = opt && opt->feature_cache_size ? opt->feature_cache_size
      : 2 * m->max_frames;
  /* no bigger than one storage binding allows, but every frame of one
   * request needs a slot at once */
  s->n_slots = MIN (s->n_slots, LLAVA_MAX_ACTIVATION_BYTES
      / ((gsize) tokens * m->llm->d * sizeof (float)));
  s->n_slots = MAX (s->n_slots, m->max_frames);
  s->slots = g_new0 (FeatureSlot, s->n_slots);
  s->frames_per_chunk = siglip_frames_per_chunk (m->vision, m->max_frames,
      m->max_activation_bytes);
  s->logits = g_new (float, m->llm->vocab);
  s->sampler_scratch = g_malloc (llava_sampler_scratch_size (m->llm->vocab));

  g_mutex_lock (&m->lock);
  s->vs = siglip_scratch_new (be, m->vision, s->frames_per_chunk, err);
  if (s->vs)
    s->ls = qwen2_state_new (be, m->llm, s->ctx, LLAVA_PREFILL_CHUNK, kv, err);
  if (s->ls)
    s->features = be->ops->tensor_new (be, LL_F32, s->n_slots * tokens,
        m->llm->d, "feature_cache", err);
  g_mutex_unlock (&m->lock);
  if (!s->features) {
    llava_session_free (s);
    return NULL;
  }
  return s;
}

void
llava_session_free (LlavaSession *s)
{
  LlavaModel *m;

  if (!s)
    return;
  m = s->model;
  g_mutex_lock (&m->lock);
  siglip_scratch_free (m->be, s->vs);
  qwen2_state_free (m->be, s->ls);
  llava_tensor_free (m->be, s->features);
  g_mutex_unlock (&m->lock);
  g_free (s->slots);
  g_free (s->logits);
  g_free (s->sampler_scratch);
  llava_model_unref (m);
  g_free (s);
}

/* ---- vision with the feature cache ---- */

static int
find_slot (LlavaSession *s, guint64 key)
{
  if (key == 0)
    return -1;
  for (guint i = 0; i < s->n_slots; i++)
    if (s->slots[i].key == key)
      return (int) i;
  return -1;
}

/* Least recently used slot not taken by this request (pinned). */
static guint
evict_slot (LlavaSession *s, const gboolean *pinned)
{
  guint best = G_MAXUINT;
  for (guint i = 0; i < s->n_slots; i++) {
    if (pinned[i])
      continue;
    if (best == G_MAXUINT || s->slots[i].last_used < s->slots[best].last_used)
      best = i;
  }
  return best;
}

static void
dump (const LlavaGenerateParams *p, const char *name, const float *data,
    const gint64 *shape, guint nd)
{
  if (p->dump)
    p->dump (name, data, shape, nd, p->dump_data);
}

/* Projected features of every image into slots; slot_of[k] = image k's. */
static gboolean
encode_images (LlavaSession *s, LlavaImage *const *images, guint n,
    const LlavaGenerateParams *p, GCancellable *cancel, guint *slot_of,
    LlavaResult *out, GError **err)
{
  LlavaModel *m = s->model;
  const SiglipModel *v = m->vision;
  const LlBackendOps *o = m->be->ops;
  gsize pix = (gsize) 3 * v->S * v->S;
  gboolean *pinned = g_new0 (gboolean, s->n_slots);
  guint *todo = g_new (guint, n), n_todo = 0;
  float *pixels = NULL, *feat = NULL, *proj = NULL;
  gboolean ok = FALSE;

  for (guint k = 0; k < n; k++) {
    /* with a dump every frame is encoded, so all tensors are complete */
    int i = p->dump ? -1 : find_slot (s, images[k]->key);
    if (i >= 0) {
      slot_of[k] = i;
      out->n_images_cached++;
    } else {
      slot_of[k] = evict_slot (s, pinned);
      s->slots[slot_of[k]].key = images[k]->key;
      todo[n_todo++] = k;
    }
    pinned[slot_of[k]] = TRUE;
    s->slots[slot_of[k]].last_used = ++s->use_counter;
  }
  if (p->dump) {
    gint64 shape[4] = { n, 3, v->S, v->S };
    pixels = g_new (float, pix * n);
    for (guint k = 0; k < n; k++)
      memcpy (pixels + k * pix, images[k]->pixels, pix * sizeof (float));
    dump (p, "pixel_values", pixels, shape, 4);
    feat = g_new (float, (gsize) n * v->tokens * v->C);
    proj = g_new (float, (gsize) n * v->tokens * v->out_dim);
  } else {
    pixels = g_new (float, pix * s->frames_per_chunk);
  }

  for (guint c0 = 0; c0 < n_todo; c0 += s->frames_per_chunk) {
    guint F = MIN (s->frames_per_chunk, n_todo - c0);
    const float *chunk_pix;

    if (g_cancellable_is_cancelled (cancel)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_CANCELLED,
          "cancelled while encoding the frames");
      goto out;
    }
    /* with a dump, todo = all images in order, so chunks are contiguous */
    if (p->dump) {
      chunk_pix = pixels + (gsize) c0 * pix;
    } else {
      for (guint f = 0; f < F; f++)
        memcpy (pixels + f * pix, images[todo[c0 + f]]->pixels,
            pix * sizeof (float));
      chunk_pix = pixels;
    }
    if (!siglip_encode_frames (m->be, v, s->vs, chunk_pix, F,
            feat ? feat + (gsize) c0 * v->tokens * v->C : NULL,
            proj ? proj + (gsize) c0 * v->tokens * v->out_dim : NULL, err))
      goto out;
    for (guint f = 0; f < F; f++)
      o->copy_rows (m->be, s->features, slot_of[todo[c0 + f]] * v->tokens,
          s->vs->out, f * v->tokens, v->tokens);
    if (!o->sync (m->be, err))
      goto out;
    out->n_images_encoded += F;
  }
  if (p->dump) {
    gint64 fs[3] = { n, v->tokens, v->C }, ps[3] = { n, v->tokens, v->out_dim };
    dump (p, "image_features", feat, fs, 3);
    dump (p, "projector_output", proj, ps, 3);
  }
  ok = TRUE;
out:
  if (!ok) {
    /* slots assigned to frames that were not encoded hold nothing */
    for (guint t = 0; t < n_todo; t++)
      s->slots[slot_of[todo[t]]].key = 0;
  }
  g_free (pinned);
  g_free (todo);
  g_free (pixels);
  g_free (feat);
  g_free (proj);
  return ok;
}

/* ---- the prompt: inputs_embeds [T, d] ---- */

static gboolean
build_inputs_embeds (LlavaSession *s, const gint32 *ids, guint n_ids,
    const guint *slot_of, guint T, const LlavaGenerateParams *p,
    GError **err)
{
  LlavaModel *m = s->model;
  const LlBackendOps *o = m->be->ops;
  guint tokens = m->vision->tokens;
  gint32 *expanded = g_new (gint32, T);
  guint t = 0, k = 0;
  gboolean ok;

  /* image positions get id 0 in the gather and are overwritten below */
  for (guint i = 0; i < n_ids; i++) {
    if (ids[i] == m->cfg.image_token_id) {
      for (guint j = 0; j < tokens; j++)
        expanded[t++] = 0;
    } else {
      expanded[t++] = ids[i];
    }
  }
  ok = o->upload (m->be, s->ls->ids, 0, T, expanded, err);
  if (ok) {
    o->embed_rows (m->be, s->ls->emb, m->llm->embed, s->ls->ids, T);
    t = 0;
    for (guint i = 0; i < n_ids; i++) {
      if (ids[i] == m->cfg.image_token_id) {
        o->copy_rows (m->be, s->ls->emb, t, s->features, slot_of[k++] * tokens,
            tokens);
        t += tokens;
      } else {
        t++;
      }
    }
  }
  if (ok && p->dump) {
    float *e = g_new (float, (gsize) T * m->llm->d);
    gint64 shape[2] = { T, m->llm->d };
    ok = o->download (m->be, s->ls->emb, 0, T, e, err);
    if (ok)
      dump (p, "inputs_embeds", e, shape, 2);
    g_free (e);
  }
  g_free (expanded);
  return ok;
}

/* ---- generation ---- */

static gboolean
is_stop (const LlavaModel *m, gint32 id)
{
  for (guint i = 0; i < m->n_stop_ids; i++)
    if (m->stop_ids[i] == id)
      return TRUE;
  return FALSE;
}

/* Chooses the id of step `k` (logits in s->ls->logits) and leaves it in
 * s->ls->next for the next decode step. */
static gboolean
choose_id (LlavaSession *s, const LlavaGenerateParams *p, guint k,
    const LlavaSamplerParams *sp, LlavaRng *rng, gint32 *id, GError **err)
{
  LlavaModel *m = s->model;
  LlBackend *be = m->be;
  Qwen2State *ls = s->ls;
  gboolean greedy = sp->temperature <= 0.0f || sp->top_k == 1;
  guint V = m->llm->vocab;

  if (p->dump || !greedy) {
    gint64 shape[2] = { 1, V };
    if (!be->ops->download (be, ls->logits, 0, 1, s->logits, err))
      return FALSE;
    if (k == 0) {
      gint64 s1[1] = { V };
      dump (p, "logits_prompt_last", s->logits, s1, 1);
    }
    dump (p, "logits_steps", s->logits, shape, 2);
  }
  if (k < p->n_teacher_force) {
    *id = p->teacher_force[k];
    return be->ops->upload (be, ls->next, 0, 1, id, err);
  }
  if (greedy) {
    /* argmax on the device: only the id comes back */
    be->ops->argmax (be, ls->next, 0, ls->logits, m->n_valid_logits);
    return be->ops->download (be, ls->next, 0, 1, id, err);
  }
  *id = llava_sample (s->logits, m->n_valid_logits, sp, rng,
      s->sampler_scratch);
  return be->ops->upload (be, ls->next, 0, 1, id, err);
}

static gboolean
generate_locked (LlavaSession *s, LlavaImage *const *images, guint n_images,
    const gint32 *ids, guint n_ids, const LlavaGenerateParams *p,
    LlavaTokenFunc on_token, gpointer user_data, GCancellable *cancel,
    LlavaResult *out, GError **err)
{
  LlavaModel *m = s->model;
  guint tokens = m->vision->tokens, n_placeholders = 0, T, max_new;
  guint *slot_of = g_new0 (guint, MAX (n_images, 1));
  GArray *gen = g_array_new (FALSE, FALSE, sizeof (gint32));
  LlavaDetokenizer *detok = m->tok ? llava_detokenizer_new (m->tok, TRUE)
      : NULL;
  GString *text = g_string_new (NULL);
  LlavaSamplerParams sp = { p->temperature, p->top_k, p->top_p };
  LlavaRng rng;
  double t0;
  gboolean ok = FALSE;

  llava_rng_seed (&rng, p->seed);
  max_new = p->n_teacher_force ? p->n_teacher_force
      : p->max_new_tokens ? p->max_new_tokens : 128;
  for (guint i = 0; i < n_ids + p->n_teacher_force; i++) {
    gint32 id = i < n_ids ? ids[i] : p->teacher_force[i - n_ids];
    /* every id indexes the embedding table on the device */
    if (id < 0 || (guint) id >= m->llm->vocab) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
          "token id %d is outside the vocabulary (0..%u)", id,
          m->llm->vocab - 1);
      goto out;
    }
    n_placeholders += i < n_ids && id == m->cfg.image_token_id;
  }
  if (n_placeholders != n_images) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "the prompt has %u image placeholders for %u images",
        n_placeholders, n_images);
    goto out;
  }
  if (n_images > m->max_frames) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "%u frames, the model was loaded for at most %u", n_images,
        m->max_frames);
    goto out;
  }
  T = n_ids - n_images + n_images * tokens;
  out->n_prompt_tokens = T;
  if (T >= s->ctx) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_CONTEXT,
        "the prompt is %u positions (%u text tokens + %u frames x %u) but "
        "the context holds %u; use fewer frames or a larger context",
        T, n_ids - n_images, n_images, tokens, s->ctx);
    goto out;
  }
  for (guint k = 0; k < n_images; k++)
    out->preprocess_ms += images[k]->preprocess_ms;

  /* vision */
  t0 = llava_now_ms ();
  if (!encode_images (s, images, n_images, p, cancel, slot_of, out, err))
    goto out;
  out->vision_ms = llava_now_ms () - t0;

  /* prefill */
  t0 = llava_now_ms ();
  if (!build_inputs_embeds (s, ids, n_ids, slot_of, T, p, err)
      || !qwen2_prefill (m->be, m->llm, s->ls, T, cancel, err))
    goto out;
  if (!m->be->ops->sync (m->be, err))
    goto out;
  out->prefill_ms = llava_now_ms () - t0;

  /* decode: step k chooses id k from the logits after the prompt and ids
   * 0..k-1; the last chosen id is never fed back */
  t0 = llava_now_ms ();
  out->stop_reason = LLAVA_STOP_MAX_TOKENS;
  for (guint k = 0;; k++) {
    gint32 id;

    if (!choose_id (s, p, k, &sp, &rng, &id, err))
      goto out;
    if (!p->n_teacher_force && is_stop (m, id)) {
      out->stop_reason = LLAVA_STOP_EOS;
      break;
    }
    g_array_append_val (gen, id);
    if (detok) {
      char *piece = llava_detokenizer_push (detok, id);
      g_string_append (text, piece);
      if (on_token && !on_token (id, piece, user_data)) {
        g_free (piece);
        out->stop_reason = LLAVA_STOP_CALLBACK;
        break;
      }
      g_free (piece);
    } else if (on_token && !on_token (id, "", user_data)) {
      out->stop_reason = LLAVA_STOP_CALLBACK;
      break;
    }
    if (gen->len >= max_new || T + k + 1 >= s->ctx)
      break;
    if (g_cancellable_is_cancelled (cancel)) {
      out->stop_reason = LLAVA_STOP_CANCELLED;
      break;
    }
    qwen2_decode_step (m->be, m->llm, s->ls, T + k);
  }
  out->decode_ms = llava_now_ms () - t0;
  if (detok) {
    char *tail = llava_detokenizer_flush (detok);
    g_string_append (text, tail);
    g_free (tail);
  }
  ok = TRUE;

out:
  out->n_ids = gen->len;
  out->ids = (gint32 *) g_array_free (gen, FALSE);
  out->text = g_string_free (text, FALSE);
  out->peak_device_bytes = m->be->ops->memory_peak (m->be);
  llava_detokenizer_free (detok);
  g_free (slot_of);
  return ok;
}

gboolean
llava_session_generate_ids (LlavaSession *s, LlavaImage *const *images,
    guint n_images, const gint32 *ids, guint n_ids,
    const LlavaGenerateParams *params, LlavaTokenFunc on_token,
    gpointer user_data, GCancellable *cancel, LlavaResult *out, GError **err)
{
  LlavaGenerateParams defaults;
  gboolean ok;

  if (!params) {
    llava_generate_params_init (&defaults);
    params = &defaults;
  }
  memset (out, 0, sizeof *out);
  out->input_ids = g_memdup2 (ids, n_ids * sizeof (gint32));
  out->n_input_ids = n_ids;
  g_mutex_lock (&s->model->lock);
  ok = generate_locked (s, images, n_images, ids, n_ids, params, on_token,
      user_data, cancel, out, err);
  g_mutex_unlock (&s->model->lock);
  return ok;
}

gboolean
llava_session_generate (LlavaSession *s, LlavaImage *const *images,
    guint n_images, const char *prompt, const LlavaGenerateParams *params,
    LlavaTokenFunc on_token, gpointer user_data, GCancellable *cancel,
    LlavaResult *out, GError **err)
{
  LlavaModel *m = s->model;
  GArray *ids;
  gboolean ok;

  memset (out, 0, sizeof *out);
  if (!m->tok) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "this model has no tokenizer");
    return FALSE;
  }
  ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  ok = llava_chat_build (m->tok, prompt ? prompt : "",
      params ? params->system_prompt : NULL, n_images,
      m->cfg.image_token_id, ids, NULL, err);
  if (ok)
    ok = llava_session_generate_ids (s, images, n_images,
        (const gint32 *) ids->data, ids->len, params, on_token, user_data,
        cancel, out, err);
  g_array_free (ids, TRUE);
  return ok;
}
