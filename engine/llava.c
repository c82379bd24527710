/* llava.c — models and images of the public API (llava.h); sessions and
 * generation are in session.c. */
#include "llava-private.h"

#include <string.h>

double
llava_now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

void
llava_model_options_init (LlavaModelOptions *opt)
{
  memset (opt, 0, sizeof *opt);
  opt->device_index = -1;
  opt->precision = LLAVA_PRECISION_AUTO;
}

void
llava_generate_params_init (LlavaGenerateParams *p)
{
  memset (p, 0, sizeof *p);
  p->top_p = 1.0f;
}

void
llava_result_clear (LlavaResult *r)
{
  if (!r)
    return;
  g_free (r->text);
  g_free (r->ids);
  g_free (r->input_ids);
  memset (r, 0, sizeof *r);
}

static void
progress (const LlavaModelOptions *opt, double f, const char *what)
{
  if (opt->progress)
    opt->progress (f, what, opt->progress_data);
}

static LlDType
resolve_precision (LlavaPrecision *p, gboolean reference)
{
  /* auto: f16 on Vulkan devices (the product path), f32 on the reference
   * backend (the oracle). */
  if (*p == LLAVA_PRECISION_AUTO)
    *p = reference ? LLAVA_PRECISION_F32 : LLAVA_PRECISION_F16;
  switch (*p) {
    case LLAVA_PRECISION_F16: return LL_F16;
    case LLAVA_PRECISION_Q8_0: return LL_Q8_0;
    default: return LL_F32;
  }
}

LlavaModel *
llava_model_new_from_weights (const LlavaConfig *cfg, LlavaWeightReadFunc read,
    gpointer src, gboolean has_lm_head, LlavaTokenizer *tok,
    const LlavaModelOptions *opt_in, GError **err)
{
  LlavaModelOptions opt;
  LlavaModel *m = g_new0 (LlavaModel, 1);
  LlavaWeightLoader l;
  LlavaPreprocessParams pp;
  LlavaPrecision prec;
  guint text_ctx;

  if (opt_in)
    opt = *opt_in;
  else
    llava_model_options_init (&opt);
  m->refcount = 1;
  g_mutex_init (&m->lock);
  m->cfg = *cfg;
  m->cfg.v_act = m->cfg.projector_act = NULL;
  m->tok = tok;

  /* preprocessing */
  memset (&pp, 0, sizeof pp);
  pp.width = cfg->pp_width ? cfg->pp_width : cfg->v_image_size;
  pp.height = cfg->pp_height ? cfg->pp_height : cfg->v_image_size;
  pp.do_resize = cfg->pp_do_resize;
  pp.do_rescale = cfg->pp_do_rescale;
  pp.do_normalize = cfg->pp_do_normalize;
  /* The config holds the rescale factor as float; transformers multiplies
   * by the JSON double (1/255 for every SigLIP checkpoint), which the exact
   * pixel values depend on. */
  pp.rescale = ABS (cfg->pp_rescale * 255.0 - 1.0) < 1e-6 ? 1.0 / 255.0
      : (double) cfg->pp_rescale;
  memcpy (pp.mean, cfg->pp_mean, sizeof pp.mean);
  memcpy (pp.std, cfg->pp_std, sizeof pp.std);
  if (pp.width != cfg->v_image_size || pp.height != cfg->v_image_size) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "preprocessor_config.json: size %ux%u differs from the vision "
        "image_size %u", pp.width, pp.height, cfg->v_image_size);
    goto fail;
  }
  if (cfg->pp_resample != 3 && cfg->pp_do_resize) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "preprocessor_config.json: resample %d (only 3 = bicubic)",
        cfg->pp_resample);
    goto fail;
  }
  if (!(m->pp = llava_preprocessor_new (&pp, err)))
    goto fail;

  /* device */
  progress (&opt, 0.0, "opening the device");
  if (opt.reference_backend) {
    m->be = ll_backend_ref_new ();
  } else {
    m->be = ll_backend_vulkan_new (opt.device_index, err);
    if (!m->be)
      goto fail;
  }
  prec = opt.precision;
  m->wtype = resolve_precision (&prec, opt.reference_backend);
  m->device_desc = g_strdup (m->be->ops->describe (m->be));

  /* weights */
  l.be = m->be;
  l.read = read;
  l.src = src;
  l.wtype = m->wtype;
  l.n_params = 0;
  progress (&opt, 0.05, "loading the vision tower");
  if (!(m->vision = siglip_model_load (&l, cfg, err)))
    goto fail;
  progress (&opt, 0.45, "loading the language model");
  if (!(m->llm = qwen2_model_load (&l, cfg, has_lm_head, err)))
    goto fail;
  if (m->vision->tokens != cfg->tokens_per_image) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "config.json: %u tokens per image expected, the vision tower gives %u",
        cfg->tokens_per_image, m->vision->tokens);
    goto fail;
  }

  /* context and generation limits */
  m->max_frames = opt.max_frames ? opt.max_frames : 16;
  m->max_activation_bytes = LLAVA_MAX_ACTIVATION_BYTES;
  text_ctx = cfg->t_max_pos ? cfg->t_max_pos : 32768;
  m->context_size = opt.context_size ? opt.context_size
      : m->max_frames * m->vision->tokens + 512;
  m->context_size = MIN (m->context_size, text_ctx);
  for (guint i = 0; i < cfg->n_eos_ids && m->n_stop_ids < 7; i++)
    m->stop_ids[m->n_stop_ids++] = cfg->eos_ids[i];
  /* <|endoftext|> (151643) also ends a reply (MODEL.md §4.3) */
  if (tok) {
    gint32 eot = llava_tokenizer_token_id (tok, "<|endoftext|>");
    if (eot >= 0)
      m->stop_ids[m->n_stop_ids++] = eot;
  }
  /* Logits are vocab wide (152000) but the tokenizer stops at <image>
   * (151646); rows above are padding.  Greedy argmax over ids < image_token_id
   * gives the transformers result whenever its argmax is a real token (true
   * for every golden step), and never emits padding. */
  m->n_valid_logits = cfg->image_token_id > 0
      && (guint) cfg->image_token_id < cfg->t_vocab
      ? (guint) cfg->image_token_id : cfg->t_vocab;

  m->info.architecture = "llava (siglip + qwen2)";
  m->info.image_size = cfg->v_image_size;
  m->info.tokens_per_image = m->vision->tokens;
  m->info.vision_layers_used = m->vision->n_layers;
  m->info.vision_hidden = cfg->v_hidden;
  m->info.text_layers = cfg->t_layers;
  m->info.text_hidden = cfg->t_hidden;
  m->info.heads = cfg->t_heads;
  m->info.kv_heads = cfg->t_kv_heads;
  m->info.vocab_size = cfg->t_vocab;
  m->info.context_size = m->context_size;
  m->info.n_params = l.n_params;
  m->info.precision = prec;
  m->info.device = m->device_desc;
  progress (&opt, 1.0, "ready");
  return m;

