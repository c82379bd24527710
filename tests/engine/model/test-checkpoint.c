/* test-checkpoint.c — config.json & co., loading a model directory, and
 * every load error (each names the file and the problem).
 *
 * The golden visible-a checkpoint is compared value by value against an
 * independent reading of its model.safetensors (own header parse, own
 * bf16 decode).  Broken checkpoints are small models written into a temp
 * directory by this test. */
#include "model/model.h"
#include "model/safetensors.h"
#include "llava.h"
#include "backend.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>

static char *tmpdir;

static const char *
golden_dir (void)
{
  const char *d = g_getenv ("LLAVA_GOLDEN_DIR");
  g_assert_nonnull (d);
  return d;
}

static void
assert_msg_has (const GError *err, const char *needle)
{
  g_assert_nonnull (err);
  if (!strstr (err->message, needle))
    g_error ("error \"%s\" does not mention \"%s\"", err->message, needle);
}

/* ---- config ---- */

static gboolean
parse_cfg (LlavaConfig *cfg, const char *json, GError **err)
{
  return llava_config_parse (cfg, json, -1, "config.json", err);
}

static void
test_config_golden (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_true (llava_config_load (&cfg, golden_dir (), &err));
  g_assert_no_error (err);
  g_assert_cmpuint (cfg.v_hidden, ==, 64);
  g_assert_cmpuint (cfg.v_intermediate, ==, 128);
  g_assert_cmpuint (cfg.v_layers, ==, 2);
  g_assert_cmpuint (cfg.v_heads, ==, 4);
  g_assert_cmpuint (cfg.v_image_size, ==, 56);
  g_assert_cmpuint (cfg.v_patch_size, ==, 14);
  g_assert_cmpuint (cfg.v_channels, ==, 3);
  g_assert_cmpfloat (cfg.v_ln_eps, ==, 1e-6f);
  g_assert_cmpstr (cfg.v_act, ==, "gelu_pytorch_tanh");
  g_assert_cmpint (cfg.vision_feature_layer, ==, -1);
  g_assert_cmpuint (cfg.v_layers_used, ==, 2);
  g_assert_true (cfg.select_full);
  g_assert_cmpuint (cfg.tokens_per_image, ==, 16);
  g_assert_cmpstr (cfg.projector_act, ==, "gelu");
  g_assert_cmpuint (cfg.proj_in, ==, 64);
  g_assert_cmpuint (cfg.proj_out, ==, 64);
  g_assert_cmpuint (cfg.t_hidden, ==, 64);
  g_assert_cmpuint (cfg.t_intermediate, ==, 160);
  g_assert_cmpuint (cfg.t_layers, ==, 2);
  g_assert_cmpuint (cfg.t_heads, ==, 4);
  g_assert_cmpuint (cfg.t_kv_heads, ==, 4);
  g_assert_cmpuint (cfg.t_head_dim, ==, 16);
  g_assert_cmpuint (cfg.t_vocab, ==, 152000);
  g_assert_cmpuint (cfg.t_max_pos, ==, 32768);
  g_assert_cmpfloat (cfg.rope_theta, ==, 1000000.0f);
  g_assert_cmpfloat (cfg.rms_eps, ==, 1e-6f);      /* omitted: Qwen2Config default */
  g_assert_true (cfg.tie_embeddings);
  g_assert_cmpint (cfg.image_token_id, ==, 151646);
  g_assert_cmpint (cfg.bos_id, ==, 151643);
  g_assert_cmpuint (cfg.n_eos_ids, ==, 1);
  g_assert_cmpint (cfg.eos_ids[0], ==, 151645);
  g_assert_cmpuint (cfg.pp_height, ==, 56);
  g_assert_cmpuint (cfg.pp_width, ==, 56);
  g_assert_cmpfloat_with_epsilon (cfg.pp_rescale, 1.0f / 255.0f, 1e-9);
  g_assert_cmpfloat (cfg.pp_mean[2], ==, 0.5f);
  g_assert_cmpfloat (cfg.pp_std[0], ==, 0.5f);
  g_assert_true (cfg.pp_do_resize && cfg.pp_do_rescale && cfg.pp_do_normalize);
  g_assert_cmpint (cfg.pp_resample, ==, 3);
  llava_config_clear (&cfg);
}

/* Everything omitted: the transformers 4.44 class defaults. */
static void
test_config_defaults (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_true (parse_cfg (&cfg, "{\"model_type\": \"llava\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\"}}", &err));
  g_assert_no_error (err);
  /* SiglipVisionConfig */
  g_assert_cmpuint (cfg.v_hidden, ==, 768);
  g_assert_cmpuint (cfg.v_intermediate, ==, 3072);
  g_assert_cmpuint (cfg.v_layers, ==, 12);
  g_assert_cmpuint (cfg.v_heads, ==, 12);
  g_assert_cmpuint (cfg.v_image_size, ==, 224);
  g_assert_cmpuint (cfg.v_patch_size, ==, 16);
  g_assert_cmpfloat (cfg.v_ln_eps, ==, 1e-6f);
  g_assert_cmpstr (cfg.v_act, ==, "gelu_pytorch_tanh");
  /* LlavaConfig: layer -2 of 12 → 11 layers; "default" drops one token */
  g_assert_cmpint (cfg.vision_feature_layer, ==, -2);
  g_assert_cmpuint (cfg.v_layers_used, ==, 11);
  g_assert_false (cfg.select_full);
  g_assert_cmpuint (cfg.tokens_per_image, ==, 14 * 14 - 1);
  g_assert_cmpint (cfg.image_token_id, ==, 32000);
  g_assert_cmpstr (cfg.projector_act, ==, "gelu");
  /* Qwen2Config */
  g_assert_cmpuint (cfg.t_vocab, ==, 151936);
  g_assert_cmpuint (cfg.t_hidden, ==, 4096);
  g_assert_cmpuint (cfg.t_intermediate, ==, 22016);
  g_assert_cmpuint (cfg.t_layers, ==, 32);
  g_assert_cmpuint (cfg.t_heads, ==, 32);
  g_assert_cmpuint (cfg.t_kv_heads, ==, 32);
  g_assert_cmpuint (cfg.t_head_dim, ==, 128);
  g_assert_cmpuint (cfg.t_max_pos, ==, 32768);
  g_assert_cmpfloat (cfg.rope_theta, ==, 10000.0f);
  g_assert_cmpfloat (cfg.rms_eps, ==, 1e-6f);
  g_assert_false (cfg.tie_embeddings);
  g_assert_cmpint (cfg.bos_id, ==, -1);
  g_assert_cmpuint (cfg.n_eos_ids, ==, 0);
  /* preprocessor defaults follow the vision image size */
  g_assert_cmpuint (cfg.pp_height, ==, 224);
  llava_config_clear (&cfg);
}

