/* inspect.c — llava-run's model and tokenizer sub-commands:
 *
 *   llava-run --model DIR --inspect [--json]     architecture, sizes, dtypes,
 *                                                 parameters, memory per precision
 *   llava-run --model DIR --tokenize=TEXT [--json]      {"ids": [...]}
 *   llava-run --model DIR --detokenize=1,2,3 [--json]   {"text": "..."}
 *
 * Only the headers of the safetensors files are read (mmap); nothing is
 * converted or uploaded. */
#include "run.h"
#include "llava.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "weights.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

/* ---- --inspect ---- */

typedef struct {
  GHashTable *dtypes;           /* dtype name → count */
  guint64 vision, projector, text, other;
  guint n_tensors;
} InspectStats;

static void
inspect_tensor (const char *name, const char *dtype, const gint64 *shape,
    guint n_dims, gpointer user_data)
{
  InspectStats *s = user_data;
  guint64 n = 1;
  for (guint d = 0; d < n_dims; d++)
    n *= (guint64) shape[d];
  g_hash_table_insert (s->dtypes, (gpointer) dtype,
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (s->dtypes, dtype)) + 1));
  if (g_str_has_prefix (name, "vision_tower."))
    s->vision += n;
  else if (g_str_has_prefix (name, "multi_modal_projector."))
    s->projector += n;
  else if (g_str_has_prefix (name, "language_model."))
    s->text += n;
  else
    s->other += n;
  s->n_tensors++;
}

static char *
dtypes_str (GHashTable *dtypes)
{
  GString *s = g_string_new (NULL);
  GList *keys = g_list_sort (g_hash_table_get_keys (dtypes), (GCompareFunc) strcmp);
  for (GList *l = keys; l; l = l->next)
    g_string_append_printf (s, "%s%s ×%u", s->len ? ", " : "", (char *) l->data,
        GPOINTER_TO_UINT (g_hash_table_lookup (dtypes, l->data)));
  g_list_free (keys);
  return g_string_free (s, FALSE);
}

/* A float config value as the double with the same short decimal form
 * (1e-06, not 9.9999999747524271e-07). */
static double
short_double (float f)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (buf, sizeof buf, "%.7g", f);
  return g_ascii_strtod (buf, NULL);
}

static void
print_json (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, FALSE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

#define JI(b, k, v) G_STMT_START { json_builder_set_member_name (b, k); \
    json_builder_add_int_value (b, (gint64) (v)); } G_STMT_END
#define JD(b, k, v) G_STMT_START { json_builder_set_member_name (b, k); \
    json_builder_add_double_value (b, short_double (v)); } G_STMT_END
#define JS(b, k, v) G_STMT_START { json_builder_set_member_name (b, k); \
    json_builder_add_string_value (b, v); } G_STMT_END
#define JB(b, k, v) G_STMT_START { json_builder_set_member_name (b, k); \
    json_builder_add_boolean_value (b, v); } G_STMT_END

