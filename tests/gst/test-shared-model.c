/* test-shared-model.c — two llavainterleave elements in one process: with
 * the same model directory, device and precision they share one loaded
 * LlavaModel (each with its own session) and both describe their windows;
 * with different precisions (f32, f16) two models live side by side; the
 * model is unloaded when its last element goes to NULL.
 *
 * Sharing is observed through the INFO lines of the model cache
 * ("model cache: loaded / sharing / unloaded …", category llavainterleave),
 * caught with a log function. */
#include "gsttestutil.h"

#include <string.h>

#define MAX_TOKENS 8

static GMutex log_lock;
static guint n_loaded, n_sharing, n_unloaded;

static void
count_cache_lines (GstDebugCategory *cat, GstDebugLevel level,
    const gchar *file, const gchar *function, gint line, GObject *object,
    GstDebugMessage *message, gpointer user_data)
{
  const gchar *text;

  if (level != GST_LEVEL_INFO
      || strcmp (gst_debug_category_get_name (cat), "llavainterleave") != 0)
    return;
  text = gst_debug_message_get (message);
  g_mutex_lock (&log_lock);
  if (g_str_has_prefix (text, "model cache: loaded "))
    n_loaded++;
  else if (g_str_has_prefix (text, "model cache: sharing "))
    n_sharing++;
  else if (g_str_has_prefix (text, "model cache: unloaded "))
    n_unloaded++;
  g_mutex_unlock (&log_lock);
}

static void
reset_counts (void)
{
  g_mutex_lock (&log_lock);
  n_loaded = n_sharing = n_unloaded = 0;
  g_mutex_unlock (&log_lock);
}

static void
assert_counts (guint loaded, guint sharing, guint unloaded)
{
  g_mutex_lock (&log_lock);
  g_assert_cmpuint (n_loaded, ==, loaded);
  g_assert_cmpuint (n_sharing, ==, sharing);
  g_assert_cmpuint (n_unloaded, ==, unloaded);
  g_mutex_unlock (&log_lock);
}

/* The golden clip (30 frames at 10 fps) tee'd into two llavainterleave
 * elements a and b with their own settings. */
static GstElement *
tee_pipeline (const char *props_a, const char *props_b)
{
  char *line = g_strdup_printf ("multifilesrc "
      "location=\"%s/window/clip_%%02d.png\" index=0 stop-index=%d "
      "caps=image/png,framerate=10/1 ! pngdec ! videoconvert ! tee name=t "
      "t. ! queue ! llavainterleave name=a model=\"%s\" max-new-tokens=%d %s "
      "! fakesink "
      "t. ! queue ! llavainterleave name=b model=\"%s\" max-new-tokens=%d %s "
      "! fakesink", test_golden_dir (), CLIP_FRAMES - 1, test_golden_dir (),
      MAX_TOKENS, props_a, test_golden_dir (), MAX_TOKENS, props_b);
  GError *err = NULL;
  GstElement *p;

  g_test_message ("%s", line);
  p = gst_parse_launch (line, &err);
  g_assert_no_error (err);
  g_free (line);
  return p;
}

/* The results whose prompt is `prompt`, in order (owned by `all`). */
static GPtrArray *
results_for (GPtrArray *all, const char *prompt)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < all->len; i++) {
    const GstStructure *s = all->pdata[i];
    if (g_strcmp0 (gst_structure_get_string (s, "prompt"), prompt) == 0)
      g_ptr_array_add (out, all->pdata[i]);
  }
  return out;
}

/* Runs tee_pipeline (props_a, props_b) to EOS and NULL; the "llava-result"
 * structures of a (asked prompt_a) and of b (prompt_b).  Returns all of
 * them, which owns the structures. */
static GPtrArray *
run_tee (const char *props_a, const char *prompt_a, const char *props_b,
    const char *prompt_b, GPtrArray **a, GPtrArray **b)
{
  char *pa = g_strdup_printf ("%s prompt=\"%s\"", props_a, prompt_a);
  char *pb = g_strdup_printf ("%s prompt=\"%s\"", props_b, prompt_b);
  GstElement *p = tee_pipeline (pa, pb);
  GPtrArray *all;

  reset_counts ();
  all = test_run_pipeline (p, 240);     /* ends in NULL */
  *a = results_for (all, prompt_a);
  *b = results_for (all, prompt_b);
  gst_object_unref (p);
  g_free (pa);
  g_free (pb);
  return all;
}

static void
assert_text (const GstStructure *s, const guint *idx, guint n,
    const char *prompt)
{
  char *want = test_engine_text (idx, n, MAX_TOKENS, prompt);

  g_assert_cmpstr (gst_structure_get_string (s, "text"), ==, want);
  g_free (want);
}

#define PROMPT_A "Describe what happens in this video."
#define PROMPT_B "What is the main object?"

/* One tee'd stream, two prompts and window lengths, one model: a has one
 * 3 s window (frames linspace(0, 29, 10)), b three 1 s windows (all 10
 * frames each); every text is the engine's on the same frames; the model
 * is loaded once, shared once, unloaded once. */
