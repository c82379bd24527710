/* gstllavamodel.c — loading the model of llavainterleave, and the cache that
 * lets elements share it.
 *
 * The cache is the one piece of process-wide state in the plugin, on
 * purpose: ARCHITECTURE.md wants a model loaded once and shared, and two
 * elements in one pipeline (a tee'd stream, two prompts) only know of each
 * other through the process.  It maps (canonical model path, device index,
 * precision, frame budget) to one LlavaModel with a count of users, so
 * different models (or one model at two precisions) live side by side, and
 * the model is unloaded when its last element goes to NULL.  The engine
 * serialises generation per model, so elements sharing one take turns;
 * each keeps its own LlavaSession. */
#define _DEFAULT_SOURCE         /* realpath */
#include "gstllavamodel.h"

#include <stdlib.h>

GST_DEBUG_CATEGORY_EXTERN (gst_llava_interleave_debug);
#define GST_CAT_DEFAULT gst_llava_interleave_debug

/* ---- the cache ---- */

typedef struct {
  gchar *path;                  /* canonical */
  gint device;
  LlavaPrecision precision;     /* as asked (AUTO stays AUTO) */
  guint max_frames;             /* sizes the context */
  LlavaModel *model;            /* the cache's reference; NULL while loading */
  guint users;
} CacheEntry;

static GMutex cache_lock;
static GCond cache_cond;        /* an entry finished loading or failed */
static GList *cache;            /* CacheEntry*, under cache_lock */

static void
cache_entry_free (CacheEntry *e)
{
  if (!e)
    return;
  g_free (e->path);
  g_free (e);
}

/* Symlinks and "a/../b" resolved, so two spellings of one directory share;
 * a path that does not resolve (missing) is kept as given, and the load
 * reports it. */
static gchar *
canonical_path (const char *path)
{
  char *real = realpath (path, NULL);
  gchar *out;

  if (!real)
    return g_canonicalize_filename (path, NULL);
  out = g_strdup (real);
  free (real);
  return out;
}

static CacheEntry *
cache_find_locked (const char *path, const LlavaModelOptions *opt)
{
  for (GList *l = cache; l; l = l->next) {
    CacheEntry *e = l->data;
    if (g_str_equal (e->path, path) && e->device == opt->device_index
        && e->precision == opt->precision
        && e->max_frames == opt->max_frames)
      return e;
  }
  return NULL;
}

LlavaModel *
gst_llava_model_cache_acquire (const char *path, const LlavaModelOptions *opt,
    gboolean *shared, GError **err)
{
  gchar *canon = canonical_path (path);
  CacheEntry *e;
  LlavaModel *m;

  *shared = FALSE;
  g_mutex_lock (&cache_lock);
  /* another element loading the same model: wait for it rather than load
   * a second copy; if its load fails the entry goes and we try ourselves
   * (and get our own error) */
  while ((e = cache_find_locked (canon, opt)) && !e->model)
    g_cond_wait (&cache_cond, &cache_lock);
  if (e) {
    e->users++;
    m = llava_model_ref (e->model);
    GST_INFO ("model cache: sharing %s (device %d, %s, %u frames): %u users",
        canon, opt->device_index, llava_precision_name (opt->precision),
        opt->max_frames, e->users);
    g_mutex_unlock (&cache_lock);
    g_free (canon);
    *shared = TRUE;
    return m;
  }
  e = g_new0 (CacheEntry, 1);
  e->path = canon;
  e->device = opt->device_index;
  e->precision = opt->precision;
  e->max_frames = opt->max_frames;
  cache = g_list_prepend (cache, e);
  g_mutex_unlock (&cache_lock);

  /* loading takes seconds: other models load meanwhile */
  m = llava_model_load (path, opt, err);

  g_mutex_lock (&cache_lock);
  if (m) {
    e->model = m;
    e->users = 1;
    m = llava_model_ref (m);
    GST_INFO ("model cache: loaded %s (device %d, %s, %u frames): 1 user",
        e->path, e->device, llava_precision_name (e->precision),
        e->max_frames);
  } else {
    cache = g_list_remove (cache, e);
    cache_entry_free (e);
  }
  g_cond_broadcast (&cache_cond);
  g_mutex_unlock (&cache_lock);
  return m;
}