static void
inspect_json (const LlavaCheckpoint *c, const LlavaConfig *cfg,
    InspectStats *s, guint64 mem[3])
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  static const char *prec[3] = { "f32", "f16", "q8_0" };
  GHashTableIter it;
  gpointer k, v;

  json_builder_begin_object (b);
  JS (b, "model", llava_checkpoint_get_dir (c));
  JS (b, "architecture", "llava (siglip + qwen2)");
  json_builder_set_member_name (b, "vision");
  json_builder_begin_object (b);
  JI (b, "hidden_size", cfg->v_hidden);
  JI (b, "intermediate_size", cfg->v_intermediate);
  JI (b, "num_hidden_layers", cfg->v_layers);
  JI (b, "layers_used", cfg->v_layers_used);
  JI (b, "vision_feature_layer", cfg->vision_feature_layer);
  JS (b, "select_strategy", cfg->select_full ? "full" : "default");
  JI (b, "num_attention_heads", cfg->v_heads);
  JI (b, "image_size", cfg->v_image_size);
  JI (b, "patch_size", cfg->v_patch_size);
  JI (b, "tokens_per_image", cfg->tokens_per_image);
  JS (b, "hidden_act", cfg->v_act);
  JD (b, "layer_norm_eps", cfg->v_ln_eps);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "projector");
  json_builder_begin_object (b);
  JI (b, "in", cfg->proj_in);
  JI (b, "out", cfg->proj_out);
  JS (b, "act", cfg->projector_act);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_begin_object (b);
  JI (b, "hidden_size", cfg->t_hidden);
  JI (b, "intermediate_size", cfg->t_intermediate);
  JI (b, "num_hidden_layers", cfg->t_layers);
  JI (b, "num_attention_heads", cfg->t_heads);
  JI (b, "num_key_value_heads", cfg->t_kv_heads);
  JI (b, "head_dim", cfg->t_head_dim);
  JI (b, "vocab_size", cfg->t_vocab);
  JI (b, "max_position_embeddings", cfg->t_max_pos);
  JD (b, "rope_theta", cfg->rope_theta);
  JD (b, "rms_norm_eps", cfg->rms_eps);
  JB (b, "tie_word_embeddings", cfg->tie_embeddings);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "tokens");
  json_builder_begin_object (b);
  JI (b, "image", cfg->image_token_id);
  JI (b, "bos", cfg->bos_id);
  json_builder_set_member_name (b, "eos");
  json_builder_begin_array (b);
  for (guint i = 0; i < cfg->n_eos_ids; i++)
    json_builder_add_int_value (b, cfg->eos_ids[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "preprocessor");
  json_builder_begin_object (b);
  JI (b, "height", cfg->pp_height);
  JI (b, "width", cfg->pp_width);
  JI (b, "resample", cfg->pp_resample);
  JD (b, "rescale_factor", cfg->pp_rescale);
  json_builder_set_member_name (b, "mean");
  json_builder_begin_array (b);
  for (int i = 0; i < 3; i++)
    json_builder_add_double_value (b, short_double (cfg->pp_mean[i]));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "std");
  json_builder_begin_array (b);
  for (int i = 0; i < 3; i++)
    json_builder_add_double_value (b, short_double (cfg->pp_std[i]));
  json_builder_end_array (b);
  json_builder_end_object (b);
  JI (b, "n_files", llava_checkpoint_n_files (c));
  JI (b, "n_tensors", s->n_tensors);
  json_builder_set_member_name (b, "dtypes");
  json_builder_begin_object (b);
  g_hash_table_iter_init (&it, s->dtypes);
  while (g_hash_table_iter_next (&it, &k, &v))
    JI (b, k, GPOINTER_TO_UINT (v));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "parameters");
  json_builder_begin_object (b);
  JI (b, "total", llava_checkpoint_n_params (c));
  JI (b, "vision", s->vision);
  JI (b, "projector", s->projector);
  JI (b, "text", s->text);
  JI (b, "other", s->other);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "memory_bytes");
  json_builder_begin_object (b);
  for (int i = 0; i < 3; i++)
    JI (b, prec[i], mem[i]);
  json_builder_end_object (b);
  json_builder_end_object (b);
  print_json (b);
}

static char *
mib (guint64 bytes)
{
  return g_strdup_printf ("%.1f MiB", bytes / 1048576.0);
}

