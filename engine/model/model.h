/* model.h — a llava-hf (or lmms-lab) model directory: configuration and
 * tensors.  No Vulkan here: tensors are handed out in the engine's host
 * weight formats (backend.h) and the graph uploads them. */
#pragma once

#include "../backend.h"
#include "../llava.h"

G_BEGIN_DECLS

typedef struct {
  /* vision (SigLIP) */
  guint v_hidden, v_intermediate, v_layers, v_heads, v_image_size,
      v_patch_size, v_channels;
  float v_ln_eps;
  char *v_act;                  /* "gelu_pytorch_tanh" */
  int vision_feature_layer;     /* as in config.json (negative or positive) */
  guint v_layers_used;          /* layers to run = resolved hidden_states index */
  gboolean select_full;         /* "full" keeps every patch; "default" drops the first */
  guint tokens_per_image;       /* (S/p)² (- 1 with "default") */
  /* projector */
  char *projector_act;          /* "gelu" (erf) */
  guint proj_in, proj_out;
  /* text (Qwen2) */
  guint t_hidden, t_intermediate, t_layers, t_heads, t_kv_heads, t_head_dim,
      t_vocab, t_max_pos;
  float rope_theta, rms_eps;
  gboolean tie_embeddings;
  gint32 image_token_id;        /* 151646 */
  gint32 bos_id, pad_id;
  gint32 eos_ids[4];
  guint n_eos_ids;
  /* preprocessor */
  guint pp_height, pp_width;
  float pp_mean[3], pp_std[3], pp_rescale;
  gboolean pp_do_resize, pp_do_rescale, pp_do_normalize;
  int pp_resample;              /* 3 = bicubic */
} LlavaConfig;

typedef struct _LlavaCheckpoint LlavaCheckpoint;

/* Opens <dir>/config.json (+ preprocessor_config.json, generation_config.json)
 * and the safetensors file(s) (model.safetensors or the sharded
 * model.safetensors.index.json), mmap'd and validated.  Errors name the file
 * and the problem (LLAVA_ERROR domain). */
LlavaCheckpoint *llava_checkpoint_open (const char *dir, GError **err);
void llava_checkpoint_free (LlavaCheckpoint *c);

const LlavaConfig *llava_checkpoint_get_config (const LlavaCheckpoint *c);
const char *llava_checkpoint_get_dir (const LlavaCheckpoint *c);

/* TRUE if a tensor of that llava-hf name exists (after name mapping; the
 * tied lm_head counts as present when it falls back to embed_tokens). */
gboolean llava_checkpoint_has (const LlavaCheckpoint *c, const char *name);

/* Reads a tensor by its llava-hf name (lmms-lab names are mapped), checks
 * its element count / shape against `shape` (n_dims entries; the check fails
 * with an error naming the tensor and both shapes), and returns it as f32
 * (g_malloc'd, row-major).  `language_model.lm_head.weight` falls back to
 * `language_model.model.embed_tokens.weight` when absent. */
float *llava_checkpoint_read_f32 (LlavaCheckpoint *c, const char *name,
    const gint64 *shape, guint n_dims, GError **err);

/* Iterates the stored tensors (for --inspect): name, dtype string, shape. */
typedef void (*LlavaTensorInfoFunc) (const char *name, const char *dtype,
    const gint64 *shape, guint n_dims, gpointer user_data);
void llava_checkpoint_foreach (const LlavaCheckpoint *c,
    LlavaTensorInfoFunc func, gpointer user_data);

guint64 llava_checkpoint_n_params (const LlavaCheckpoint *c);

/* ---- additions (engine/model) ---- */

/* Reads a tensor like llava_checkpoint_read_f32 but converts it straight
 * into a host weight format (backend.h) as [rows = shape[0], cols = product
 * of the other dims] (a 1-D tensor is [1, N]), row by row, so the only
 * full-size allocation is the result.  *size_out gets its byte count. */
void *llava_checkpoint_read (LlavaCheckpoint *c, const char *name,
    const gint64 *shape, guint n_dims, LlDType dtype, gsize *size_out,
    GError **err);

guint llava_checkpoint_n_files (const LlavaCheckpoint *c);

/* lmms-lab / transformers ≥ 4.52 tensor name → llava-hf name (g_malloc'd);
 * NULL for buffers that are not weights (rotary inv_freq). */
char *llava_checkpoint_map_name (const char *stored_name);

/* Configuration alone.  llava_config_load reads config.json (required),
 * preprocessor_config.json and generation_config.json (optional) from dir;
 * the _parse functions take one file's text (`file` names it in errors;
 * the fuzz target uses them).  preprocessor/generation parsing updates a
 * config already filled by llava_config_parse.  _clear frees the strings. */
gboolean llava_config_load (LlavaConfig *cfg, const char *dir, GError **err);
gboolean llava_config_parse (LlavaConfig *cfg, const char *json, gssize len,
    const char *file, GError **err);
gboolean llava_config_parse_preprocessor (LlavaConfig *cfg, const char *json,
    gssize len, const char *file, GError **err);
gboolean llava_config_parse_generation (LlavaConfig *cfg, const char *json,
    gssize len, const char *file, GError **err);
void llava_config_clear (LlavaConfig *cfg);

G_END_DECLS
