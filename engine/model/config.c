/* config.c — LlavaConfig from a model directory's config.json,
 * preprocessor_config.json and generation_config.json.
 *
 * The llava-hf configs omit every key whose value equals the transformers
 * default (e.g. the 7B text_config has no hidden_size), so each missing key
 * takes the default of the class transformers 4.44 would instantiate:
 *   LlavaConfig        image_token_index 32000, projector_hidden_act "gelu",
 *                      vision_feature_layer -2, vision_feature_select_strategy
 *                      "default"
 *   SiglipVisionConfig hidden 768, intermediate 3072, layers 12, heads 12,
 *                      channels 3, image 224, patch 16, layer_norm_eps 1e-6,
 *                      hidden_act "gelu_pytorch_tanh"
 *   Qwen2Config        vocab 151936, hidden 4096, intermediate 22016, layers
 *                      32, heads 32, kv heads = heads, max_pos 32768,
 *                      rms_norm_eps 1e-6, rope_theta 10000, tie false
 *   SiglipImageProcessor  224×224, resample 3, rescale 1/255, mean = std =
 *                      0.5, resize/rescale/normalize on
 * The original lmms-lab layout (model_type "llava_qwen": a flat Qwen2
 * config plus mm_* keys, vision tower named by mm_vision_tower) is mapped to
 * the same struct with the SigLIP-so400m-384 tower truncated to 26 layers
 * (MODEL.md §1.2, §2.2). */
#include "model.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* Per-dimension and product limits: far above any real model (14B: hidden
 * 5120 × vocab 152064 ≈ 2^29.5) and low enough that byte counts computed in
 * 64 bits and per-tensor rows/cols in 32 bits cannot overflow. */
#define CFG_MAX_DIM (1u << 24)
#define CFG_MAX_LAYERS 1024u
#define CFG_MAX_PRODUCT (G_GUINT64_CONSTANT (1) << 40)

typedef struct {
  const char *file;             /* for errors */
  const char *section;          /* "", "text_config." or "vision_config." */
  GError **err;
  gboolean failed;
} CfgCtx;

static void G_GNUC_PRINTF (2, 3)
cfg_fail (CfgCtx *c, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  if (c->failed)
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (c->err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: %s", c->file, msg);
  c->failed = TRUE;
}

/* A member that is absent or null means "use the default". */
static JsonNode *
cfg_member (JsonObject *o, const char *key)
{
  JsonNode *n = o ? json_object_get_member (o, key) : NULL;
  return n && !JSON_NODE_HOLDS_NULL (n) ? n : NULL;
}

static gint64
cfg_int (CfgCtx *c, JsonObject *o, const char *key, gint64 def)
{
  JsonNode *n = cfg_member (o, key);
  if (!n)
    return def;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64) {
    cfg_fail (c, "\"%s%s\" is not an integer", c->section, key);
    return def;
  }
  return json_node_get_int (n);
}

/* A dimension: integer in [lo, CFG_MAX_DIM]. */
static guint
cfg_dim (CfgCtx *c, JsonObject *o, const char *key, gint64 def, gint64 lo)
{
  gint64 v = cfg_int (c, o, key, def);
  if (!c->failed && (v < lo || v > CFG_MAX_DIM))
    cfg_fail (c, "\"%s%s\" = %" G_GINT64_FORMAT " is out of range [%" G_GINT64_FORMAT
        ", %u]", c->section, key, v, lo, CFG_MAX_DIM);
  return c->failed ? 0 : (guint) v;
}

static double
cfg_double (CfgCtx *c, JsonObject *o, const char *key, double def)
{
  JsonNode *n = cfg_member (o, key);
  GType t;
  if (!n)
    return def;
  t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  if (t == G_TYPE_INT64)
    return (double) json_node_get_int (n);
  if (t == G_TYPE_DOUBLE)
    return json_node_get_double (n);
  cfg_fail (c, "\"%s%s\" is not a number", c->section, key);
  return def;
}

static gboolean
cfg_bool (CfgCtx *c, JsonObject *o, const char *key, gboolean def)
{
  JsonNode *n = cfg_member (o, key);
  if (!n)
    return def;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    cfg_fail (c, "\"%s%s\" is not a boolean", c->section, key);
    return def;
  }
  return json_node_get_boolean (n);
}

