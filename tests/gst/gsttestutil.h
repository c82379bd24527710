/* gsttestutil.h — what the element tests share: the golden clip as video
 * buffers, the engine run directly on chosen frames, golden fixtures. */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define CLIP_FRAMES 30
#define CLIP_PROMPT "Describe what happens in this video."

/* $LLAVA_GOLDEN_DIR (the tiny model directory). */
const char *test_golden_dir (void);

/* Registers nothing, but makes sure our plugin is found (GST_PLUGIN_PATH)
 * and the element exists. */
void test_require_element (void);

/* The 30 frames of window/clip_NN.png decoded by pngdec and converted by
 * videoconvert to `format`: GstSample* (buffer + caps), in clip order. */
GPtrArray *test_load_clip (const char *format);
/* The same, scaled to width × height. */
GPtrArray *test_load_clip_scaled (const char *format, int width, int height);

/* The engine run directly (llava_session_generate, precision f32, greedy)
 * on clip frames `idx[0..n)` decoded as RGB, same prompt and token limit.
 * Returns the generated text. */
char *test_engine_text (const guint *idx, guint n, guint max_new_tokens,
    const char *prompt);

/* Frees what test_engine_text keeps for the process (the model, the RGB
 * clip); call after g_test_run. */
void test_util_cleanup (void);

/* golden case.json "generated_text" */
char *test_golden_generated_text (void);

/* A pipeline from a launch line run to EOS (or error, which fails the
 * test); returns the "llava-result" structures posted on the bus, in order.
 * timeout_s bounds the run. */
GPtrArray *test_run_pipeline (GstElement *pipeline, guint timeout_s);

G_END_DECLS