void
gst_llava_model_cache_release (LlavaModel *m)
{
  CacheEntry *last = NULL;

  if (!m)
    return;
  g_mutex_lock (&cache_lock);
  for (GList *l = cache; l; l = l->next) {
    CacheEntry *e = l->data;
    if (e->model != m)
      continue;
    if (--e->users == 0) {
      cache = g_list_delete_link (cache, l);
      last = e;
    }
    break;
  }
  g_mutex_unlock (&cache_lock);

  llava_model_unref (m);
  if (last) {
    /* device memory freed outside the lock */
    GST_INFO ("model cache: unloaded %s (device %d, %s, %u frames)",
        last->path, last->device, llava_precision_name (last->precision),
        last->max_frames);
    llava_model_unref (last->model);
    cache_entry_free (last);
  }
}

/* ---- the element's model (NULL→READY / READY→NULL) ---- */

static void
load_progress (double fraction, const char *what, gpointer user_data)
{
  GstLlavaInterleave *self = user_data;
  gchar *text = g_strdup_printf ("%s (%d%%)", what ? what : "loading",
      (int) (fraction * 100.0 + 0.5));

  GstMessage *msg = gst_message_new_progress (GST_OBJECT (self),
      GST_PROGRESS_TYPE_CONTINUE, "load-model", text);

  gst_structure_set (gst_message_writable_structure (msg), "percent",
      G_TYPE_INT, CLAMP ((int) (fraction * 100.0 + 0.5), 0, 100), NULL);
  gst_element_post_message (GST_ELEMENT (self), msg);
  g_free (text);
}

gboolean
gst_llava_interleave_load_model (GstLlavaInterleave *self)
{
  LlavaModelOptions opt;
  GError *err = NULL;
  gchar *path;
  gchar *text;
  gboolean shared;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  llava_model_options_init (&opt);
  opt.device_index = self->device;
  opt.precision = self->precision;
  opt.max_frames = MAX (16, self->n_frames);
  GST_OBJECT_UNLOCK (self);
  opt.progress = load_progress;
  opt.progress_data = self;

  if (!path || !path[0]) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No model set: the \"model\" property must name a "
            "llava-interleave model directory"), (NULL));
    g_free (path);
    return FALSE;
  }

  text = g_strdup_printf ("Loading model %s", path);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), GST_PROGRESS_TYPE_START,
          "load-model", text));
  g_free (text);

  self->model = gst_llava_model_cache_acquire (path, &opt, &shared, &err);
  if (self->model)
    self->session = llava_session_new (self->model, NULL, &err);
  if (!self->session) {
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_progress (GST_OBJECT (self), GST_PROGRESS_TYPE_ERROR,
            "load-model", err ? err->message : "failed"));
    if (g_error_matches (err, LLAVA_ERROR, LLAVA_ERROR_FILE))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Could not load the model \"%s\": %s", path, err->message),
          ("llava_model_load failed"));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not load the model \"%s\": %s", path,
              err ? err->message : "unknown error"),
          ("llava_model_load / llava_session_new failed"));
    g_clear_error (&err);
    g_clear_pointer (&self->model, gst_llava_model_cache_release);
    g_free (path);
    return FALSE;
  }
  self->model_max_frames = opt.max_frames;
  self->model_dirty = FALSE;

  {
    const LlavaModelInfo *mi = llava_model_get_info (self->model);
    text = g_strdup_printf ("Loaded %s (%s, %s%s)", path,
        mi->device ? mi->device : "?", llava_precision_name (mi->precision),
        shared ? ", shared with another element" : "");
    GST_INFO_OBJECT (self, "%s", text);
  }
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self),
          GST_PROGRESS_TYPE_COMPLETE, "load-model", text));
  g_free (text);
  g_free (path);
  return TRUE;
}

void
gst_llava_interleave_release_model (GstLlavaInterleave *self)
{
  g_clear_pointer (&self->session, llava_session_free);
  g_clear_pointer (&self->model, gst_llava_model_cache_release);
}
