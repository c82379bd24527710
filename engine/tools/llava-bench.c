/* llava-bench.c — whole-model benchmark at the real llava-interleave-qwen-0.5b
 * shapes with random weights made in memory (no download).
 *
 *   llava-bench [--frames 10] [--vision-layers 26] [--llm-layers 24]
 *               [--tokens 7306] [--decode 32] [--precision f16,q8_0]
 *               [--device N] [--ref-frames 1 --ref-vision-layers 1
 *                --ref-llm-layers 1 --ref-tokens 256 --ref-decode 4]
 *
 * Runs one window (vision over --frames frames, prefill over --tokens
 * positions, --decode greedy steps) on the Vulkan backend, then the same
 * work on a slice of the plain C reference backend (single thread, the
 * oracle) in the same process.  Reduced runs (fewer layers, frames, tokens)
 * are extrapolated to the full shape *explicitly*, by multiply-accumulate
 * count for vision and prefill (attention's T² term included) and by weight
 * bytes for decode; the printout says which numbers are measured.
 */
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "../llava-private.h"

typedef struct {
  guint frames, v_layers, t_layers, tokens, decode;
} Shape;

static const Shape full = { 10, 26, 24, 10 * 729 + 16, 0 };

/* ---- random weights ---- */

static float *
random_read (gpointer src, const char *name, const gint64 *shape,
    guint n_dims, GError **err)
{
  guint64 *state = src;
  gsize n = 1, fan_in;
  float *v, scale, base = 0.0f;

  for (guint i = 0; i < n_dims; i++)
    n *= shape[i];
  fan_in = n_dims >= 2 ? n / shape[0] : 1;
  /* norms around 1, everything else U(-a, a) with unit output variance */
  if (g_str_has_suffix (name, "norm.weight")
      || g_str_has_suffix (name, "layernorm.weight")
      || (strstr (name, "layer_norm") && g_str_has_suffix (name, ".weight")))
    base = 1.0f, scale = 0.1f;
  else if (n_dims == 1)
    scale = 0.02f;
  else
    scale = sqrtf (3.0f / fan_in);
  v = g_new (float, n);
  for (gsize i = 0; i < n; i++) {
    guint64 z = (*state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
    z ^= z >> 27;
    v[i] = base + scale * ((float) (z >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }
  return v;
}

static void
real_config (LlavaConfig *c, const Shape *s)
{
  memset (c, 0, sizeof *c);
  c->v_hidden = 1152;
  c->v_intermediate = 4304;
  c->v_layers = c->v_layers_used = s->v_layers;
  c->v_heads = 16;
  c->v_image_size = 384;
  c->v_patch_size = 14;
  c->v_channels = 3;
  c->v_ln_eps = 1e-6f;
  c->vision_feature_layer = -1;
  c->select_full = TRUE;
  c->tokens_per_image = 729;
  c->proj_in = 1152;
  c->proj_out = 1024;
  c->t_hidden = 1024;
  c->t_intermediate = 2816;
  c->t_layers = s->t_layers;
  c->t_heads = c->t_kv_heads = 16;
  c->t_head_dim = 64;
  c->t_vocab = 152000;
  c->t_max_pos = 32768;
  c->rope_theta = 1e6f;
  c->rms_eps = 1e-6f;
  c->tie_embeddings = TRUE;
  c->image_token_id = 151646;
  c->eos_ids[0] = 151645;
  c->n_eos_ids = 1;
  c->pp_width = c->pp_height = 384;
  c->pp_do_resize = c->pp_do_rescale = c->pp_do_normalize = TRUE;
  c->pp_rescale = 1.0f / 255;
  c->pp_resample = 3;
  for (int i = 0; i < 3; i++)
    c->pp_mean[i] = c->pp_std[i] = 0.5f;
}

/* ---- one run ---- */

typedef struct {
  double load_ms, vision_ms, prefill_ms, decode_ms;
  guint64 peak;
  char *device;
} Timing;

static gboolean
bench_run (const Shape *s, LlavaPrecision prec, gboolean reference,
    int device, Timing *t, GError **err)
{
  LlavaConfig cfg;
  LlavaModelOptions o;
  LlavaModel *m;
  LlBackend *be;
  SiglipScratch *vs = NULL;
  Qwen2State *ls = NULL;
  guint64 seed = 42;
  gsize pix = (gsize) 3 * 384 * 384;
  float *pixels = NULL, *emb = NULL;
  guint fpc;
  double t0;
  gboolean ok = FALSE;

  memset (t, 0, sizeof *t);
  real_config (&cfg, s);
  llava_model_options_init (&o);
  o.precision = prec;
  o.reference_backend = reference;
  o.device_index = device;
  o.max_frames = MAX (s->frames, 1);
  o.context_size = s->tokens + s->decode + 1;
  t0 = llava_now_ms ();
  m = llava_model_new_from_weights (&cfg, random_read, &seed, FALSE, NULL, &o,
      err);
  if (!m)
    return FALSE;
  t->load_ms = llava_now_ms () - t0;
  t->device = g_strdup (m->device_desc);
  be = m->be;

  /* vision: the frames in chunks that keep activations ≤ 128 MiB */
  fpc = siglip_frames_per_chunk (m->vision, s->frames,
      LLAVA_MAX_ACTIVATION_BYTES);
  pixels = random_read (&seed, "pixels", (gint64[]) { fpc * pix }, 1, NULL);
  if (s->frames) {
    if (!(vs = siglip_scratch_new (be, m->vision, fpc, err)))
      goto out;
    t0 = llava_now_ms ();
    for (guint f0 = 0; f0 < s->frames; f0 += fpc)
      if (!siglip_encode_frames (be, m->vision, vs, pixels,
              MIN (fpc, s->frames - f0), NULL, NULL, err)
          || !be->ops->sync (be, err))
        goto out;
    t->vision_ms = llava_now_ms () - t0;
    siglip_scratch_free (be, vs);
    vs = NULL;
  }

  /* prefill over random inputs_embeds, then greedy decode steps */
  if (!(ls = qwen2_state_new (be, m->llm, s->tokens + s->decode + 1,
              LLAVA_PREFILL_CHUNK, m->wtype == LL_F32 ? LL_F32 : LL_F16,
              err)))
    goto out;
  emb = random_read (&seed, "embeds", (gint64[]) { s->tokens, 1024 }, 2,
      NULL);
  if (!be->ops->upload (be, ls->emb, 0, s->tokens, emb, err))
    goto out;
  t0 = llava_now_ms ();
  if (!qwen2_prefill (be, m->llm, ls, s->tokens, NULL, err))
    goto out;
  be->ops->argmax (be, ls->next, 0, ls->logits, m->n_valid_logits);
  {
    gint32 id;
    if (!be->ops->download (be, ls->next, 0, 1, &id, err))
      goto out;
  }
  t->prefill_ms = llava_now_ms () - t0;
  t0 = llava_now_ms ();
  for (guint k = 0; k < s->decode; k++) {
    gint32 id;
    qwen2_decode_step (be, m->llm, ls, s->tokens + k);
    be->ops->argmax (be, ls->next, 0, ls->logits, m->n_valid_logits);
    if (!be->ops->download (be, ls->next, 0, 1, &id, err))
      goto out;
  }
  t->decode_ms = llava_now_ms () - t0;
  t->peak = be->ops->memory_peak (be);
  ok = TRUE;
out:
  siglip_scratch_free (be, vs);
  qwen2_state_free (be, ls);
  g_free (pixels);
  g_free (emb);
  llava_model_unref (m);
  return ok;
}

/* ---- report ---- */

/* Work models used to extrapolate a reduced run to the full shape: vision
 * and prefill are compute-bound (multiply-accumulates, attention included,
 * assumed to run at the GEMMs' rate); decode is bandwidth-bound (weight
 * elements read per token: the layers plus the 152000-row LM head). */
static double
vision_macs (const Shape *s)
{
  const double P = 729, C = 1152, I = 4304, D = 72, H = 16;
  double layer = P * C * (4 * C + 2 * I) + 2 * H * P * P * D;
  return s->frames * (P * 588 * C + s->v_layers * layer
      + P * (C * 1024 + 1024.0 * 1024));
}

static double
prefill_macs (const Shape *s)
{
  const double d = 1024, I = 2816, V = 152000, T = s->tokens;
  /* q,k,v,o + gate,up,down per token; QKᵀ and PV over T²/2 pairs × d */
  return s->t_layers * (T * (4 * d * d + 3 * d * I) + T * T * d) + d * V;
}

static double
decode_weights (const Shape *s)
{
  const double d = 1024, I = 2816, V = 152000;
  return s->t_layers * (4 * d * d + 3 * d * I) + V * d;
}

static void
report (const char *who, const Shape *s, const Timing *t)
{
  double v_frame = s->frames ? t->vision_ms / s->frames : 0;
  double pf_tps = t->prefill_ms > 0 ? s->tokens / (t->prefill_ms / 1e3) : 0;
  double dec_tps = s->decode && t->decode_ms > 0
      ? s->decode / (t->decode_ms / 1e3) : 0;
  Shape f1 = full;
  gboolean scaled = s->v_layers != full.v_layers
      || s->t_layers != full.t_layers || s->tokens != full.tokens;

  f1.frames = 1;
  printf ("  %-9s %s\n", who, t->device);
  printf ("    measured  : %u frames x %u vision layers: %.1f ms/frame | "
      "prefill T=%u x %u layers: %.1f tok/s (%.0f ms) | decode %u steps: "
      "%.2f tok/s | peak %.1f MiB\n", s->frames, s->v_layers, v_frame,
      s->tokens, s->t_layers, pf_tps, t->prefill_ms, s->decode, dec_tps,
      t->peak / 1048576.0);
  if (scaled && s->frames) {
    Shape m1 = *s;
    double v_full, pf_full_s, dec_full;
    m1.frames = 1;
    v_full = v_frame * vision_macs (&f1) / vision_macs (&m1);
    pf_full_s = t->prefill_ms / 1e3 * prefill_macs (&full) / prefill_macs (s);
    dec_full = dec_tps * decode_weights (s) / decode_weights (&full);
    printf ("    full shape (EXTRAPOLATED by MAC count / weight bytes, not "
        "measured): vision %.0f ms/frame, prefill T=%u %.0f s = %.2f tok/s, "
        "decode %.2f tok/s\n", v_full, full.tokens, pf_full_s,
        full.tokens / pf_full_s, dec_full);
  }
}

int
main (int argc, char **argv)
{
  Shape vk = full, ref = { 1, 1, 1, 256, 4 };
  char *precisions = NULL;
  int device = -1;
  gboolean no_ref = FALSE, ref_only = FALSE;
  GOptionEntry entries[] = {
    {"frames", 0, 0, G_OPTION_ARG_INT, &vk.frames, "Frames in the window (10)", "N"},
    {"vision-layers", 0, 0, G_OPTION_ARG_INT, &vk.v_layers, "SigLIP layers to run (26)", "N"},
    {"llm-layers", 0, 0, G_OPTION_ARG_INT, &vk.t_layers, "Qwen2 layers to run (24)", "N"},
    {"tokens", 0, 0, G_OPTION_ARG_INT, &vk.tokens, "Prefill positions (7306)", "T"},
    {"decode", 0, 0, G_OPTION_ARG_INT, &vk.decode, "Decode steps (16)", "N"},
    {"precision", 0, 0, G_OPTION_ARG_STRING, &precisions, "Comma-separated precisions (f16,q8_0)", "P"},
    {"device", 0, 0, G_OPTION_ARG_INT, &device, "Vulkan device index", "N"},
    {"ref-frames", 0, 0, G_OPTION_ARG_INT, &ref.frames, "Reference slice: frames (1)", "N"},
    {"ref-vision-layers", 0, 0, G_OPTION_ARG_INT, &ref.v_layers, "Reference slice: vision layers (1)", "N"},
    {"ref-llm-layers", 0, 0, G_OPTION_ARG_INT, &ref.t_layers, "Reference slice: LLM layers (1)", "N"},
    {"ref-tokens", 0, 0, G_OPTION_ARG_INT, &ref.tokens, "Reference slice: prefill positions (256)", "T"},
    {"ref-decode", 0, 0, G_OPTION_ARG_INT, &ref.decode, "Reference slice: decode steps (4)", "N"},
    {"no-reference", 0, 0, G_OPTION_ARG_NONE, &no_ref, "Skip the CPU reference", NULL},
    {"reference-only", 0, 0, G_OPTION_ARG_NONE, &ref_only, "Only the CPU reference", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- whole-model benchmark, random weights at the 0.5B shapes");
  GError *err = NULL;
  char **precs;
  int rc = 0;

  vk.decode = 16;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "llava-bench: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (vk.v_layers < 1 || vk.t_layers < 1 || vk.tokens < 1 || ref.v_layers < 1
      || ref.t_layers < 1 || ref.tokens < 1) {
    fprintf (stderr, "llava-bench: layers and tokens must be ≥ 1\n");
    return 2;
  }
  precs = g_strsplit (precisions ? precisions : "f16,q8_0", ",", -1);
  for (guint i = 0; precs[i]; i++) {
    LlavaPrecision p;
    Timing t;

    if (!llava_precision_from_string (precs[i], &p)) {
      fprintf (stderr, "llava-bench: unknown precision %s\n", precs[i]);
      rc = 2;
      break;
    }
    printf ("precision %s\n", precs[i]);
    if (!ref_only) {
      if (bench_run (&vk, p, FALSE, device, &t, &err)) {
        report ("vulkan", &vk, &t);
      } else {
        printf ("  vulkan    failed: %s\n", err->message);
        g_clear_error (&err);
        rc = 1;
      }
      g_free (t.device);
    }
    if (!no_ref) {
      if (bench_run (&ref, p, TRUE, -1, &t, &err)) {
        report ("reference", &ref, &t);
      } else {
        printf ("  reference failed: %s\n", err->message);
        g_clear_error (&err);
        rc = 1;
      }
      g_free (t.device);
    }
    fflush (stdout);
  }
  g_strfreev (precs);
  g_free (precisions);
  return rc;
}