static const char *
cfg_string (CfgCtx *c, JsonObject *o, const char *key, const char *def)
{
  JsonNode *n = cfg_member (o, key);
  if (!n)
    return def;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    cfg_fail (c, "\"%s%s\" is not a string", c->section, key);
    return def;
  }
  return json_node_get_string (n);
}

static JsonObject *
cfg_object (CfgCtx *c, JsonObject *o, const char *key)
{
  JsonNode *n = cfg_member (o, key);
  if (!n)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (n)) {
    cfg_fail (c, "\"%s%s\" is not an object", c->section, key);
    return NULL;
  }
  return json_node_get_object (n);
}

/* A token id or a list of them (generation_config's eos_token_id may be
 * either). */
static void
cfg_ids (CfgCtx *c, JsonObject *o, const char *key, gint32 *ids, guint *n_ids,
    guint max)
{
  JsonNode *n = cfg_member (o, key);
  if (!n)
    return;
  *n_ids = 0;
  if (JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
          || json_node_get_int (e) < 0 || json_node_get_int (e) > G_MAXINT32) {
        cfg_fail (c, "\"%s%s\"[%u] is not a token id", c->section, key, i);
        return;
      }
      if (*n_ids < max)         /* more than `max` stop ids: keep the first */
        ids[(*n_ids)++] = (gint32) json_node_get_int (e);
    }
  } else {
    gint64 v = cfg_int (c, o, key, -1);
    if (!c->failed && (v < 0 || v > G_MAXINT32))
      cfg_fail (c, "\"%s%s\" is not a token id", c->section, key);
    if (!c->failed)
      ids[(*n_ids)++] = (gint32) v;
  }
}

static JsonObject *
cfg_parse_root (JsonParser *p, const char *json, gssize len, const char *file,
    GError **err)
{
  g_autoptr (GError) jerr = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (p, json, len, &jerr)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: JSON syntax error: %s",
        file, jerr->message);
    return NULL;
  }
  root = json_parser_get_root (p);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: not a JSON object", file);
    return NULL;
  }
  return json_node_get_object (root);
}

void
llava_config_clear (LlavaConfig *cfg)
{
  if (!cfg)
    return;
  g_clear_pointer (&cfg->v_act, g_free);
  g_clear_pointer (&cfg->projector_act, g_free);
}

/* Defaults for a config.json that has no vision_config / no
 * preprocessor_config.json. */
static void
cfg_init_defaults (LlavaConfig *cfg)
{
  memset (cfg, 0, sizeof (*cfg));
  cfg->bos_id = -1;
  cfg->pad_id = -1;
  cfg->pp_mean[0] = cfg->pp_mean[1] = cfg->pp_mean[2] = 0.5f;
  cfg->pp_std[0] = cfg->pp_std[1] = cfg->pp_std[2] = 0.5f;
  cfg->pp_rescale = 1.0f / 255.0f;
  cfg->pp_do_resize = cfg->pp_do_rescale = cfg->pp_do_normalize = TRUE;
  cfg->pp_resample = 3;
}

static void
cfg_read_qwen2 (CfgCtx *c, JsonObject *t, LlavaConfig *cfg)
{
  gint64 kv;

  cfg->t_vocab = cfg_dim (c, t, "vocab_size", 151936, 1);
  cfg->t_hidden = cfg_dim (c, t, "hidden_size", 4096, 1);
  cfg->t_intermediate = cfg_dim (c, t, "intermediate_size", 22016, 1);
  cfg->t_layers = cfg_dim (c, t, "num_hidden_layers", 32, 1);
  cfg->t_heads = cfg_dim (c, t, "num_attention_heads", 32, 1);
  kv = cfg_int (c, t, "num_key_value_heads", cfg->t_heads);
  cfg->t_max_pos = cfg_dim (c, t, "max_position_embeddings", 32768, 1);
  cfg->rms_eps = (float) cfg_double (c, t, "rms_norm_eps", 1e-6);
  cfg->rope_theta = (float) cfg_double (c, t, "rope_theta", 10000.0);
  cfg->tie_embeddings = cfg_bool (c, t, "tie_word_embeddings", FALSE);
  if (c->failed)
    return;
  if (kv < 1 || kv > cfg->t_heads || cfg->t_heads % kv != 0) {
    cfg_fail (c, "\"%snum_key_value_heads\" = %" G_GINT64_FORMAT " must divide "
        "num_attention_heads = %u", c->section, kv, cfg->t_heads);
    return;
  }
  cfg->t_kv_heads = (guint) kv;
  if (cfg->t_hidden % cfg->t_heads != 0) {
    cfg_fail (c, "\"%shidden_size\" = %u is not a multiple of num_attention_heads = %u",
        c->section, cfg->t_hidden, cfg->t_heads);
    return;
  }
  cfg->t_head_dim = cfg->t_hidden / cfg->t_heads;
  if (cfg->t_head_dim % 2 != 0)
    cfg_fail (c, "%shead_dim %u is odd (RoPE needs pairs)", c->section,
        cfg->t_head_dim);
  if (!(cfg->rms_eps > 0.0f) || !isfinite (cfg->rms_eps)
      || !(cfg->rope_theta > 1.0f) || !isfinite (cfg->rope_theta))
    cfg_fail (c, "\"%srms_norm_eps\" / \"rope_theta\" out of range", c->section);
}

