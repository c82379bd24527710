/* tiny-model.c — see tiny-model.h. */
#include "tiny-model.h"

#include <math.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "model/safetensors.h"

typedef struct {
  guint64 s;
} Rng;

static double
rng_uniform (Rng *r)             /* [-1, 1) */
{
  guint64 z = (r->s += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  z ^= z >> 31;
  return (z >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* bf16 by round-to-nearest-even, as torch's .to(bfloat16) */
static guint16
to_bf16 (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (guint16) (u >> 16);
}

/* adds a bf16 tensor of `n` values: base + scale·U(-1,1) */
static void
add (LlavaStWriter *w, Rng *r, const char *name, const gint64 *shape,
    guint nd, float base, float scale)
{
  gsize n = 1;
  guint16 *v;

  for (guint i = 0; i < nd; i++)
    n *= shape[i];
  v = g_new (guint16, n);
  for (gsize i = 0; i < n; i++)
    v[i] = to_bf16 (base + scale * (float) rng_uniform (r));
  llava_st_writer_add (w, name, LLAVA_ST_BF16, shape, nd, v);
  g_free (v);
}

static void
add_linear (LlavaStWriter *w, Rng *r, const char *prefix, guint out,
    guint in, gboolean bias)
{
  char *n = g_strconcat (prefix, ".weight", NULL);
  gint64 ws[2] = { out, in }, bs[1] = { out };

  /* U(-a, a) with a = √3/√in: unit-variance outputs for unit inputs */
  add (w, r, n, ws, 2, 0.0f, sqrtf (3.0f / in));
  g_free (n);
  if (bias) {
    n = g_strconcat (prefix, ".bias", NULL);
    add (w, r, n, bs, 1, 0.0f, 0.05f);
    g_free (n);
  }
}

static void
add_norm (LlavaStWriter *w, Rng *r, const char *prefix, guint n,
    gboolean bias)
{
  char *s = g_strconcat (prefix, ".weight", NULL);
  gint64 shape[1] = { n };

  add (w, r, s, shape, 1, 1.0f, 0.1f);
  g_free (s);
  if (bias) {
    s = g_strconcat (prefix, ".bias", NULL);
    add (w, r, s, shape, 1, 0.0f, 0.05f);
    g_free (s);
  }
}

static gboolean
write_weights (const TinyModelSpec *m, const char *path, GError **err)
{
  LlavaStWriter *w = llava_st_writer_new ();
  Rng r = { m->seed };
  guint g = m->image / m->patch, kv = m->t_hidden / m->t_heads * m->t_kv_heads;
  gint64 pe[4] = { m->v_hidden, 3, m->patch, m->patch }, pb[1] = { m->v_hidden };
  gint64 pos[2] = { g * g, m->v_hidden }, emb[2] = { m->vocab, m->t_hidden };
  gboolean ok;

  add (w, &r, "vision_tower.vision_model.embeddings.patch_embedding.weight",
      pe, 4, 0.0f, sqrtf (3.0f / (3 * m->patch * m->patch)));
  add (w, &r, "vision_tower.vision_model.embeddings.patch_embedding.bias", pb,
      1, 0.0f, 0.05f);
  add (w, &r, "vision_tower.vision_model.embeddings.position_embedding.weight",
      pos, 2, 0.0f, 0.5f);
  for (guint i = 0; i < m->v_layers; i++) {
    char *p = g_strdup_printf ("vision_tower.vision_model.encoder.layers.%u",
        i);
    char *s;
#define SUB(x) (s = g_strconcat (p, x, NULL))
    add_norm (w, &r, SUB (".layer_norm1"), m->v_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.q_proj"), m->v_hidden, m->v_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.k_proj"), m->v_hidden, m->v_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.v_proj"), m->v_hidden, m->v_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.out_proj"), m->v_hidden, m->v_hidden, TRUE); g_free (s);
    add_norm (w, &r, SUB (".layer_norm2"), m->v_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".mlp.fc1"), m->v_inter, m->v_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".mlp.fc2"), m->v_hidden, m->v_inter, TRUE); g_free (s);
    g_free (p);
  }
  add_norm (w, &r, "vision_tower.vision_model.post_layernorm", m->v_hidden,
      TRUE);
  add_linear (w, &r, "multi_modal_projector.linear_1", m->t_hidden,
      m->v_hidden, TRUE);
  add_linear (w, &r, "multi_modal_projector.linear_2", m->t_hidden,
      m->t_hidden, TRUE);

  add (w, &r, "language_model.model.embed_tokens.weight", emb, 2, 0.0f, 1.0f);
  for (guint i = 0; i < m->t_layers; i++) {
    char *p = g_strdup_printf ("language_model.model.layers.%u", i);
    char *s;
    add_norm (w, &r, SUB (".input_layernorm"), m->t_hidden, FALSE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.q_proj"), m->t_hidden, m->t_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.k_proj"), kv, m->t_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.v_proj"), kv, m->t_hidden, TRUE); g_free (s);
    add_linear (w, &r, SUB (".self_attn.o_proj"), m->t_hidden, m->t_hidden, FALSE); g_free (s);
    add_norm (w, &r, SUB (".post_attention_layernorm"), m->t_hidden, FALSE); g_free (s);
    add_linear (w, &r, SUB (".mlp.gate_proj"), m->t_inter, m->t_hidden, FALSE); g_free (s);
    add_linear (w, &r, SUB (".mlp.up_proj"), m->t_inter, m->t_hidden, FALSE); g_free (s);
    add_linear (w, &r, SUB (".mlp.down_proj"), m->t_hidden, m->t_inter, FALSE); g_free (s);
#undef SUB
    g_free (p);
  }
  add_norm (w, &r, "language_model.model.norm", m->t_hidden, FALSE);
  if (!m->tied)
    add_linear (w, &r, "language_model.lm_head", m->vocab, m->t_hidden,
        FALSE);
  ok = llava_st_writer_write (w, path, err);
  llava_st_writer_free (w);
  return ok;
}

