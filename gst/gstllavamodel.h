/* gstllavamodel.h — the model an llavainterleave element runs: loaded on
 * NULL→READY through a process-wide cache, so that elements naming the
 * same model directory, device, precision and frame budget share one
 * LlavaModel (weights on the device once); each element keeps its own
 * LlavaSession (KV cache, scratch). */
#pragma once

#include "gstllavainterleave.h"

G_BEGIN_DECLS

/* A model from the cache, or loaded and added to it (opt->progress is only
 * called when it is loaded).  *shared: TRUE when another user already had
 * it.  Release with gst_llava_model_cache_release. */
LlavaModel *gst_llava_model_cache_acquire (const char *path,
    const LlavaModelOptions *opt, gboolean *shared, GError **err);
/* Drops one user of m; the last user unloads the model.  NULL: no-op. */
void gst_llava_model_cache_release (LlavaModel *m);

/* self->model and self->session from the model properties, with progress
 * messages on the bus; posts an element error and returns FALSE on
 * failure. */
gboolean gst_llava_interleave_load_model (GstLlavaInterleave *self);
/* Frees the session and releases the model (safe when none). */
void gst_llava_interleave_release_model (GstLlavaInterleave *self);

G_END_DECLS