/* The text side's token ids (bos/eos/pad) at the text_config (llava-hf) or
 * root (lmms-lab) level. */
static void
cfg_read_ids (CfgCtx *c, JsonObject *t, LlavaConfig *cfg)
{
  gint32 one = -1;
  guint n = 0;
  cfg_ids (c, t, "bos_token_id", &one, &n, 1);
  if (n)
    cfg->bos_id = one;
  n = 0;
  cfg_ids (c, t, "pad_token_id", &one, &n, 1);
  if (n)
    cfg->pad_id = one;
  cfg_ids (c, t, "eos_token_id", cfg->eos_ids, &cfg->n_eos_ids,
      G_N_ELEMENTS (cfg->eos_ids));
}

static void
cfg_set_unsupported (CfgCtx *c, const char *what, const char *found)
{
  if (c->failed)
    return;
  g_set_error (c->err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
      "%s: unsupported architecture: %s is \"%s\" (supported: llava with "
      "siglip_vision_model + qwen2, or lmms-lab llava_qwen with a SigLIP tower)",
      c->file, what, found ? found : "(missing)");
  c->failed = TRUE;
}

static gboolean
cfg_act_supported (const char *act)
{
  return act && (strcmp (act, "gelu_pytorch_tanh") == 0 || strcmp (act, "gelu") == 0);
}

/* Everything that depends on more than one key, and the overflow limits. */
static void
cfg_derive (CfgCtx *c, LlavaConfig *cfg)
{
  guint grid;
  guint64 big;

  if (c->failed)
    return;
  if (cfg->v_layers > CFG_MAX_LAYERS || cfg->t_layers > CFG_MAX_LAYERS) {
    cfg_fail (c, "too many layers (vision %u, text %u; at most %u)",
        cfg->v_layers, cfg->t_layers, CFG_MAX_LAYERS);
    return;
  }
  if (cfg->v_hidden % cfg->v_heads != 0) {
    cfg_fail (c, "vision hidden_size %u is not a multiple of num_attention_heads %u",
        cfg->v_hidden, cfg->v_heads);
    return;
  }
  if (!(cfg->v_ln_eps > 0.0f) || !isfinite (cfg->v_ln_eps)) {
    cfg_fail (c, "vision layer_norm_eps %g out of range", cfg->v_ln_eps);
    return;
  }
  /* the two activations the backend implements (LL_ACT_GELU_TANH / _ERF) */
  if (!cfg_act_supported (cfg->v_act) || !cfg_act_supported (cfg->projector_act)) {
    g_set_error (c->err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "%s: unsupported activation (vision hidden_act \"%s\", projector_hidden_act "
        "\"%s\"; supported: gelu_pytorch_tanh, gelu)", c->file, cfg->v_act,
        cfg->projector_act);
    c->failed = TRUE;
    return;
  }
  if (cfg->v_patch_size > cfg->v_image_size) {
    cfg_fail (c, "vision patch_size %u is larger than image_size %u",
        cfg->v_patch_size, cfg->v_image_size);
    return;
  }
  /* Products that size a tensor or an activation must stay far inside
   * 64-bit byte counts and 32-bit rows/cols. */
  {
    const struct { const char *what; guint64 a, b; } prods[] = {
      {"text hidden_size × vocab_size", cfg->t_hidden, cfg->t_vocab},
      {"text hidden_size × intermediate_size", cfg->t_hidden, cfg->t_intermediate},
      {"vision hidden_size × intermediate_size", cfg->v_hidden, cfg->v_intermediate},
      {"vision hidden_size × channels·patch²", cfg->v_hidden,
            (guint64) cfg->v_channels * cfg->v_patch_size * cfg->v_patch_size},
      {"vision image_size²", cfg->v_image_size, cfg->v_image_size},
    };
    for (guint i = 0; i < G_N_ELEMENTS (prods); i++) {
      big = prods[i].a * prods[i].b;
      if (big > CFG_MAX_PRODUCT) {
        cfg_fail (c, "dimensions overflow: %s = %" G_GUINT64_FORMAT " × %"
            G_GUINT64_FORMAT " exceeds 2^40", prods[i].what, prods[i].a, prods[i].b);
        return;
      }
    }
  }

  /* hidden_states has v_layers + 1 entries, index 0 = the embeddings:
   * -1 → v_layers, -2 → v_layers - 1, k ≥ 0 → k. */
  if (cfg->vision_feature_layer < 0) {
    gint64 idx = (gint64) cfg->v_layers + 1 + cfg->vision_feature_layer;
    if (idx < 0) {
      cfg_fail (c, "vision_feature_layer %d is out of range for %u vision layers",
          cfg->vision_feature_layer, cfg->v_layers);
      return;
    }
    cfg->v_layers_used = (guint) idx;
  } else {
    if ((guint) cfg->vision_feature_layer > cfg->v_layers) {
      cfg_fail (c, "vision_feature_layer %d is out of range for %u vision layers",
          cfg->vision_feature_layer, cfg->v_layers);
      return;
    }
    cfg->v_layers_used = (guint) cfg->vision_feature_layer;
  }

  grid = cfg->v_image_size / cfg->v_patch_size;
  cfg->tokens_per_image = grid * grid - (cfg->select_full ? 0 : 1);
  if (cfg->tokens_per_image == 0) {
    cfg_fail (c, "no image tokens left (grid %u×%u with strategy \"default\")",
        grid, grid);
    return;
  }
  cfg->proj_in = cfg->v_hidden;
  cfg->proj_out = cfg->t_hidden;
  if (cfg->pp_height == 0) {
    cfg->pp_height = cfg->v_image_size;
    cfg->pp_width = cfg->v_image_size;
  }
}