/* The 7B llava-hf config omits hidden_size (4096 = default). */
static void
test_config_7b_shape (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_true (parse_cfg (&cfg, "{\"model_type\": \"llava\", \"image_token_index\": 151646,"
          "\"vision_feature_layer\": -1, \"vision_feature_select_strategy\": \"full\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\", \"hidden_size\": 1152,"
          "  \"image_size\": 384, \"intermediate_size\": 4304, \"num_attention_heads\": 16,"
          "  \"num_hidden_layers\": 26, \"patch_size\": 14, \"vision_use_head\": false},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"intermediate_size\": 11008,"
          "  \"rope_theta\": 1000000.0, \"vocab_size\": 152000, \"sliding_window\": null}}",
          &err));
  g_assert_no_error (err);
  g_assert_cmpuint (cfg.t_hidden, ==, 4096);
  g_assert_cmpuint (cfg.t_heads, ==, 32);
  g_assert_cmpuint (cfg.t_layers, ==, 32);
  g_assert_cmpuint (cfg.tokens_per_image, ==, 729);
  g_assert_cmpuint (cfg.v_layers_used, ==, 26);
  g_assert_cmpuint (cfg.proj_in, ==, 1152);
  g_assert_cmpuint (cfg.proj_out, ==, 4096);
  llava_config_clear (&cfg);
}

static void
test_config_feature_layer (void)
{
  static const struct { const char *layer; guint used; } cases[] = {
    {"-1", 12}, {"-2", 11}, {"-12", 1}, {"-13", 0}, {"0", 0}, {"3", 3}, {"12", 12},
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    LlavaConfig cfg;
    g_autoptr (GError) err = NULL;
    g_autofree char *j = g_strdup_printf ("{\"model_type\": \"llava\", \"vision_feature_layer\": %s,"
        "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
        "\"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": 64,"
        " \"num_attention_heads\": 4, \"vocab_size\": 100, \"intermediate_size\": 8}}",
        cases[i].layer);
    g_assert_true (parse_cfg (&cfg, j, &err));
    g_assert_no_error (err);
    g_assert_cmpuint (cfg.v_layers_used, ==, cases[i].used);
    llava_config_clear (&cfg);
  }
  for (int k = 0; k < 2; k++) {
    LlavaConfig cfg;
    g_autoptr (GError) err = NULL;
    g_autofree char *j = g_strdup_printf ("{\"model_type\": \"llava\", \"vision_feature_layer\": %s,"
        "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
        "\"text_config\": {\"model_type\": \"qwen2\"}}", k ? "13" : "-14");
    g_assert_false (parse_cfg (&cfg, j, &err));
    g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
    assert_msg_has (err, "vision_feature_layer");
  }
}

static void
test_config_gqa (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_true (parse_cfg (&cfg, "{\"model_type\": \"llava\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"num_attention_heads\": 8,"
          " \"num_key_value_heads\": 2, \"hidden_size\": 512}}", &err));
  g_assert_cmpuint (cfg.t_kv_heads, ==, 2);
  g_assert_cmpuint (cfg.t_head_dim, ==, 64);
  llava_config_clear (&cfg);
  g_assert_false (parse_cfg (&cfg, "{\"model_type\": \"llava\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"num_attention_heads\": 8,"
          " \"num_key_value_heads\": 3}}", &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
  assert_msg_has (err, "num_key_value_heads");
}

static void
test_config_unsupported (void)
{
  static const struct { const char *json, *needle; } cases[] = {
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"clip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\"}}", "clip_vision_model"},
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"llama\"}}", "llama"},
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {}}", "llama"},    /* LlavaConfig's default text model */
    {"{\"model_type\": \"llava\", \"text_config\": {\"model_type\": \"qwen2\"}}",
          "clip_vision_model"},
    {"{\"model_type\": \"qwen2\"}", "qwen2"},
    {"{\"model_type\": \"llava\", \"projector_hidden_act\": \"relu\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\"}}", "relu"},
    {"{}", "missing"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    LlavaConfig cfg;
    g_autoptr (GError) err = NULL;
    g_assert_false (parse_cfg (&cfg, cases[i].json, &err));
    g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED);
    assert_msg_has (err, cases[i].needle);
    assert_msg_has (err, "config.json");
  }
}

