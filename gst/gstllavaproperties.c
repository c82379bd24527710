/* gstllavaproperties.c — what an application sets on llavainterleave: the
 * GstLlavaMode and GstLlavaPrecision enums, the properties with their
 * ranges and defaults, and get/set.  Settings live in the element struct
 * under GST_OBJECT_LOCK; the statistics (windows-processed, …) under
 * self->lock, where the worker writes them. */
#include "gstllavaproperties.h"

GST_DEBUG_CATEGORY_EXTERN (gst_llava_interleave_debug);
#define GST_CAT_DEFAULT gst_llava_interleave_debug

#define DEFAULT_PROMPT "Describe what happens in this video."
#define DEFAULT_DEVICE -1
#define DEFAULT_PRECISION LLAVA_PRECISION_AUTO
#define DEFAULT_N_FRAMES 10
#define DEFAULT_WINDOW_DURATION (10 * GST_SECOND)
#define DEFAULT_WINDOW_STRIDE 0
#define DEFAULT_MODE GST_LLAVA_MODE_AUTO
#define DEFAULT_MAX_PENDING 2
#define DEFAULT_MAX_NEW_TOKENS 128
#define DEFAULT_TEMPERATURE 0.0f
#define DEFAULT_TOP_K 0
#define DEFAULT_TOP_P 1.0f
#define DEFAULT_SEED 0
#define MAX_WINDOW_DURATION (3600 * GST_SECOND)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_PRECISION,
  PROP_PROMPT,
  PROP_SYSTEM_PROMPT,
  PROP_FRAMES_PER_WINDOW,
  PROP_WINDOW_DURATION,
  PROP_WINDOW_STRIDE,
  PROP_MODE,
  PROP_MAX_PENDING_WINDOWS,
  PROP_MAX_NEW_TOKENS,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_SEED,
  PROP_WINDOWS_PROCESSED,
  PROP_WINDOWS_DROPPED,
  PROP_LAST_LATENCY,
};

/* ---- enums ---- */