static void
test_same_model_shared (void)
{
  static const guint a_idx[] = { 0, 3, 6, 9, 12, 16, 19, 22, 25, 29 };
  GPtrArray *a, *b;
  GPtrArray *all = run_tee ("precision=f32 window-duration=3000000000",
      PROMPT_A, "precision=f32 window-duration=1000000000", PROMPT_B, &a, &b);

  assert_counts (1, 1, 1);
  g_assert_cmpuint (a->len, ==, 1);
  g_assert_cmpuint (b->len, ==, 3);
  assert_text (a->pdata[0], a_idx, G_N_ELEMENTS (a_idx), PROMPT_A);
  for (guint w = 0; w < 3; w++) {
    guint idx[10];
    guint64 start;
    for (guint i = 0; i < 10; i++)
      idx[i] = w * 10 + i;
    g_assert_true (gst_structure_get_uint64 (b->pdata[w], "window-start",
            &start));
    g_assert_cmpuint (start, ==, w * GST_SECOND);
    assert_text (b->pdata[w], idx, 10, PROMPT_B);
  }
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);
  g_ptr_array_unref (all);
}

/* f32 and f16 in one process: two models, both describe the window; the
 * f32 one says exactly what the engine says at f32. */
static void
test_two_precisions (void)
{
  static const guint idx[] = { 0, 3, 6, 9, 12, 16, 19, 22, 25, 29 };
  GPtrArray *a, *b;
  GPtrArray *all = run_tee ("precision=f32 window-duration=3000000000",
      PROMPT_A, "precision=f16 window-duration=3000000000", PROMPT_B, &a, &b);
  guint tokens = 0;

  assert_counts (2, 0, 2);
  g_assert_cmpuint (a->len, ==, 1);
  g_assert_cmpuint (b->len, ==, 1);
  assert_text (a->pdata[0], idx, G_N_ELEMENTS (idx), PROMPT_A);
  g_assert_true (gst_structure_get_uint (b->pdata[0], "generated-tokens",
          &tokens));
  g_assert_cmpuint (tokens, >, 0);
  g_assert_cmpuint (tokens, <=, MAX_TOKENS);
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);
  g_ptr_array_unref (all);
}

static GstElement *
make_element (const char *model, const char *precision, guint frames)
{
  GstElement *e = gst_element_factory_make ("llavainterleave", NULL);

  g_assert_nonnull (e);
  g_object_set (e, "model", model, "frames-per-window", frames, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "precision", precision);
  return e;
}

static void
set_state (GstElement *e, GstState state)
{
  g_assert_cmpint (gst_element_set_state (e, state), ==,
      GST_STATE_CHANGE_SUCCESS);
}

/* The model stays while one element still uses it and goes with the last;
 * another spelling of the same directory shares it; a larger frame budget
 * (a longer context) is another model. */
static void
test_lifetime (void)
{
  char *dot = g_build_filename (test_golden_dir (), ".", NULL);
  GstElement *e1 = make_element (test_golden_dir (), "f32", 10);
  GstElement *e2 = make_element (dot, "f32", 10);
  GstElement *e3 = make_element (test_golden_dir (), "f32", 20);

  reset_counts ();
  set_state (e1, GST_STATE_READY);
  set_state (e2, GST_STATE_READY);
  assert_counts (1, 1, 0);
  set_state (e3, GST_STATE_READY);
  assert_counts (2, 1, 0);
  set_state (e1, GST_STATE_NULL);
  assert_counts (2, 1, 0);
  set_state (e3, GST_STATE_NULL);
  assert_counts (2, 1, 1);
  set_state (e2, GST_STATE_NULL);
  assert_counts (2, 1, 2);
  /* gone: the next element loads it again */
  set_state (e1, GST_STATE_READY);
  assert_counts (3, 1, 2);
  set_state (e1, GST_STATE_NULL);
  assert_counts (3, 1, 3);

  gst_object_unref (e1);
  gst_object_unref (e2);
  gst_object_unref (e3);
  g_free (dot);
}

static gpointer
to_ready (gpointer e)
{
  return GINT_TO_POINTER (gst_element_set_state (e, GST_STATE_READY));
}

/* Two elements going to READY at once from two threads: one loads, the
 * other waits for that load and shares it. */
static void
test_concurrent_load (void)
{
  GstElement *e[2];
  GThread *t[2];

  reset_counts ();
  for (guint i = 0; i < 2; i++)
    e[i] = make_element (test_golden_dir (), "f32", 10);
  for (guint i = 0; i < 2; i++)
    t[i] = g_thread_new ("to-ready", to_ready, e[i]);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (t[i])), ==,
        GST_STATE_CHANGE_SUCCESS);
  assert_counts (1, 1, 0);
  for (guint i = 0; i < 2; i++) {
    set_state (e[i], GST_STATE_NULL);
    gst_object_unref (e[i]);
  }
  assert_counts (1, 1, 1);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  test_require_element ();
  gst_debug_add_log_function (count_cache_lines, NULL, NULL);
  gst_debug_set_threshold_for_name ("llavainterleave", GST_LEVEL_INFO);

  g_test_add_func ("/shared-model/lifetime", test_lifetime);
  g_test_add_func ("/shared-model/concurrent-load", test_concurrent_load);
  g_test_add_func ("/shared-model/tee-two-prompts", test_same_model_shared);
  g_test_add_func ("/shared-model/f32-and-f16", test_two_precisions);
  ret = g_test_run ();
  test_util_cleanup ();
  return ret;
}