static void
cfg_read_llava_hf (CfgCtx *c, JsonObject *root, LlavaConfig *cfg)
{
  JsonObject *v, *t;
  const char *vt, *tt, *strategy;
  JsonNode *fl;

  v = cfg_object (c, root, "vision_config");
  t = cfg_object (c, root, "text_config");
  if (c->failed)
    return;
  /* LlavaConfig fills a missing model_type with clip_vision_model / llama */
  vt = v ? cfg_string (c, v, "model_type", "clip_vision_model") : "clip_vision_model";
  tt = t ? cfg_string (c, t, "model_type", "llama") : "llama";
  if (c->failed)
    return;
  if (strcmp (vt, "siglip_vision_model") != 0) {
    cfg_set_unsupported (c, "vision_config.model_type", vt);
    return;
  }
  if (strcmp (tt, "qwen2") != 0) {
    cfg_set_unsupported (c, "text_config.model_type", tt);
    return;
  }

  c->section = "vision_config.";
  cfg->v_hidden = cfg_dim (c, v, "hidden_size", 768, 1);
  cfg->v_intermediate = cfg_dim (c, v, "intermediate_size", 3072, 1);
  cfg->v_layers = cfg_dim (c, v, "num_hidden_layers", 12, 1);
  cfg->v_heads = cfg_dim (c, v, "num_attention_heads", 12, 1);
  cfg->v_channels = cfg_dim (c, v, "num_channels", 3, 1);
  cfg->v_image_size = cfg_dim (c, v, "image_size", 224, 1);
  cfg->v_patch_size = cfg_dim (c, v, "patch_size", 16, 1);
  cfg->v_ln_eps = (float) cfg_double (c, v, "layer_norm_eps", 1e-6);
  cfg->v_act = g_strdup (cfg_string (c, v, "hidden_act", "gelu_pytorch_tanh"));

  c->section = "text_config.";
  cfg_read_qwen2 (c, t, cfg);
  cfg_read_ids (c, t, cfg);

  c->section = "";
  {
    gint64 itok = cfg_int (c, root, "image_token_index", 32000);
    if (!c->failed && (itok < 0 || itok > G_MAXINT32))
      cfg_fail (c, "\"image_token_index\" out of range");
    cfg->image_token_id = (gint32) itok;
  }
  cfg->projector_act = g_strdup (cfg_string (c, root, "projector_hidden_act", "gelu"));
  fl = cfg_member (root, "vision_feature_layer");
  if (fl && JSON_NODE_HOLDS_ARRAY (fl)) {
    if (!c->failed) {
      g_set_error (c->err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
          "%s: a list of vision_feature_layer values is not supported", c->file);
      c->failed = TRUE;
    }
    return;
  }
  {
    gint64 l = cfg_int (c, root, "vision_feature_layer", -2);
    if (!c->failed && (l < -(gint64) CFG_MAX_LAYERS || l > (gint64) CFG_MAX_LAYERS))
      cfg_fail (c, "\"vision_feature_layer\" out of range");
    cfg->vision_feature_layer = (int) l;
  }
  strategy = cfg_string (c, root, "vision_feature_select_strategy", "default");
  if (c->failed)
    return;
  if (strcmp (strategy, "full") == 0)
    cfg->select_full = TRUE;
  else if (strcmp (strategy, "default") == 0)
    cfg->select_full = FALSE;
  else
    cfg_fail (c, "unknown vision_feature_select_strategy \"%s\" (full or default)",
        strategy);
}