static gboolean
write_text (const char *dir, const char *name, const char *text, GError **err)
{
  char *p = g_build_filename (dir, name, NULL);
  gboolean ok = g_file_set_contents (p, text, -1, err);
  g_free (p);
  return ok;
}

char *
tiny_model_write (const TinyModelSpec *m, GError **err)
{
  static const char *tok_files[] = { "tokenizer.json", "tokenizer_config.json",
    "vocab.json", "merges.txt", "added_tokens.json",
    "special_tokens_map.json", "chat_template.json" };
  char *tmp = g_dir_make_tmp ("llava-tiny-XXXXXX", err);
  char *dir, *cfg, *pp, *st;
  gboolean ok;

  if (!tmp)
    return NULL;
  dir = g_build_filename (tmp, m->name, NULL);
  g_free (tmp);
  g_mkdir (dir, 0700);
  cfg = g_strdup_printf ("{\n"
      "  \"architectures\": [\"LlavaForConditionalGeneration\"],\n"
      "  \"model_type\": \"llava\", \"image_token_index\": 151646,\n"
      "  \"projector_hidden_act\": \"gelu\",\n"
      "  \"vision_feature_layer\": %d,\n"
      "  \"vision_feature_select_strategy\": \"%s\",\n"
      "  \"text_config\": {\"model_type\": \"qwen2\", \"hidden_size\": %u,\n"
      "    \"intermediate_size\": %u, \"num_attention_heads\": %u,\n"
      "    \"num_key_value_heads\": %u, \"num_hidden_layers\": %u,\n"
      "    \"vocab_size\": %u, \"rope_theta\": 1000000.0,\n"
      "    \"rms_norm_eps\": 1e-06, \"max_position_embeddings\": 32768,\n"
      "    \"tie_word_embeddings\": %s, \"bos_token_id\": 151643,\n"
      "    \"eos_token_id\": 151645},\n"
      "  \"vision_config\": {\"model_type\": \"siglip_vision_model\",\n"
      "    \"hidden_size\": %u, \"intermediate_size\": %u,\n"
      "    \"num_attention_heads\": %u, \"num_hidden_layers\": %u,\n"
      "    \"image_size\": %u, \"patch_size\": %u, \"layer_norm_eps\": 1e-06,\n"
      "    \"hidden_act\": \"gelu_pytorch_tanh\", \"vision_use_head\": false}\n"
      "}\n", m->feature_layer, m->select_default ? "default" : "full",
      m->t_hidden, m->t_inter, m->t_heads, m->t_kv_heads, m->t_layers,
      m->vocab, m->tied ? "true" : "false", m->v_hidden, m->v_inter,
      m->v_heads, m->v_layers, m->image, m->patch);
  pp = g_strdup_printf ("{\"do_normalize\": true, \"do_rescale\": true,\n"
      " \"do_resize\": true, \"image_mean\": [0.5, 0.5, 0.5],\n"
      " \"image_std\": [0.5, 0.5, 0.5], \"resample\": 3,\n"
      " \"rescale_factor\": 0.00392156862745098,\n"
      " \"image_processor_type\": \"SiglipImageProcessor\",\n"
      " \"size\": {\"height\": %u, \"width\": %u}}\n", m->image, m->image);
  st = g_build_filename (dir, "model.safetensors", NULL);
  ok = write_text (dir, "config.json", cfg, err)
      && write_text (dir, "preprocessor_config.json", pp, err)
      && write_text (dir, "generation_config.json",
          "{\"bos_token_id\": 151643, \"eos_token_id\": 151645}\n", err)
      && write_weights (m, st, err);
  for (guint i = 0; ok && i < G_N_ELEMENTS (tok_files); i++) {
    char *src = g_build_filename (g_getenv ("LLAVA_GOLDEN_DIR"),
        tok_files[i], NULL);
    char *dst = g_build_filename (dir, tok_files[i], NULL);
    if (g_file_test (src, G_FILE_TEST_EXISTS) && symlink (src, dst) != 0) {
      g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_FAILED,
          "cannot link %s", dst);
      ok = FALSE;
    }
    g_free (src);
    g_free (dst);
  }
  g_free (cfg);
  g_free (pp);
  g_free (st);
  if (!ok) {
    tiny_model_remove (dir);
    return NULL;
  }
  return dir;
}

void
tiny_model_remove (char *dir)
{
  GDir *d;
  const char *name;
  char *parent;

  if (!dir)
    return;
  if ((d = g_dir_open (dir, 0, NULL))) {
    while ((name = g_dir_read_name (d))) {
      char *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
      g_free (p);
    }
    g_dir_close (d);
  }
  g_rmdir (dir);
  parent = g_path_get_dirname (dir);
  g_rmdir (parent);
  g_free (parent);
  g_free (dir);
}

guint8 *
tiny_frame (guint w, guint h, guint64 seed)
{
  guint8 *px = g_malloc ((gsize) w * h * 3);
  Rng r = { seed };

  /* smooth gradients plus noise, so resizing has something to do */
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      for (guint c = 0; c < 3; c++) {
        double v = 128 + 90 * sin ((x * (c + 1) + y * 0.7) * 0.21 + seed)
            + 30 * rng_uniform (&r);
        px[((gsize) y * w + x) * 3 + c] = (guint8) CLAMP (v, 0, 255);
      }
  return px;
}
