/* llava-private.h — the engine's objects behind llava.h, shared by
 * llava.c, session.c and the whole-model benchmark (engine/tools). */
#pragma once

#include "llava.h"
#include "backend.h"
#include "weights.h"
#include "preprocess.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "vision/siglip.h"
#include "llm/qwen2.h"

G_BEGIN_DECLS

/* No activation tensor larger than this (lavapipe's storage buffer range). */
#define LLAVA_MAX_ACTIVATION_BYTES ((gsize) 128 << 20)
/* Rows per prefill chunk. */
#define LLAVA_PREFILL_CHUNK 256

struct _LlavaModel {
  gint refcount;
  LlavaConfig cfg;              /* strings not owned (set to NULL) */
  LlBackend *be;
  /* The backend records ops into one stream: sessions on different threads
   * take turns on it. */
  GMutex lock;
  LlDType wtype;
  SiglipModel *vision;
  Qwen2Model *llm;
  LlavaTokenizer *tok;          /* NULL for in-memory (benchmark) models */
  LlavaPreprocessor *pp;
  guint context_size, max_frames;
  gsize max_activation_bytes;   /* vision chunking (tests may lower it) */
  gint32 stop_ids[8];
  guint n_stop_ids;
  guint n_valid_logits;         /* ids ≥ this are never produced */
  LlavaModelInfo info;
  char *device_desc;
};

struct _LlavaImage {
  guint64 key;
  guint size;                   /* S */
  float *pixels;                /* [3, S, S] */
  double preprocess_ms;
};

/* Builds a model from tensors given by `read` (the checkpoint, or random
 * weights for the benchmark).  `tok` is taken (may be NULL: then only
 * llava_session_generate_ids works and no text is produced). */
LlavaModel *llava_model_new_from_weights (const LlavaConfig *cfg,
    LlavaWeightReadFunc read, gpointer src, gboolean has_lm_head,
    LlavaTokenizer *tok, const LlavaModelOptions *opt, GError **err);

/* llava_session_generate after the chat template: `ids` hold one
 * cfg.image_token_id per image. */
gboolean llava_session_generate_ids (LlavaSession *s,
    LlavaImage *const *images, guint n_images, const gint32 *ids,
    guint n_ids, const LlavaGenerateParams *params, LlavaTokenFunc on_token,
    gpointer user_data, GCancellable *cancel, LlavaResult *out, GError **err);

double llava_now_ms (void);

G_END_DECLS