static void
test_config_bad_values (void)
{
  static const struct { const char *json, *needle; } cases[] = {
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": 1048576,"
          " \"vocab_size\": 2097152}}", "overflow"},
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": \"64\"}}", "hidden_size"},
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\","
          " \"hidden_size\": 0}, \"text_config\": {\"model_type\": \"qwen2\"}}", "hidden_size"},
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\","
          " \"patch_size\": 300}, \"text_config\": {\"model_type\": \"qwen2\"}}", "patch_size"},
    {"{\"model_type\": \"llava\", \"vision_feature_select_strategy\": \"cls\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\"}}", "cls"},
    {"{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": 100,"
          " \"num_attention_heads\": 7}}", "multiple"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    LlavaConfig cfg;
    g_autoptr (GError) err = NULL;
    g_assert_false (parse_cfg (&cfg, cases[i].json, &err));
    g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
    assert_msg_has (err, cases[i].needle);
  }
}

/* lmms-lab LlavaQwenForCausalLM config: flat Qwen2 keys + mm_* keys */
static void
test_config_lmms (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_true (parse_cfg (&cfg, "{\"model_type\": \"llava_qwen\", \"hidden_size\": 1024,"
          "\"intermediate_size\": 2816, \"num_attention_heads\": 16, \"num_hidden_layers\": 24,"
          "\"num_key_value_heads\": 16, \"rope_theta\": 1000000.0, \"vocab_size\": 151936,"
          "\"tie_word_embeddings\": true, \"mm_hidden_size\": 1152,"
          "\"mm_projector_type\": \"mlp2x_gelu\", \"mm_vision_select_layer\": -2,"
          "\"mm_vision_tower\": \"google/siglip-so400m-patch14-384\"}", &err));
  g_assert_no_error (err);
  g_assert_cmpuint (cfg.v_hidden, ==, 1152);
  g_assert_cmpuint (cfg.v_layers, ==, 26);
  g_assert_cmpuint (cfg.v_layers_used, ==, 26);
  g_assert_cmpuint (cfg.tokens_per_image, ==, 729);
  g_assert_cmpuint (cfg.t_hidden, ==, 1024);
  g_assert_cmpuint (cfg.t_vocab, ==, 151936);
  g_assert_cmpint (cfg.image_token_id, ==, 151646);
  llava_config_clear (&cfg);
  g_assert_false (parse_cfg (&cfg, "{\"model_type\": \"llava_qwen\","
          "\"mm_projector_type\": \"mlp2x_gelu\","
          "\"mm_vision_tower\": \"openai/clip-vit-large-patch14-336\"}", &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED);
  assert_msg_has (err, "clip-vit");
}

static void
test_config_json_syntax (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_false (parse_cfg (&cfg, "{\"model_type\": \"llava\",", &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
  assert_msg_has (err, "config.json: JSON syntax error");
}

static void
test_config_generation_and_preprocessor (void)
{
  LlavaConfig cfg;
  g_autoptr (GError) err = NULL;
  g_assert_true (parse_cfg (&cfg, "{\"model_type\": \"llava\","
          "\"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
          "\"text_config\": {\"model_type\": \"qwen2\", \"eos_token_id\": 5}}", &err));
  g_assert_cmpuint (cfg.n_eos_ids, ==, 1);
  g_assert_true (llava_config_parse_generation (&cfg,
          "{\"eos_token_id\": [151645, 151643], \"pad_token_id\": 151643}", -1,
          "generation_config.json", &err));
  g_assert_no_error (err);
  g_assert_cmpuint (cfg.n_eos_ids, ==, 2);
  g_assert_cmpint (cfg.eos_ids[0], ==, 151645);
  g_assert_cmpint (cfg.eos_ids[1], ==, 151643);
  g_assert_cmpint (cfg.pad_id, ==, 151643);
  g_assert_true (llava_config_parse_preprocessor (&cfg,
          "{\"size\": {\"height\": 384, \"width\": 384}, \"image_mean\": [0.48, 0.45, 0.4],"
          " \"image_std\": [0.26, 0.26, 0.27], \"rescale_factor\": 0.5, \"do_normalize\": false,"
          " \"resample\": 2}", -1, "preprocessor_config.json", &err));
  g_assert_no_error (err);
  g_assert_cmpuint (cfg.pp_height, ==, 384);
  g_assert_cmpfloat (cfg.pp_mean[1], ==, 0.45f);
  g_assert_cmpfloat (cfg.pp_std[2], ==, 0.27f);
  g_assert_cmpfloat (cfg.pp_rescale, ==, 0.5f);
  g_assert_false (cfg.pp_do_normalize);
  g_assert_cmpint (cfg.pp_resample, ==, 2);
  g_assert_false (llava_config_parse_preprocessor (&cfg, "{\"image_mean\": [1, 2]}", -1,
          "preprocessor_config.json", &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
  assert_msg_has (err, "preprocessor_config.json");
  g_clear_error (&err);
  g_assert_false (llava_config_parse_generation (&cfg, "{\"eos_token_id\": [\"x\"]}", -1,
          "generation_config.json", &err));
  assert_msg_has (err, "generation_config.json");
  llava_config_clear (&cfg);
}

/* ---- the golden checkpoint, read independently ---- */

static void
test_golden_tensors_exact (void)
{
  g_autofree char *path = g_build_filename (golden_dir (), "model.safetensors", NULL);
  g_autofree char *raw = NULL;
  gsize raw_len;
  guint64 hl = 0;
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) err = NULL;
  JsonObject *hdr;
  GList *names;
  LlavaCheckpoint *c;
  guint n_checked = 0;
  guint64 n_params = 0;

  g_assert_true (g_file_get_contents (path, &raw, &raw_len, NULL));
  for (int i = 7; i >= 0; i--)
    hl = (hl << 8) | (guint8) raw[i];
  g_assert_true (json_parser_load_from_data (p, raw + 8, hl, NULL));
  hdr = json_node_get_object (json_parser_get_root (p));

  c = llava_checkpoint_open (golden_dir (), &err);
  g_assert_no_error (err);
  names = json_object_get_members (hdr);
  for (GList *l = names; l; l = l->next) {
    JsonObject *t;
    JsonArray *shape, *off;
    gint64 sh[8];
    guint nd;
    gsize n = 1, begin;
    float *got;
    if (strcmp (l->data, "__metadata__") == 0)
      continue;
    t = json_object_get_object_member (hdr, l->data);
    g_assert_cmpstr (json_object_get_string_member (t, "dtype"), ==, "BF16");
    shape = json_object_get_array_member (t, "shape");
    off = json_object_get_array_member (t, "data_offsets");
    nd = json_array_get_length (shape);
    for (guint d = 0; d < nd; d++) {
      sh[d] = json_array_get_int_element (shape, d);
      n *= sh[d];
    }
    begin = 8 + hl + json_array_get_int_element (off, 0);
    got = llava_checkpoint_read_f32 (c, l->data, sh, nd, &err);
    g_assert_no_error (err);
    for (gsize i = 0; i < n; i++) {
      guint32 bits = ((guint32) (guint8) raw[begin + 2 * i]
          | (guint32) (guint8) raw[begin + 2 * i + 1] << 8) << 16;
      guint32 have;
      memcpy (&have, &got[i], 4);
      if (have != bits)
        g_error ("%s[%zu]: 0x%08x != 0x%08x", (char *) l->data, i, have, bits);
    }
    g_free (got);
    n_params += n;
    n_checked++;
  }
  g_list_free (names);
  g_assert_cmpuint (n_checked, >, 30);
  g_test_message ("%u tensors, %" G_GUINT64_FORMAT " values identical to the file's bf16",
      n_checked, n_params);
  g_assert_cmpuint (llava_checkpoint_n_params (c), ==, n_params);
  llava_checkpoint_free (c);
}

static void
count_tensor (const char *name, const char *dtype, const gint64 *shape,
    guint n_dims, gpointer user_data)
{
  g_assert_cmpstr (dtype, ==, "BF16");
  g_assert_cmpuint (n_dims, >=, 1);
  (*(guint *) user_data)++;
}

static void
test_golden_lm_head_and_formats (void)
{
  g_autoptr (GError) err = NULL;
  LlavaCheckpoint *c = llava_checkpoint_open (golden_dir (), &err);
  const LlavaConfig *cfg;
  gint64 shape[2];
  float *emb, *head, *w;
  guint n = 0;

  g_assert_no_error (err);
  cfg = llava_checkpoint_get_config (c);
  g_assert_cmpstr (llava_checkpoint_get_dir (c), ==, golden_dir ());
  shape[0] = cfg->t_vocab;
  shape[1] = cfg->t_hidden;
  /* no lm_head stored: it is the embedding (tied) */
  g_assert_true (llava_checkpoint_has (c, "language_model.lm_head.weight"));
  emb = llava_checkpoint_read_f32 (c, "language_model.model.embed_tokens.weight", shape, 2, &err);
  head = llava_checkpoint_read_f32 (c, "language_model.lm_head.weight", shape, 2, &err);
  g_assert_no_error (err);
  g_assert_cmpmem (emb, shape[0] * shape[1] * 4, head, shape[0] * shape[1] * 4);
  g_free (emb);
  g_free (head);

  /* a shape that disagrees names the tensor and both shapes */
  shape[0] = 63;
  shape[1] = 64;
  g_assert_null (llava_checkpoint_read_f32 (c, "multi_modal_projector.linear_1.weight",
          shape, 2, &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
  assert_msg_has (err, "multi_modal_projector.linear_1.weight");
  assert_msg_has (err, "[64, 64]");
  assert_msg_has (err, "[63, 64]");
  g_clear_error (&err);
  g_assert_null (llava_checkpoint_read_f32 (c, "no.such.tensor", NULL, 0, &err));
  assert_msg_has (err, "no.such.tensor");
  g_clear_error (&err);
  g_assert_false (llava_checkpoint_has (c, "no.such.tensor"));

  /* f16 and q8_0 conversion equal converting the f32 values */
  shape[0] = 128;
  shape[1] = 64;
  w = llava_checkpoint_read_f32 (c, "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight",
      shape, 2, &err);
  g_assert_no_error (err);
  for (int k = 0; k < 2; k++) {
    LlDType dt = k ? LL_Q8_0 : LL_F16;
    gsize size = 0;
    void *got = llava_checkpoint_read (c,
        "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", shape, 2, dt, &size, &err);
    void *want = ll_convert_from_f32 (dt, w, 128, 64);
    g_assert_no_error (err);
    g_assert_cmpmem (got, size, want, ll_dtype_host_size (dt, 128, 64));
    g_free (got);
    g_free (want);
  }
  g_free (w);
  /* the conv weight [64, 3, 14, 14] is read as [64, 588] */
  {
    gint64 cs[4] = { 64, 3, 14, 14 };
    gsize size = 0;
    void *pw = llava_checkpoint_read (c,
        "vision_tower.vision_model.embeddings.patch_embedding.weight", cs, 4, LL_F16, &size, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (size, ==, ll_dtype_host_size (LL_F16, 64, 588));
    g_free (pw);
  }
  llava_checkpoint_foreach (c, count_tensor, &n);
  g_assert_cmpuint (n, ==, 3 + 2 * 16 + 2 + 4 + 1 + 2 * 12 + 1);
  llava_checkpoint_free (c);
}

/* ---- a tiny model written here, then broken in each way ---- */

typedef struct {
  gboolean lmms;                /* lmms-lab names and config */
  const char *skip;             /* leave this tensor out */
  const char *reshape;          /* give this tensor a wrong first dim */
  gboolean untied;              /* store a separate lm_head */
} TinyOpts;

#define TV_H 8
#define TV_I 16
#define TV_L 2
#define TT_H 8
#define TT_I 12
#define TT_L 1
#define TT_V 32

static const char *tiny_config_hf =
    "{\"model_type\": \"llava\", \"image_token_index\": 30,"
    " \"vision_feature_layer\": -1, \"vision_feature_select_strategy\": \"full\","
    " \"vision_config\": {\"model_type\": \"siglip_vision_model\", \"hidden_size\": 8,"
    "  \"intermediate_size\": 16, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
    "  \"image_size\": 28, \"patch_size\": 14},"
    " \"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": 8, \"intermediate_size\": 12,"
    "  \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
    "  \"vocab_size\": 32, \"tie_word_embeddings\": %s}}";

static void
tiny_add (LlavaStWriter *w, GHashTable *values, const TinyOpts *o,
    const char *name, guint nd, gint64 d0, gint64 d1, gint64 d2, gint64 d3)
{
  gint64 shape[4] = { d0, d1, d2, d3 };
  gsize n = 1;
  guint16 *bf;
  if (o->skip && strcmp (o->skip, name) == 0)
    return;
  if (o->reshape && strcmp (o->reshape, name) == 0)
    shape[0] += 1;
  for (guint d = 0; d < nd; d++)
    n *= shape[d];
  bf = g_new (guint16, n);
  for (gsize i = 0; i < n; i++) {
    /* a distinct bf16 value per tensor and element */
    float f = (float) (g_str_hash (name) % 97) / 16.0f + (float) i / 64.0f;
    guint32 bits;
    memcpy (&bits, &f, 4);
    bf[i] = bits >> 16;
  }
  llava_st_writer_add (w, name, LLAVA_ST_BF16, shape, nd, bf);
  if (values)
    g_hash_table_insert (values, g_strdup (name), g_memdup2 (bf, n * 2));
  g_free (bf);
}

static void
tiny_tensors (LlavaStWriter *w, GHashTable *values, const TinyOpts *o)
{
  const char *vp = "vision_tower.vision_model.";
  char n[256];
#define A(nd, a, b, c, d, ...) G_STMT_START { g_snprintf (n, sizeof n, __VA_ARGS__); \
    tiny_add (w, values, o, n, nd, a, b, c, d); } G_STMT_END
  A (4, TV_H, 3, 14, 14, "%sembeddings.patch_embedding.weight", vp);
  A (1, TV_H, 0, 0, 0, "%sembeddings.patch_embedding.bias", vp);
  A (2, 4, TV_H, 0, 0, "%sembeddings.position_embedding.weight", vp);
  for (int l = 0; l < TV_L; l++) {
    const char *sq[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
    A (1, TV_H, 0, 0, 0, "%sencoder.layers.%d.layer_norm1.weight", vp, l);
    A (1, TV_H, 0, 0, 0, "%sencoder.layers.%d.layer_norm1.bias", vp, l);
    for (int k = 0; k < 4; k++) {
      A (2, TV_H, TV_H, 0, 0, "%sencoder.layers.%d.self_attn.%s.weight", vp, l, sq[k]);
      A (1, TV_H, 0, 0, 0, "%sencoder.layers.%d.self_attn.%s.bias", vp, l, sq[k]);
    }
    A (1, TV_H, 0, 0, 0, "%sencoder.layers.%d.layer_norm2.weight", vp, l);
    A (1, TV_H, 0, 0, 0, "%sencoder.layers.%d.layer_norm2.bias", vp, l);
    A (2, TV_I, TV_H, 0, 0, "%sencoder.layers.%d.mlp.fc1.weight", vp, l);
    A (1, TV_I, 0, 0, 0, "%sencoder.layers.%d.mlp.fc1.bias", vp, l);
    A (2, TV_H, TV_I, 0, 0, "%sencoder.layers.%d.mlp.fc2.weight", vp, l);
    A (1, TV_H, 0, 0, 0, "%sencoder.layers.%d.mlp.fc2.bias", vp, l);
  }
  A (1, TV_H, 0, 0, 0, "%spost_layernorm.weight", vp);
  A (2, TT_H, TV_H, 0, 0, "multi_modal_projector.linear_1.weight");
  A (1, TT_H, 0, 0, 0, "multi_modal_projector.linear_1.bias");
  A (2, TT_H, TT_H, 0, 0, "multi_modal_projector.linear_2.weight");
  A (1, TT_H, 0, 0, 0, "multi_modal_projector.linear_2.bias");
  A (2, TT_V, TT_H, 0, 0, "language_model.model.embed_tokens.weight");
  for (int l = 0; l < TT_L; l++) {
    const char *lp = "language_model.model.layers";
    A (1, TT_H, 0, 0, 0, "%s.%d.input_layernorm.weight", lp, l);
    A (2, TT_H, TT_H, 0, 0, "%s.%d.self_attn.q_proj.weight", lp, l);
    A (1, TT_H, 0, 0, 0, "%s.%d.self_attn.q_proj.bias", lp, l);
    A (2, 4, TT_H, 0, 0, "%s.%d.self_attn.k_proj.weight", lp, l);   /* 1 kv head × 4 */
    A (1, 4, 0, 0, 0, "%s.%d.self_attn.k_proj.bias", lp, l);
    A (2, 4, TT_H, 0, 0, "%s.%d.self_attn.v_proj.weight", lp, l);
    A (1, 4, 0, 0, 0, "%s.%d.self_attn.v_proj.bias", lp, l);
    A (2, TT_H, TT_H, 0, 0, "%s.%d.self_attn.o_proj.weight", lp, l);
    A (1, TT_H, 0, 0, 0, "%s.%d.post_attention_layernorm.weight", lp, l);
    A (2, TT_I, TT_H, 0, 0, "%s.%d.mlp.gate_proj.weight", lp, l);
    A (2, TT_I, TT_H, 0, 0, "%s.%d.mlp.up_proj.weight", lp, l);
    A (2, TT_H, TT_I, 0, 0, "%s.%d.mlp.down_proj.weight", lp, l);
  }
  A (1, TT_H, 0, 0, 0, "language_model.model.norm.weight");
  if (o->untied)
    A (2, TT_V, TT_H, 0, 0, "language_model.lm_head.weight");
#undef A
}

static char *
tiny_dir (const char *name, const TinyOpts *o, const char *config)
{
  char *dir = g_build_filename (tmpdir, name, NULL);
  g_autofree char *cfgp = g_build_filename (dir, "config.json", NULL);
  g_autofree char *stp = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *cfgtext = g_strdup_printf (tiny_config_hf,
      o->untied ? "false" : "true");
  LlavaStWriter *w = llava_st_writer_new ();
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (cfgp, config ? config : cfgtext, -1, NULL));
  tiny_tensors (w, NULL, o);
  g_assert_true (llava_st_writer_write (w, stp, NULL));
  llava_st_writer_free (w);
  return dir;
}

static void
expect_ckpt_error (const char *dir, int code, const char *needle1, const char *needle2)
{
  g_autoptr (GError) err = NULL;
  LlavaCheckpoint *c = llava_checkpoint_open (dir, &err);
  g_assert_null (c);
  g_assert_error (err, LLAVA_ERROR, code);
  assert_msg_has (err, needle1);
  if (needle2)
    assert_msg_has (err, needle2);
}

static void
test_tiny_loads (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("ok", &o, NULL);
  g_autoptr (GError) err = NULL;
  LlavaCheckpoint *c = llava_checkpoint_open (dir, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (llava_checkpoint_get_config (c)->tokens_per_image, ==, 4);
  g_assert_cmpuint (llava_checkpoint_get_config (c)->t_kv_heads, ==, 1);
  /* q8_0 of a matrix whose rows are not a multiple of 32 wide (padding) */
  {
    gint64 shape[2] = { TT_H, TT_I };
    const char *name = "language_model.model.layers.0.mlp.down_proj.weight";
    float *f = llava_checkpoint_read_f32 (c, name, shape, 2, &err);
    gsize size = 0;
    void *q = llava_checkpoint_read (c, name, shape, 2, LL_Q8_0, &size, &err);
    void *want = ll_convert_from_f32 (LL_Q8_0, f, TT_H, TT_I);
    g_assert_no_error (err);
    g_assert_cmpmem (q, size, want, ll_dtype_host_size (LL_Q8_0, TT_H, TT_I));
    g_free (f);
    g_free (q);
    g_free (want);
  }
  llava_checkpoint_free (c);
}

static void
test_error_missing_dir (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "no-such-model", NULL);
  expect_ckpt_error (dir, LLAVA_ERROR_FILE, dir, "no such directory");
}

static void
test_error_missing_config (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("nocfg", &o, NULL);
  g_autofree char *p = g_build_filename (dir, "config.json", NULL);
  g_unlink (p);
  expect_ckpt_error (dir, LLAVA_ERROR_FILE, p, NULL);
}

static void
test_error_missing_weights (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("noweights", &o, NULL);
  g_autofree char *p = g_build_filename (dir, "model.safetensors", NULL);
  g_unlink (p);
  expect_ckpt_error (dir, LLAVA_ERROR_FILE, dir, "model.safetensors");
}

static void
test_error_truncated_weights (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("trunc", &o, NULL);
  g_autofree char *p = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (p, &data, &len, NULL));
  g_assert_true (g_file_set_contents (p, data, len - 100, NULL));
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, p, "truncated");
  /* cut inside the header */
  g_assert_true (g_file_set_contents (p, data, 100, NULL));
  expect_ckpt_error (dir, LLAVA_ERROR_FILE, p, "longer than the file");
}

static void
test_error_unknown_dtype (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("dtype", &o, NULL);
  g_autofree char *p = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *data = NULL;
  gsize len;
  char *bf;
  g_assert_true (g_file_get_contents (p, &data, &len, NULL));
  bf = strstr (data + 8, "BF16");
  g_assert_nonnull (bf);
  memcpy (bf, "BF17", 4);
  g_assert_true (g_file_set_contents (p, data, len, NULL));
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, p, "unknown dtype \"BF17\"");
}

static void
test_error_config_syntax (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("cfgsyntax", &o, "{\"model_type\": \"llava\"");
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "config.json", "JSON syntax error");
}

static void
test_error_shape_mismatch (void)
{
  TinyOpts o = { .reshape = "language_model.model.layers.0.mlp.up_proj.weight" };
  g_autofree char *dir = tiny_dir ("shape", &o, NULL);
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT,
      "\"language_model.model.layers.0.mlp.up_proj.weight\" has shape [13, 8]", "[12, 8]");
}

static void
test_error_missing_tensor (void)
{
  TinyOpts o = { .skip = "vision_tower.vision_model.encoder.layers.1.self_attn.k_proj.bias" };
  g_autofree char *dir = tiny_dir ("missing", &o, NULL);
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "missing tensor",
      "vision_tower.vision_model.encoder.layers.1.self_attn.k_proj.bias");
}