int
llava_run_inspect (const LlavaRunArgs *a)
{
  g_autoptr (GError) err = NULL;
  LlavaCheckpoint *c = llava_checkpoint_open (a->model, &err);
  const LlavaConfig *cfg;
  InspectStats s = { 0 };
  guint64 mem[3];

  if (!c) {
    fprintf (stderr, "llava-run: %s\n", err->message);
    return 1;
  }
  cfg = llava_checkpoint_get_config (c);
  s.dtypes = g_hash_table_new (g_str_hash, g_str_equal);
  llava_checkpoint_foreach (c, inspect_tensor, &s);
  mem[0] = llava_weights_host_bytes (c, LL_F32);
  mem[1] = llava_weights_host_bytes (c, LL_F16);
  mem[2] = llava_weights_host_bytes (c, LL_Q8_0);

  if (a->json) {
    inspect_json (c, cfg, &s, mem);
  } else {
    g_autofree char *dt = dtypes_str (s.dtypes);
    g_autofree char *m0 = mib (mem[0]);
    g_autofree char *m1 = mib (mem[1]);
    g_autofree char *m2 = mib (mem[2]);
    GString *eos = g_string_new (NULL);
    for (guint i = 0; i < cfg->n_eos_ids; i++)
      g_string_append_printf (eos, "%s%d", i ? ", " : "", cfg->eos_ids[i]);
    printf ("model:        %s\n", llava_checkpoint_get_dir (c));
    printf ("architecture: llava (siglip + qwen2)\n");
    printf ("vision:       SigLIP, hidden %u, MLP %u, %u layers (%u run: feature layer %d), "
        "%u heads, image %u, patch %u → %u tokens per image (%s), %s, LayerNorm eps %g\n",
        cfg->v_hidden, cfg->v_intermediate, cfg->v_layers, cfg->v_layers_used,
        cfg->vision_feature_layer, cfg->v_heads, cfg->v_image_size, cfg->v_patch_size,
        cfg->tokens_per_image, cfg->select_full ? "full" : "default", cfg->v_act,
        cfg->v_ln_eps);
    printf ("projector:    %u → %u → %u, %s\n", cfg->proj_in, cfg->proj_out,
        cfg->proj_out, cfg->projector_act);
    printf ("text:         Qwen2, hidden %u, MLP %u, %u layers, %u heads (%u kv) × %u, "
        "vocab %u, context %u, rope theta %g, RMSNorm eps %g, %s embeddings\n",
        cfg->t_hidden, cfg->t_intermediate, cfg->t_layers, cfg->t_heads,
        cfg->t_kv_heads, cfg->t_head_dim, cfg->t_vocab, cfg->t_max_pos,
        cfg->rope_theta, cfg->rms_eps, cfg->tie_embeddings ? "tied" : "separate");
    printf ("tokens:       image %d, bos %d, eos [%s]\n", cfg->image_token_id,
        cfg->bos_id, eos->str);
    printf ("preprocess:   %u×%u, resample %d, rescale %g, mean [%g, %g, %g], std [%g, %g, %g]\n",
        cfg->pp_width, cfg->pp_height, cfg->pp_resample, cfg->pp_rescale,
        cfg->pp_mean[0], cfg->pp_mean[1], cfg->pp_mean[2],
        cfg->pp_std[0], cfg->pp_std[1], cfg->pp_std[2]);
    printf ("tensors:      %u in %u file(s): %s\n", s.n_tensors,
        llava_checkpoint_n_files (c), dt);
    printf ("parameters:   %" G_GUINT64_FORMAT " (vision %" G_GUINT64_FORMAT
        ", projector %" G_GUINT64_FORMAT ", text %" G_GUINT64_FORMAT ")\n",
        llava_checkpoint_n_params (c), s.vision, s.projector, s.text);
    printf ("memory:       f32 %s, f16 %s, q8_0 %s (weights as loaded: matrices incl. the embedding / LM head\n"
        "              in the precision; norms, biases and position embeddings f32)\n",
        m0, m1, m2);
    g_string_free (eos, TRUE);
  }
  g_hash_table_destroy (s.dtypes);
  llava_checkpoint_free (c);
  return 0;
}

/* ---- --tokenize / --detokenize ---- */

int
llava_run_tokenize (const LlavaRunArgs *a)
{
  g_autoptr (GError) err = NULL;
  LlavaTokenizer *t = llava_tokenizer_load (a->model, &err);
  GArray *ids;

  if (!t) {
    fprintf (stderr, "llava-run: %s\n", err->message);
    return 1;
  }
  ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  if (!llava_tokenizer_encode (t, a->tokenize, -1, ids, &err)) {
    fprintf (stderr, "llava-run: %s\n", err->message);
    g_array_unref (ids);
    llava_tokenizer_free (t);
    return 1;
  }
  if (a->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "ids");
    json_builder_begin_array (b);
    for (guint i = 0; i < ids->len; i++)
      json_builder_add_int_value (b, g_array_index (ids, gint32, i));
    json_builder_end_array (b);
    json_builder_end_object (b);
    print_json (b);
  } else {
    for (guint i = 0; i < ids->len; i++)
      printf ("%s%d", i ? "," : "", g_array_index (ids, gint32, i));
    printf ("\n");
  }
  g_array_unref (ids);
  llava_tokenizer_free (t);
  return 0;
}

int
llava_run_detokenize (const LlavaRunArgs *a)
{
  g_autoptr (GError) err = NULL;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  LlavaTokenizer *t = NULL;
  char *text;

  if (!llava_run_parse_ids (a->detokenize, ids, &err)
      || !(t = llava_tokenizer_load (a->model, &err))) {
    fprintf (stderr, "llava-run: %s\n", err->message);
    g_array_unref (ids);
    return 1;
  }
  text = llava_tokenizer_decode (t, (const gint32 *) ids->data, ids->len, FALSE);
  if (a->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "text");
    json_builder_add_string_value (b, text);
    json_builder_end_object (b);
    print_json (b);
  } else {
    printf ("%s\n", text);
  }
  g_free (text);
  g_array_unref (ids);
  llava_tokenizer_free (t);
  return 0;
}