GType
gst_llava_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LLAVA_MODE_AUTO, "Live when upstream is live (LATENCY query)",
        "auto"},
    {GST_LLAVA_MODE_LIVE, "Never hold back the video; drop windows the "
          "model cannot keep up with", "live"},
    {GST_LLAVA_MODE_FILE, "Describe every window; hold back upstream while "
          "the queue is full", "file"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLlavaMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_llava_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {LLAVA_PRECISION_AUTO, "f16 where the device has 16-bit storage, else f32",
        "auto"},
    {LLAVA_PRECISION_F32, "32-bit float weights", "f32"},
    {LLAVA_PRECISION_F16, "16-bit float weights", "f16"},
    {LLAVA_PRECISION_Q8_0, "8-bit blocks of 32 weights with an f32 scale",
        "q8_0"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLlavaPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- properties ---- */

/* model, device, precision: in NULL, or in READY (the model is then
 * loaded again on READY→PAUSED) */
static gboolean
model_settable (GstLlavaInterleave *self, const char *name)
{
  if (GST_STATE (self) > GST_STATE_READY
      || GST_STATE_PENDING (self) > GST_STATE_READY) {
    GST_WARNING_OBJECT (self, "\"%s\" can only be changed in the NULL or "
        "READY state: ignored", name);
    return FALSE;
  }
  return TRUE;
}

static void
gst_llava_interleave_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (object);

  switch (prop_id) {
    case PROP_MODEL:
    case PROP_DEVICE:
    case PROP_PRECISION:
      if (!model_settable (self, pspec->name))
        return;
      break;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_DEVICE:
      self->device = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    case PROP_PROMPT:
      g_free (self->prompt);
      self->prompt = g_value_dup_string (value);
      break;
    case PROP_SYSTEM_PROMPT:
      g_free (self->system_prompt);
      self->system_prompt = g_value_dup_string (value);
      break;
    case PROP_FRAMES_PER_WINDOW:
      self->n_frames = g_value_get_uint (value);
      break;
    case PROP_WINDOW_DURATION:
      self->window_duration = g_value_get_uint64 (value);
      break;
    case PROP_WINDOW_STRIDE:
      self->window_stride = g_value_get_uint64 (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_MAX_PENDING_WINDOWS:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_MAX_NEW_TOKENS:
      self->max_new_tokens = g_value_get_uint (value);
      break;
    case PROP_TEMPERATURE:
      self->temperature = g_value_get_float (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_TOP_P:
      self->top_p = g_value_get_float (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  /* a larger max-pending-windows may unblock a waiting streaming thread */
  if (prop_id == PROP_MODEL || prop_id == PROP_DEVICE
      || prop_id == PROP_PRECISION)
    self->model_dirty = TRUE;
  if (prop_id == PROP_MAX_PENDING_WINDOWS) {
    g_mutex_lock (&self->lock);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
}

static void
gst_llava_interleave_get_property (GObject *object, guint prop_id,
    GValue *value, GParamSpec *pspec)
{
  GstLlavaInterleave *self = GST_LLAVA_INTERLEAVE (object);

  switch (prop_id) {
    case PROP_WINDOWS_PROCESSED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->windows_processed);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_WINDOWS_DROPPED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->windows_dropped);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_LAST_LATENCY:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->last_latency);
      g_mutex_unlock (&self->lock);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_DEVICE:
      g_value_set_int (value, self->device);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_PROMPT:
      g_value_set_string (value, self->prompt);
      break;
    case PROP_SYSTEM_PROMPT:
      g_value_set_string (value, self->system_prompt);
      break;
    case PROP_FRAMES_PER_WINDOW:
      g_value_set_uint (value, self->n_frames);
      break;
    case PROP_WINDOW_DURATION:
      g_value_set_uint64 (value, self->window_duration);
      break;
    case PROP_WINDOW_STRIDE:
      g_value_set_uint64 (value, self->window_stride);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_MAX_PENDING_WINDOWS:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_MAX_NEW_TOKENS:
      g_value_set_uint (value, self->max_new_tokens);
      break;
    case PROP_TEMPERATURE:
      g_value_set_float (value, self->temperature);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_TOP_P:
      g_value_set_float (value, self->top_p);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ---- defaults ---- */

void
gst_llava_interleave_set_defaults (GstLlavaInterleave *self)
{
  self->device = DEFAULT_DEVICE;
  self->precision = DEFAULT_PRECISION;
  self->prompt = g_strdup (DEFAULT_PROMPT);
  self->n_frames = DEFAULT_N_FRAMES;
  self->window_duration = DEFAULT_WINDOW_DURATION;
  self->window_stride = DEFAULT_WINDOW_STRIDE;
  self->mode = DEFAULT_MODE;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->max_new_tokens = DEFAULT_MAX_NEW_TOKENS;
  self->temperature = DEFAULT_TEMPERATURE;
  self->top_k = DEFAULT_TOP_K;
  self->top_p = DEFAULT_TOP_P;
  self->seed = DEFAULT_SEED;
}

/* ---- installation ---- */

#define RW_PLAYING (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS \
    | GST_PARAM_MUTABLE_PLAYING)
#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS \
    | GST_PARAM_MUTABLE_READY)
#define RO (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

void
gst_llava_interleave_install_properties (GObjectClass *gobject_class)
{
  gobject_class->set_property = gst_llava_interleave_set_property;
  gobject_class->get_property = gst_llava_interleave_get_property;

  /**
   * GstLlavaInterleave:model:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Directory of a llava-interleave model in Hugging Face layout "
          "(config.json, model.safetensors, tokenizer files); loaded on "
          "NULL→READY (again on READY→PAUSED when changed in READY)", NULL,
          RW_READY));
  /**
   * GstLlavaInterleave:device:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_int ("device", "Device",
          "Vulkan physical device index; -1: the LLAVA_VK_DEVICE environment "
          "variable, else discrete > integrated > CPU", -1, G_MAXINT16,
          DEFAULT_DEVICE, RW_READY));
  /**
   * GstLlavaInterleave:precision:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Weight precision on the device", GST_TYPE_LLAVA_PRECISION,
          DEFAULT_PRECISION, RW_READY));
  /**
   * GstLlavaInterleave:prompt:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt",
          "What to ask about each window (after its frames); a change "
          "applies from the next window", DEFAULT_PROMPT, RW_PLAYING));
  /**
   * GstLlavaInterleave:system-prompt:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SYSTEM_PROMPT,
      g_param_spec_string ("system-prompt", "System prompt",
          "System turn of the chat template; NULL: none (the llava-hf "
          "template); a change applies from the next window", NULL,
          RW_PLAYING));
  /**
   * GstLlavaInterleave:frames-per-window:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_PER_WINDOW,
      g_param_spec_uint ("frames-per-window", "Frames per window",
          "Frames sampled from each window, uniformly in time (constant "
          "frame rate: np.linspace over the window's frames); a window "
          "with fewer frames uses all",
          1, LLAVA_SAMPLER_MAX_FRAMES, DEFAULT_N_FRAMES, RW_READY));
  /**
   * GstLlavaInterleave:window-duration:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW_DURATION,
      g_param_spec_uint64 ("window-duration", "Window duration",
          "Length of a window in nanoseconds of PTS", GST_MSECOND,
          MAX_WINDOW_DURATION, DEFAULT_WINDOW_DURATION, RW_READY));
  /**
   * GstLlavaInterleave:window-stride:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW_STRIDE,
      g_param_spec_uint64 ("window-stride", "Window stride",
          "Nanoseconds from one window's start to the next; 0: equal to "
          "window-duration; smaller: overlapping windows (at most 32 "
          "overlap); larger: gaps between windows", 0, MAX_WINDOW_DURATION,
          DEFAULT_WINDOW_STRIDE, RW_READY | GST_PARAM_DOC_SHOW_DEFAULT));
  /**
   * GstLlavaInterleave:mode:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "live: drop windows rather than hold back the video; file: "
          "describe every window, holding back upstream when needed",
          GST_TYPE_LLAVA_MODE, DEFAULT_MODE, RW_READY));
  /**
   * GstLlavaInterleave:max-pending-windows:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_PENDING_WINDOWS,
      g_param_spec_uint ("max-pending-windows", "Max pending windows",
          "Windows that may wait for the model besides the one it works on; "
          "live mode drops (and counts) windows beyond, file mode waits",
          1, 1000, DEFAULT_MAX_PENDING, RW_PLAYING));
  /**
   * GstLlavaInterleave:max-new-tokens:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_NEW_TOKENS,
      g_param_spec_uint ("max-new-tokens", "Max new tokens",
          "Longest answer, in tokens", 1, 4096, DEFAULT_MAX_NEW_TOKENS,
          RW_PLAYING));
  /**
   * GstLlavaInterleave:temperature:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TEMPERATURE,
      g_param_spec_float ("temperature", "Temperature",
          "Sampling temperature; 0: greedy (always the most likely token)",
          0.0f, 10.0f, DEFAULT_TEMPERATURE, RW_PLAYING));
  /**
   * GstLlavaInterleave:top-k:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Sample among the k most likely tokens; 0: no limit (temperature "
          "> 0 only)", 0, G_MAXINT32, DEFAULT_TOP_K, RW_PLAYING));
  /**
   * GstLlavaInterleave:top-p:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TOP_P,
      g_param_spec_float ("top-p", "Top p",
          "Sample among the most likely tokens whose probabilities add up to "
          "p; 1: no limit (temperature > 0 only)", 0.0f, 1.0f, DEFAULT_TOP_P,
          RW_PLAYING));
  /**
   * GstLlavaInterleave:seed:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Random seed for sampling (temperature > 0)", 0, G_MAXUINT64,
          DEFAULT_SEED, RW_PLAYING));
  /**
   * GstLlavaInterleave:windows-processed:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS_PROCESSED,
      g_param_spec_uint64 ("windows-processed", "Windows processed",
          "Windows described since the stream started", 0, G_MAXUINT64, 0,
          RO));
  /**
   * GstLlavaInterleave:windows-dropped:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS_DROPPED,
      g_param_spec_uint64 ("windows-dropped", "Windows dropped",
          "Windows dropped in live mode because the model was busy", 0,
          G_MAXUINT64, 0, RO));
  /**
   * GstLlavaInterleave:last-latency:
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LAST_LATENCY,
      g_param_spec_uint64 ("last-latency", "Last latency",
          "Nanoseconds from the end of the last described window to its "
          "text (waiting + inference); GST_CLOCK_TIME_NONE before the first",
          0, G_MAXUINT64, GST_CLOCK_TIME_NONE, RO));

  gst_type_mark_as_plugin_api (GST_TYPE_LLAVA_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LLAVA_PRECISION, 0);
}