/* lmms-lab LlavaQwenForCausalLM: Qwen2 keys at the root, the vision tower
 * named by mm_vision_tower (SigLIP so400m-patch14-384 with its last layer
 * deleted before saving: 26 layers, output of the last one, no selection). */
static void
cfg_read_lmms (CfgCtx *c, JsonObject *root, LlavaConfig *cfg)
{
  const char *tower = cfg_string (c, root, "mm_vision_tower", NULL);
  const char *proj = cfg_string (c, root, "mm_projector_type", "linear");
  if (c->failed)
    return;
  if (!tower || !strstr (tower, "siglip")) {
    cfg_set_unsupported (c, "mm_vision_tower", tower);
    return;
  }
  if (strcmp (proj, "mlp2x_gelu") != 0) {
    cfg_set_unsupported (c, "mm_projector_type", proj);
    return;
  }
  cfg->v_hidden = 1152;
  cfg->v_intermediate = 4304;
  cfg->v_layers = 26;
  cfg->v_heads = 16;
  cfg->v_channels = 3;
  cfg->v_image_size = 384;
  cfg->v_patch_size = 14;
  cfg->v_ln_eps = 1e-6f;
  cfg->v_act = g_strdup ("gelu_pytorch_tanh");
  cfg->vision_feature_layer = -1;
  cfg->select_full = TRUE;
  cfg->projector_act = g_strdup ("gelu");
  if (cfg_dim (c, root, "mm_hidden_size", 1152, 1) != 1152 && !c->failed)
    cfg_fail (c, "\"mm_hidden_size\" is not 1152 (SigLIP so400m)");
  cfg_read_qwen2 (c, root, cfg);
  cfg_read_ids (c, root, cfg);
  /* the original code uses -200 and never embeds it; the engine needs an id
   * inside the vocabulary to mark placeholders: the llava-hf one */
  cfg->image_token_id = 151646;
}

gboolean
llava_config_parse (LlavaConfig *cfg, const char *json, gssize len,
    const char *file, GError **err)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  CfgCtx c = { file, "", err, FALSE };
  JsonObject *root;
  const char *mt;

  cfg_init_defaults (cfg);
  root = cfg_parse_root (p, json, len, file, err);
  if (!root)
    return FALSE;
  mt = cfg_string (&c, root, "model_type", NULL);
  if (c.failed)
    return FALSE;
  if (mt && strcmp (mt, "llava") == 0)
    cfg_read_llava_hf (&c, root, cfg);
  else if (mt && strcmp (mt, "llava_qwen") == 0)
    cfg_read_lmms (&c, root, cfg);
  else
    cfg_set_unsupported (&c, "model_type", mt);
  cfg_derive (&c, cfg);
  if (c.failed) {
    llava_config_clear (cfg);
    return FALSE;
  }
  return TRUE;
}

