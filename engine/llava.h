/* llava.h — the public engine API: frames and a prompt in, text out.
 *
 * The only engine header gst/ and engine/tools/ include.  No GStreamer here.
 *
 *   model   = llava_model_load (dir, &opts, &err);          // shareable, immutable
 *   session = llava_session_new (model, NULL, &err);         // KV cache, scratch
 *   img[i]  = llava_image_new_from_frame (model, &frame, &err);  // preprocess on arrival
 *   llava_session_generate (session, img, n, "Describe…", &params,
 *                           on_token, ud, cancellable, &result, &err);
 *
 * A model may be used by several sessions (each on its own thread); one
 * session must not be used from two threads at once.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LLAVA_ERROR (llava_error_quark ())
GQuark llava_error_quark (void);

typedef enum {
  LLAVA_ERROR_FILE,          /* missing / unreadable / truncated file */
  LLAVA_ERROR_FORMAT,        /* bad JSON, safetensors header, dtype, shape */
  LLAVA_ERROR_UNSUPPORTED,   /* architecture or option not supported */
  LLAVA_ERROR_DEVICE,        /* no Vulkan device, out of device memory, device lost */
  LLAVA_ERROR_CONTEXT,       /* prompt + frames longer than the context */
  LLAVA_ERROR_INVALID,       /* bad argument (frame size, format, …) */
  LLAVA_ERROR_CANCELLED,
} LlavaErrorCode;

typedef enum {
  LLAVA_PRECISION_AUTO = 0,  /* f16 on devices with 16-bit storage, else f32 */
  LLAVA_PRECISION_F32,
  LLAVA_PRECISION_F16,
  LLAVA_PRECISION_Q8_0,
} LlavaPrecision;

const char *llava_precision_name (LlavaPrecision p);
/* "auto", "f32", "f16", "q8_0"; returns FALSE for anything else */
gboolean llava_precision_from_string (const char *s, LlavaPrecision *out);

typedef struct {
  int device_index;          /* -1: LLAVA_VK_DEVICE env, else discrete > integrated > CPU */
  LlavaPrecision precision;
  guint context_size;        /* 0: enough for max_frames frames + 512 text tokens */
  guint max_frames;          /* 0: 16 */
  gboolean reference_backend; /* plain C reference instead of Vulkan (tests, debugging) */
  /* Called from llava_model_load with a fraction in [0,1] (progress messages). */
  void (*progress) (double fraction, const char *what, gpointer user_data);
  gpointer progress_data;
} LlavaModelOptions;

void llava_model_options_init (LlavaModelOptions *opt);

typedef struct _LlavaModel LlavaModel;
typedef struct _LlavaSession LlavaSession;
typedef struct _LlavaImage LlavaImage;

LlavaModel *llava_model_load (const char *path, const LlavaModelOptions *opt,
    GError **err);
LlavaModel *llava_model_ref (LlavaModel *m);
void llava_model_unref (LlavaModel *m);

typedef struct {
  const char *architecture;  /* "llava (siglip + qwen2)" */
  guint image_size;          /* input side S (384 for the real model) */
  guint tokens_per_image;    /* 729 */
  guint vision_layers_used, vision_hidden, text_layers, text_hidden;
  guint heads, kv_heads, vocab_size, context_size;
  guint64 n_params;
  LlavaPrecision precision;  /* resolved (never AUTO) */
  const char *device;        /* backend description */
} LlavaModelInfo;

const LlavaModelInfo *llava_model_get_info (const LlavaModel *m);

/* ---- frames ---- */

typedef enum {
  LLAVA_PIXEL_RGB,
  LLAVA_PIXEL_RGBA,
  LLAVA_PIXEL_RGBX,
  LLAVA_PIXEL_BGRA,
  LLAVA_PIXEL_BGRX,
  LLAVA_PIXEL_XRGB,
} LlavaPixelFormat;

typedef struct {
  const guint8 *data;
  guint width, height;
  gsize stride;              /* bytes per row */
  LlavaPixelFormat format;
} LlavaFrame;

/* Preprocesses a frame to the model input (Pillow-exact bicubic resize to
 * S×S, rescale, normalise): [3, S, S] fp32.  `key` identifies the frame for
 * the session's feature cache (e.g. its PTS); 0 = never cached. */
LlavaImage *llava_image_new_from_frame (const LlavaModel *m,
    const LlavaFrame *frame, guint64 key, GError **err);
/* Wraps already preprocessed pixel values [3, S, S] (copied). */
LlavaImage *llava_image_new_from_pixels (const LlavaModel *m,
    const float *pixels, guint64 key, GError **err);
void llava_image_free (LlavaImage *img);
const float *llava_image_get_pixels (const LlavaImage *img, guint *size);

/* ---- generation ---- */

typedef struct {
  const char *system_prompt; /* NULL: llava-hf chat template (no system turn) */
  guint max_new_tokens;      /* 0: 128 */
  float temperature;         /* 0: greedy */
  guint top_k;               /* 0: off */
  float top_p;               /* 1: off */
  guint64 seed;
  /* Testing: feed these ids instead of sampling; logits of each step are
   * still computed (see dump). */
  const gint32 *teacher_force;
  guint n_teacher_force;
  /* Testing: called with named fp32 tensors as the golden fixtures name
   * them (pixel_values, image_features, projector_output, inputs_embeds,
   * logits_steps rows, …).  NULL: nothing is read back. */
  void (*dump) (const char *name, const float *data, const gint64 *shape,
      guint ndim, gpointer user_data);
  gpointer dump_data;
} LlavaGenerateParams;

void llava_generate_params_init (LlavaGenerateParams *p);

typedef enum {
  LLAVA_STOP_EOS,
  LLAVA_STOP_MAX_TOKENS,
  LLAVA_STOP_CANCELLED,
  LLAVA_STOP_CALLBACK,
} LlavaStopReason;

const char *llava_stop_reason_name (LlavaStopReason r);

typedef struct {
  char *text;
  gint32 *ids;               /* generated ids (stop id not included) */
  guint n_ids;
  gint32 *input_ids;         /* prompt ids, one placeholder per image */
  guint n_input_ids;
  guint n_prompt_tokens;     /* after expanding the placeholders */
  LlavaStopReason stop_reason;
  double preprocess_ms, vision_ms, prefill_ms, decode_ms;
  guint n_images_encoded, n_images_cached;
  guint64 peak_device_bytes;
} LlavaResult;

void llava_result_clear (LlavaResult *r);

/* Called for each generated token with the text it completes (never half a
 * UTF-8 character; may be ""). Return FALSE to stop. */
typedef gboolean (*LlavaTokenFunc) (gint32 id, const char *text,
    gpointer user_data);

typedef struct {
  guint context_size;        /* 0: the model's */
  guint feature_cache_size;  /* frames whose features are kept; 0: 2 windows */
} LlavaSessionOptions;

LlavaSession *llava_session_new (LlavaModel *m, const LlavaSessionOptions *opt,
    GError **err);
void llava_session_free (LlavaSession *s);

gboolean llava_session_generate (LlavaSession *s, LlavaImage *const *images,
    guint n_images, const char *prompt, const LlavaGenerateParams *params,
    LlavaTokenFunc on_token, gpointer user_data, GCancellable *cancel,
    LlavaResult *out, GError **err);

G_END_DECLS