static void
test_error_untied_without_lm_head (void)
{
  TinyOpts o = { .untied = TRUE, .skip = "language_model.lm_head.weight" };
  g_autofree char *dir = tiny_dir ("untied", &o, NULL);
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "language_model.lm_head.weight", NULL);
}

static void
test_error_unsupported_arch (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("arch", &o,
      "{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"clip_vision_model\"},"
      " \"text_config\": {\"model_type\": \"qwen2\"}}");
  expect_ckpt_error (dir, LLAVA_ERROR_UNSUPPORTED, "clip_vision_model", "config.json");
}

static void
test_error_overflow (void)
{
  TinyOpts o = { 0 };
  g_autofree char *dir = tiny_dir ("overflow", &o,
      "{\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"siglip_vision_model\"},"
      " \"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": 16777216,"
      " \"vocab_size\": 16777216, \"num_attention_heads\": 1}}");
  expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "overflow", "config.json");
}

/* Two shards + index; values identical to the single-file model. */
static void
test_sharded (void)
{
  TinyOpts o = { .untied = TRUE };
  g_autofree char *dir = g_build_filename (tmpdir, "sharded", NULL);
  g_autofree char *cfgp = g_build_filename (dir, "config.json", NULL);
  g_autofree char *cfgtext = g_strdup_printf (tiny_config_hf, "false");
  g_autoptr (GHashTable) values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  LlavaStWriter *all = llava_st_writer_new ();
  GString *index = g_string_new ("{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
  GHashTableIter it;
  gpointer k;
  LlavaCheckpoint *c;
  g_autoptr (GError) err = NULL;
  guint n_cmp = 0;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (cfgp, cfgtext, -1, NULL));
  /* write all tensors once, then split: vision in shard 1, the rest in 2 */
  {
    LlavaStWriter *w1 = llava_st_writer_new (), *w2 = llava_st_writer_new ();
    g_autofree char *p1 = g_build_filename (dir, "model-00001-of-00002.safetensors", NULL);
    g_autofree char *p2 = g_build_filename (dir, "model-00002-of-00002.safetensors", NULL);
    g_autofree char *tp = g_build_filename (tmpdir, "all.safetensors", NULL);
    LlavaSafetensors *st;
    tiny_tensors (all, values, &o);
    g_assert_true (llava_st_writer_write (all, tp, NULL));
    llava_st_writer_free (all);
    st = llava_safetensors_open (tp, &err);
    g_assert_no_error (err);
    for (guint j = 0; j < llava_safetensors_n_tensors (st); j++) {
      const LlavaStTensor *t = llava_safetensors_get_nth (st, j);
      gboolean first = g_str_has_prefix (t->name, "vision_tower.");
      llava_st_writer_add (first ? w1 : w2, t->name, t->dtype, t->shape, t->n_dims, t->data);
      g_string_append_printf (index, "%s\"%s\": \"%s\"", j ? ", " : "", t->name,
          first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
    }
    llava_safetensors_free (st);
    g_unlink (tp);
    g_assert_true (llava_st_writer_write (w1, p1, NULL));
    g_assert_true (llava_st_writer_write (w2, p2, NULL));
    llava_st_writer_free (w1);
    llava_st_writer_free (w2);
  }
  g_string_append (index, "}}");
  {
    g_autofree char *ip = g_build_filename (dir, "model.safetensors.index.json", NULL);
    g_assert_true (g_file_set_contents (ip, index->str, -1, NULL));
  }
  c = llava_checkpoint_open (dir, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (llava_checkpoint_n_files (c), ==, 2);
  g_hash_table_iter_init (&it, values);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    const guint16 *bf = g_hash_table_lookup (values, k);
    float *f = llava_checkpoint_read_f32 (c, k, NULL, 0, &err);
    g_assert_no_error (err);
    g_assert_cmpfloat (f[0], ==, ll_bf16_to_float (bf[0]));
    g_free (f);
    n_cmp++;
  }
  g_assert_cmpuint (n_cmp, >, 40);
  llava_checkpoint_free (c);

  /* an index naming a tensor its shard lacks */
  {
    g_autofree char *ip = g_build_filename (dir, "model.safetensors.index.json", NULL);
    g_autofree char *bad = g_strdup_printf ("{\"weight_map\": {\"ghost.weight\": "
        "\"model-00001-of-00002.safetensors\"}}");
    g_assert_true (g_file_set_contents (ip, bad, -1, NULL));
    expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "ghost.weight", "model-00001-of-00002");
    g_assert_true (g_file_set_contents (ip, "{\"weight_map\": {\"a\": \"../etc/passwd\"}}", -1, NULL));
    expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "../etc/passwd", NULL);
    g_assert_true (g_file_set_contents (ip, "{\"weight_map\": {\"a\": \"gone.safetensors\"}}", -1, NULL));
    expect_ckpt_error (dir, LLAVA_ERROR_FILE, "gone.safetensors", NULL);
    g_assert_true (g_file_set_contents (ip, "{\"weight_map\": {", -1, NULL));
    expect_ckpt_error (dir, LLAVA_ERROR_FORMAT, "model.safetensors.index.json", NULL);
  }
  g_string_free (index, TRUE);
}