gboolean
llava_config_parse_preprocessor (LlavaConfig *cfg, const char *json, gssize len,
    const char *file, GError **err)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  CfgCtx c = { file, "", err, FALSE };
  JsonObject *root, *size;
  JsonNode *n;

  root = cfg_parse_root (p, json, len, file, err);
  if (!root)
    return FALSE;
  size = cfg_object (&c, root, "size");
  if (size) {
    if (cfg_member (size, "height") || cfg_member (size, "width")) {
      cfg->pp_height = cfg_dim (&c, size, "height", cfg->pp_height, 1);
      cfg->pp_width = cfg_dim (&c, size, "width", cfg->pp_width, 1);
    } else if (cfg_member (size, "shortest_edge")) {
      cfg->pp_height = cfg->pp_width = cfg_dim (&c, size, "shortest_edge", 224, 1);
    }
  }
  cfg->pp_rescale = (float) cfg_double (&c, root, "rescale_factor", cfg->pp_rescale);
  cfg->pp_do_resize = cfg_bool (&c, root, "do_resize", cfg->pp_do_resize);
  cfg->pp_do_rescale = cfg_bool (&c, root, "do_rescale", cfg->pp_do_rescale);
  cfg->pp_do_normalize = cfg_bool (&c, root, "do_normalize", cfg->pp_do_normalize);
  cfg->pp_resample = (int) cfg_int (&c, root, "resample", cfg->pp_resample);
  for (int k = 0; k < 2; k++) {
    const char *key = k == 0 ? "image_mean" : "image_std";
    float *dst = k == 0 ? cfg->pp_mean : cfg->pp_std;
    n = cfg_member (root, key);
    if (!n || c.failed)
      continue;
    if (JSON_NODE_HOLDS_ARRAY (n)) {
      JsonArray *a = json_node_get_array (n);
      if (json_array_get_length (a) != 3) {
        cfg_fail (&c, "\"%s\" must have 3 entries", key);
        continue;
      }
      for (guint i = 0; i < 3; i++) {
        JsonNode *e = json_array_get_element (a, i);
        GType t = JSON_NODE_HOLDS_VALUE (e) ? json_node_get_value_type (e) : G_TYPE_INVALID;
        if (t == G_TYPE_DOUBLE)
          dst[i] = (float) json_node_get_double (e);
        else if (t == G_TYPE_INT64)
          dst[i] = (float) json_node_get_int (e);
        else
          cfg_fail (&c, "\"%s\"[%u] is not a number", key, i);
      }
    } else {
      float v = (float) cfg_double (&c, root, key, 0.5);
      dst[0] = dst[1] = dst[2] = v;
    }
  }
  if (!c.failed) {
    for (int i = 0; i < 3; i++)
      if (!(cfg->pp_std[i] != 0.0f))
        cfg_fail (&c, "\"image_std\"[%d] is zero", i);
  }
  return !c.failed;
}

gboolean
llava_config_parse_generation (LlavaConfig *cfg, const char *json, gssize len,
    const char *file, GError **err)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  CfgCtx c = { file, "", err, FALSE };
  JsonObject *root = cfg_parse_root (p, json, len, file, err);
  if (!root)
    return FALSE;
  cfg_read_ids (&c, root, cfg);
  return !c.failed;
}

/* Reads <dir>/<name>; a missing optional file is not an error (*out NULL). */
static gboolean
cfg_read_file (const char *dir, const char *name, gboolean required,
    char **out, gsize *len, char **path_out, GError **err)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) ferr = NULL;

  *out = NULL;
  if (!g_file_get_contents (path, out, len, &ferr)) {
    if (!required && g_error_matches (ferr, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s: %s", path,
        ferr->message);
    return FALSE;
  }
  *path_out = g_steal_pointer (&path);
  return TRUE;
}

gboolean
llava_config_load (LlavaConfig *cfg, const char *dir, GError **err)
{
  static const char *names[] = { "config.json", "preprocessor_config.json",
    "generation_config.json" };

  cfg_init_defaults (cfg);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *json = NULL;
    g_autofree char *path = NULL;
    gsize len = 0;
    gboolean ok;

    if (!cfg_read_file (dir, names[i], i == 0, &json, &len, &path, err)) {
      llava_config_clear (cfg);
      return FALSE;
    }
    if (!json)
      continue;
    if (i == 0)
      ok = llava_config_parse (cfg, json, (gssize) len, path, err);
    else if (i == 1)
      ok = llava_config_parse_preprocessor (cfg, json, (gssize) len, path, err);
    else
      ok = llava_config_parse_generation (cfg, json, (gssize) len, path, err);
    if (!ok) {
      llava_config_clear (cfg);
      return FALSE;
    }
  }
  return TRUE;
}