fail:
  llava_model_unref (m);
  return NULL;
}

static float *
checkpoint_read (gpointer src, const char *name, const gint64 *shape,
    guint n_dims, GError **err)
{
  return llava_checkpoint_read_f32 (src, name, shape, n_dims, err);
}

LlavaModel *
llava_model_load (const char *path, const LlavaModelOptions *opt,
    GError **err)
{
  LlavaCheckpoint *ck;
  LlavaTokenizer *tok;
  LlavaModel *m;

  g_return_val_if_fail (path != NULL, NULL);
  if (opt && opt->progress)
    opt->progress (0.0, "reading the model files", opt->progress_data);
  if (!(ck = llava_checkpoint_open (path, err)))
    return NULL;
  if (!(tok = llava_tokenizer_load (path, err))) {
    llava_checkpoint_free (ck);
    return NULL;
  }
  m = llava_model_new_from_weights (llava_checkpoint_get_config (ck),
      checkpoint_read, ck, llava_checkpoint_has (ck,
          "language_model.lm_head.weight"), tok, opt, err);
  if (m)
    m->info.n_params = llava_checkpoint_n_params (ck);
  llava_checkpoint_free (ck);
  return m;
}

LlavaModel *
llava_model_ref (LlavaModel *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_atomic_int_inc (&m->refcount);
  return m;
}

void
llava_model_unref (LlavaModel *m)
{
  if (!m || !g_atomic_int_dec_and_test (&m->refcount))
    return;
  if (m->be) {
    siglip_model_free (m->be, m->vision);
    qwen2_model_free (m->be, m->llm);
    ll_backend_free (m->be);
  }
  llava_tokenizer_free (m->tok);
  llava_preprocessor_free (m->pp);
  g_free (m->device_desc);
  g_mutex_clear (&m->lock);
  g_free (m);
}

const LlavaModelInfo *
llava_model_get_info (const LlavaModel *m)
{
  return &m->info;
}

/* ---- images ---- */

LlavaImage *
llava_image_new_from_frame (const LlavaModel *m, const LlavaFrame *frame,
    guint64 key, GError **err)
{
  double t0 = llava_now_ms ();
  guint S = m->cfg.v_image_size;
  LlavaImage *img = g_new0 (LlavaImage, 1);

  img->key = key;
  img->size = S;
  img->pixels = g_new (float, (gsize) 3 * S * S);
  if (!llava_preprocessor_run (m->pp, frame, img->pixels, err)) {
    llava_image_free (img);
    return NULL;
  }
  img->preprocess_ms = llava_now_ms () - t0;
  return img;
}

LlavaImage *
llava_image_new_from_pixels (const LlavaModel *m, const float *pixels,
    guint64 key, GError **err)
{
  guint S = m->cfg.v_image_size;
  LlavaImage *img;

  if (!pixels) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID, "no pixel values");
    return NULL;
  }
  img = g_new0 (LlavaImage, 1);
  img->key = key;
  img->size = S;
  img->pixels = g_memdup2 (pixels, (gsize) 3 * S * S * sizeof (float));
  return img;
}

void
llava_image_free (LlavaImage *img)
{
  if (!img)
    return;
  g_free (img->pixels);
  g_free (img);
}

const float *
llava_image_get_pixels (const LlavaImage *img, guint *size)
{
  if (size)
    *size = img->size;
  return img->pixels;
}
