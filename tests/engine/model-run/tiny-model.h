/* tiny-model.h — writes a random-weight llava-hf model directory of tiny
 * shapes (config.json, preprocessor_config.json, generation_config.json,
 * model.safetensors in bf16; the tokenizer files are symlinked from
 * $LLAVA_GOLDEN_DIR). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *name;
  /* vision */
  guint v_hidden, v_heads, v_inter, v_layers, image, patch;
  int feature_layer;            /* -1, -2, … */
  gboolean select_default;      /* "default" drops the first patch */
  /* text */
  guint t_hidden, t_heads, t_kv_heads, t_inter, t_layers, vocab;
  gboolean tied;
  guint64 seed;
} TinyModelSpec;

/* Creates the directory under a new temporary directory; returns its path
 * (remove with tiny_model_remove). */
char *tiny_model_write (const TinyModelSpec *spec, GError **err);
void tiny_model_remove (char *dir);

/* Deterministic pseudo-random RGB frame [h, w·3]. */
guint8 *tiny_frame (guint w, guint h, guint64 seed);

G_END_DECLS