static void
test_name_mapping (void)
{
  static const struct { const char *in, *out; } cases[] = {
    {"model.vision_tower.vision_tower.vision_model.encoder.layers.3.mlp.fc1.weight",
          "vision_tower.vision_model.encoder.layers.3.mlp.fc1.weight"},
    {"model.vision_tower.vision_model.post_layernorm.bias",
          "vision_tower.vision_model.post_layernorm.bias"},
    {"model.mm_projector.0.weight", "multi_modal_projector.linear_1.weight"},
    {"model.mm_projector.2.bias", "multi_modal_projector.linear_2.bias"},
    {"model.multi_modal_projector.linear_1.bias", "multi_modal_projector.linear_1.bias"},
    {"model.embed_tokens.weight", "language_model.model.embed_tokens.weight"},
    {"model.layers.5.self_attn.q_proj.bias", "language_model.model.layers.5.self_attn.q_proj.bias"},
    {"model.language_model.norm.weight", "language_model.model.norm.weight"},
    {"model.norm.weight", "language_model.model.norm.weight"},
    {"lm_head.weight", "language_model.lm_head.weight"},
    {"language_model.lm_head.weight", "language_model.lm_head.weight"},
    {"vision_tower.vision_model.embeddings.patch_embedding.bias",
          "vision_tower.vision_model.embeddings.patch_embedding.bias"},
    {"model.image_newline", "image_newline"},
    {"model.layers.0.self_attn.rotary_emb.inv_freq", NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *m = llava_checkpoint_map_name (cases[i].in);
    g_assert_cmpstr (m, ==, cases[i].out);
  }
}

/* A directory written with lmms-lab names loads under llava-hf names. */
static void
test_lmms_names_load (void)
{
  TinyOpts o = { 0 };
  g_autofree char *src = tiny_dir ("hfnames", &o, NULL);
  g_autofree char *dir = g_build_filename (tmpdir, "lmmsnames", NULL);
  g_autofree char *sp = g_build_filename (src, "model.safetensors", NULL);
  g_autofree char *dp = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *cp = g_build_filename (dir, "config.json", NULL);
  g_autofree char *cfgtext = g_strdup_printf (tiny_config_hf, "true");
  LlavaSafetensors *st;
  LlavaStWriter *w = llava_st_writer_new ();
  LlavaCheckpoint *c;
  g_autoptr (GError) err = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (cp, cfgtext, -1, NULL));
  st = llava_safetensors_open (sp, &err);
  g_assert_no_error (err);
  for (guint j = 0; j < llava_safetensors_n_tensors (st); j++) {
    const LlavaStTensor *t = llava_safetensors_get_nth (st, j);
    g_autofree char *name = NULL;
    if (g_str_has_prefix (t->name, "vision_tower."))
      name = g_strconcat ("model.vision_tower.", t->name, NULL);
    else if (g_str_has_prefix (t->name, "multi_modal_projector.linear_1."))
      name = g_strconcat ("model.mm_projector.0.", t->name + strlen ("multi_modal_projector.linear_1."), NULL);
    else if (g_str_has_prefix (t->name, "multi_modal_projector.linear_2."))
      name = g_strconcat ("model.mm_projector.2.", t->name + strlen ("multi_modal_projector.linear_2."), NULL);
    else
      name = g_strdup (t->name + strlen ("language_model."));
    llava_st_writer_add (w, name, t->dtype, t->shape, t->n_dims, t->data);
  }
  llava_safetensors_free (st);
  g_assert_true (llava_st_writer_write (w, dp, NULL));
  llava_st_writer_free (w);
  c = llava_checkpoint_open (dir, &err);
  g_assert_no_error (err);
  g_assert_true (llava_checkpoint_has (c, "multi_modal_projector.linear_2.bias"));
  g_assert_true (llava_checkpoint_has (c, "vision_tower.vision_model.encoder.layers.1.mlp.fc2.bias"));
  g_assert_true (llava_checkpoint_has (c, "language_model.model.layers.0.mlp.down_proj.weight"));
  llava_checkpoint_free (c);
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    GDir *d = g_dir_open (path, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (path, n, NULL);
      rm_rf (p);
    }
    g_dir_close (d);
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

int
main (int argc, char **argv)
{
  int rc;
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("llava-ckpt-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);

  g_test_add_func ("/config/golden", test_config_golden);
  g_test_add_func ("/config/transformers-defaults", test_config_defaults);
  g_test_add_func ("/config/7b-omits-hidden-size", test_config_7b_shape);
  g_test_add_func ("/config/vision-feature-layer", test_config_feature_layer);
  g_test_add_func ("/config/grouped-query-attention", test_config_gqa);
  g_test_add_func ("/config/error/unsupported-architecture", test_config_unsupported);
  g_test_add_func ("/config/error/bad-values", test_config_bad_values);
  g_test_add_func ("/config/error/json-syntax", test_config_json_syntax);
  g_test_add_func ("/config/lmms-lab", test_config_lmms);
  g_test_add_func ("/config/generation-and-preprocessor", test_config_generation_and_preprocessor);
  g_test_add_func ("/checkpoint/golden-tensors-exact", test_golden_tensors_exact);
  g_test_add_func ("/checkpoint/golden-lm-head-and-formats", test_golden_lm_head_and_formats);
  g_test_add_func ("/checkpoint/tiny-loads", test_tiny_loads);
  g_test_add_func ("/checkpoint/sharded", test_sharded);
  g_test_add_func ("/checkpoint/name-mapping", test_name_mapping);
  g_test_add_func ("/checkpoint/lmms-names-load", test_lmms_names_load);
  g_test_add_func ("/checkpoint/error/missing-dir", test_error_missing_dir);
  g_test_add_func ("/checkpoint/error/missing-config", test_error_missing_config);
  g_test_add_func ("/checkpoint/error/missing-weights", test_error_missing_weights);
  g_test_add_func ("/checkpoint/error/truncated-weights", test_error_truncated_weights);
  g_test_add_func ("/checkpoint/error/unknown-dtype", test_error_unknown_dtype);
  g_test_add_func ("/checkpoint/error/config-json-syntax", test_error_config_syntax);
  g_test_add_func ("/checkpoint/error/shape-mismatch", test_error_shape_mismatch);
  g_test_add_func ("/checkpoint/error/missing-tensor", test_error_missing_tensor);
  g_test_add_func ("/checkpoint/error/untied-without-lm-head", test_error_untied_without_lm_head);
  g_test_add_func ("/checkpoint/error/unsupported-architecture", test_error_unsupported_arch);
  g_test_add_func ("/checkpoint/error/overflowing-dimensions", test_error_overflow);
  rc = g_test_run ();
  rm_rf (tmpdir);
  g_free (tmpdir);
  return rc;
}
