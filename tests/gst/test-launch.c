/* test-launch.c — llavainterleave in gst-launch pipelines (built with
 * gst_parse_launch): PNG sequence vs llava-run, Matroska subtitles written
 * and read back, SRT, a live source with a model slower than real time,
 * textoverlay, and the meta through converters. */
#include "gsttestutil.h"
#include "gstllavameta.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>

#define MS GST_MSECOND

static char *
model_props (void)
{
  return g_strdup_printf ("model=\"%s\" precision=f32", test_golden_dir ());
}

static char *
clip_src (void)
{
  return g_strdup_printf ("multifilesrc location=\"%s/window/clip_%%02d.png\" "
      "index=0 stop-index=29 caps=image/png,framerate=10/1 ! pngdec ! "
      "videoconvert", test_golden_dir ());
}

static GstElement *
launch (const char *fmt, ...)
{
  va_list ap;
  char *line;
  GError *err = NULL;
  GstElement *p;

  va_start (ap, fmt);
  line = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_message ("%s", line);
  p = gst_parse_launch (line, &err);
  g_assert_no_error (err);
  g_free (line);
  return p;
}

static guint64
frame_ts (const GstStructure *s, guint i)
{
  const GValue *a = gst_structure_get_value (s, "frame-timestamps");
  return g_value_get_uint64 (gst_value_array_get_value (a, i));
}

/* llava-run on the given clip frames; its "text". */
static char *
llava_run_text (const guint *idx, guint n)
{
  const char *run = g_getenv ("LLAVA_RUN");
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  char *out = NULL, *errout = NULL, *text;
  int status;
  GError *err = NULL;
  JsonParser *parser;

  g_assert_nonnull (run);
  g_ptr_array_add (argv, g_strdup (run));
  g_ptr_array_add (argv, g_strdup ("--model"));
  g_ptr_array_add (argv, g_strdup (test_golden_dir ()));
  for (guint i = 0; i < n; i++) {
    g_ptr_array_add (argv, g_strdup ("--frames"));
    g_ptr_array_add (argv, g_strdup_printf ("%s/window/clip_%02u.png",
            test_golden_dir (), idx[i]));
  }
  g_ptr_array_add (argv, g_strdup ("--prompt"));
  g_ptr_array_add (argv, g_strdup (CLIP_PROMPT));
  g_ptr_array_add (argv, g_strdup ("--max-new-tokens=12"));
  g_ptr_array_add (argv, g_strdup ("--precision=f32"));
  g_ptr_array_add (argv, g_strdup ("--json"));
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, 0, NULL,
          NULL, &out, &errout, &status, &err));
  g_assert_no_error (err);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("llava-run failed: %s", errout);
  parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, out, -1, &err));
  text = g_strdup (json_object_get_string_member (json_node_get_object
          (json_parser_get_root (parser)), "text"));
  g_object_unref (parser);
  g_ptr_array_unref (argv);
  g_free (out);
  g_free (errout);
  return text;
}

/* The pipeline: a PNG sequence at 10/1, 3 s windows, f32 — the text
 * equals llava-run's on the frames the element chose, which are
 * np.linspace (0, 29, 10). */
static void
test_png_sequence_matches_llava_run (void)
{
  static const guint want_idx[] = { 0, 3, 6, 9, 12, 16, 19, 22, 25, 29 };
  char *src = clip_src (), *mp = model_props (), *want;
  GstElement *p = launch ("%s ! llavainterleave %s window-duration=3000000000 "
      "max-new-tokens=12 ! fakesink", src, mp);
  GPtrArray *res = test_run_pipeline (p, 120);
  const GstStructure *s;
  guint idx[10];

  g_assert_cmpuint (res->len, ==, 1);
  s = res->pdata[0];
  for (guint i = 0; i < 10; i++) {
    idx[i] = frame_ts (s, i) / (100 * MS);
    g_assert_cmpuint (idx[i], ==, want_idx[i]);
  }
  want = llava_run_text (idx, 10);
  g_test_message ("element: \"%s\"  llava-run: \"%s\"",
      gst_structure_get_string (s, "text"), want);
  g_assert_cmpstr (gst_structure_get_string (s, "text"), ==, want);
  g_free (want);
  g_ptr_array_unref (res);
  gst_object_unref (p);
  g_free (src);
  g_free (mp);
}

/* Text as a Matroska subtitle track (S_TEXT/UTF8) next to the video,
 * written and read back with the windows' timestamps. */
static void
test_matroska_subtitles (void)
{
  char *dir = g_dir_make_tmp ("llava-mkv-XXXXXX", NULL);
  char *path = g_build_filename (dir, "out.mkv", NULL);
  char *src = clip_src (), *mp = model_props ();
  GstElement *p;
  GPtrArray *res;
  GstElement *sink;
  GstSample *smp;
  guint n = 0;

  p = launch ("%s ! llavainterleave name=l %s window-duration=1000000000 "
      "frames-per-window=4 max-new-tokens=6 ! "
      "queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! "
      "jpegenc ! matroskamux name=mux ! filesink location=\"%s\" "
      "l.text_src ! queue ! mux.subtitle_%%u", src, mp, path);
  res = test_run_pipeline (p, 120);
  gst_object_unref (p);
  g_assert_cmpuint (res->len, ==, 3);

  p = launch ("filesrc location=\"%s\" ! matroskademux name=d "
      "d.subtitle_0 ! appsink name=s sync=false", path);
  sink = gst_bin_get_by_name (GST_BIN (p), "s");
  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  for (;; n++) {
    GstBuffer *b;
    GstMapInfo map;
    const GstStructure *s;
    char *got, *want_escaped;
    const char *want;
    smp = NULL;
    g_signal_emit_by_name (sink, "pull-sample", &smp);
    if (!smp)
      break;
    g_assert_cmpuint (n, <, res->len);
    s = res->pdata[n];
    want = gst_structure_get_string (s, "text");
    b = gst_sample_get_buffer (smp);
    g_assert_true (gst_buffer_map (b, &map, GST_MAP_READ));
    got = g_strndup ((const char *) map.data, map.size);
    gst_buffer_unmap (b, &map);
    /* matroskademux hands S_TEXT/UTF8 out as pango-markup, escaped */
    want_escaped = g_markup_escape_text (want, -1);
    g_test_message ("window %u: \"%s\"", n, got);
    g_assert_true (g_strcmp0 (got, want) == 0
        || g_strcmp0 (got, want_escaped) == 0);
    /* Matroska keeps milliseconds */
    g_assert_cmpuint (GST_BUFFER_PTS (b) / MS, ==, n * 1000);
    g_assert_cmpuint (GST_BUFFER_DURATION (b) / MS, ==, 1000);
    g_free (got);
    g_free (want_escaped);
    gst_sample_unref (smp);
  }
  g_assert_cmpuint (n, ==, res->len);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_ptr_array_unref (res);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  g_free (src);
  g_free (mp);
}

/* The tag before EOS reaches a file: qtmux writes GST_TAG_DESCRIPTION
 * (as ©des), qtdemux reads it back = the last window's text. */
static void
test_mov_description_tag (void)
{
  char *dir = g_dir_make_tmp ("llava-mov-XXXXXX", NULL);
  char *path = g_build_filename (dir, "out.mov", NULL);
  char *src = clip_src (), *mp = model_props ();
  GstElement *p;
  GPtrArray *res;
  GstBus *bus;
  GstMessage *msg;
  gchar *desc = NULL;
  const char *last;

  p = launch ("%s ! llavainterleave %s window-duration=2000000000 "
      "frames-per-window=3 max-new-tokens=5 ! jpegenc ! qtmux ! "
      "filesink location=\"%s\"", src, mp, path);
  res = test_run_pipeline (p, 120);
  gst_object_unref (p);
  g_assert_cmpuint (res->len, ==, 2);
  last = gst_structure_get_string (res->pdata[1], "text");

  p = launch ("filesrc location=\"%s\" ! qtdemux ! fakesink", path);
  bus = gst_element_get_bus (p);
  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  while (!desc && (msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
              GST_MESSAGE_TAG | GST_MESSAGE_EOS | GST_MESSAGE_ERROR))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_TAG) {
      GstTagList *tags;
      gst_message_parse_tag (msg, &tags);
      gst_tag_list_get_string (tags, GST_TAG_DESCRIPTION, &desc);
      gst_tag_list_unref (tags);
    } else {
      gst_message_unref (msg);
      break;
    }
    gst_message_unref (msg);
  }
  g_test_message ("description: \"%s\", last text: \"%s\"", desc, last);
  g_assert_cmpstr (desc, ==, last);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  g_ptr_array_unref (res);
  g_unlink (path);
  g_rmdir (dir);
  g_free (desc);
  g_free (path);
  g_free (dir);
  g_free (src);
  g_free (mp);
}

/* The texts as an SRT file (srtenc), one cue per window. */
static void
test_srt_subtitles (void)
{
  char *dir = g_dir_make_tmp ("llava-srt-XXXXXX", NULL);
  char *path = g_build_filename (dir, "out.srt", NULL);
  char *src = clip_src (), *mp = model_props (), *srt = NULL;
  GstElement *p;
  GPtrArray *res;

  p = launch ("%s ! llavainterleave name=l %s window-duration=1500000000 "
      "frames-per-window=3 max-new-tokens=5 ! fakesink "
      "l.text_src ! queue ! srtenc ! filesink location=\"%s\"", src, mp, path);
  res = test_run_pipeline (p, 120);
  gst_object_unref (p);
  g_assert_cmpuint (res->len, ==, 2);
  g_assert_true (g_file_get_contents (path, &srt, NULL, NULL));
  g_test_message ("%s", srt);
  g_assert_true (strstr (srt, "00:00:00,000 --> 00:00:01,500"));
  g_assert_true (strstr (srt, "00:00:01,500 --> 00:00:03,000"));
  for (guint i = 0; i < res->len; i++) {
    const char *t = gst_structure_get_string (res->pdata[i], "text");
    char *line = g_strstrip (g_strdup (t));
    if (line[0])
      g_assert_true (strstr (srt, line));
    g_free (line);
  }
  g_ptr_array_unref (res);
  g_unlink (path);
  g_rmdir (dir);
  g_free (srt);
  g_free (path);
  g_free (dir);
  g_free (src);
  g_free (mp);
}

/* A live source and a model slower than real time (one 50 ms window per
 * frame): the video keeps its rate, windows are dropped and counted, and
 * the unlinked text pad stops nothing. */
typedef struct {
  GArray *arrivals;             /* gint64 µs */
} Arrivals;

static void
on_handoff (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  Arrivals *a = data;
  gint64 now = g_get_monotonic_time ();
  g_array_append_val (a->arrivals, now);
}

static void
test_live_source_drops (void)
{
  char *mp = model_props ();
  GstElement *p = launch ("videotestsrc is-live=true num-buffers=40 ! "
      "video/x-raw,format=RGB,width=160,height=120,framerate=20/1 ! "
      "llavainterleave name=l %s window-duration=50000000 frames-per-window=1 "
      "max-pending-windows=1 max-new-tokens=4 ! "
      "fakesink name=vs sync=true signal-handoffs=true", mp);
  GstElement *l = gst_bin_get_by_name (GST_BIN (p), "l");
  GstElement *vs = gst_bin_get_by_name (GST_BIN (p), "vs");
  Arrivals a = { g_array_new (FALSE, FALSE, sizeof (gint64)) };
  GPtrArray *res;
  guint64 processed, dropped;
  gint64 max_gap = 0, span;

  g_signal_connect (vs, "handoff", G_CALLBACK (on_handoff), &a);
  res = test_run_pipeline (p, 60);
  /* stats stay readable after the run (reset at the next start) */
  g_object_get (l, "windows-processed", &processed, "windows-dropped",
      &dropped, NULL);
  for (guint i = 1; i < a.arrivals->len; i++)
    max_gap = MAX (max_gap, g_array_index (a.arrivals, gint64, i)
        - g_array_index (a.arrivals, gint64, i - 1));
  span = g_array_index (a.arrivals, gint64, a.arrivals->len - 1)
      - g_array_index (a.arrivals, gint64, 0);
  g_test_message ("%u buffers over %" G_GINT64_FORMAT " ms, largest gap %"
      G_GINT64_FORMAT " ms; windows processed %" G_GUINT64_FORMAT
      ", dropped %" G_GUINT64_FORMAT, a.arrivals->len, span / 1000,
      max_gap / 1000, processed, dropped);
  g_assert_cmpuint (a.arrivals->len, ==, 40);
  /* 20 fps: 39 periods of 50 ms; a stall for one generation would show */
  g_assert_cmpint (span, <, 2600 * 1000);
  g_assert_cmpint (max_gap, <, 200 * 1000);
  g_assert_cmpuint (processed + dropped, ==, 40);
  g_assert_cmpuint (dropped, >, 0);
  g_assert_cmpuint (processed, >=, 1);
  g_assert_cmpuint (res->len, ==, processed);
  g_array_free (a.arrivals, TRUE);
  g_ptr_array_unref (res);
  gst_object_unref (l);
  gst_object_unref (vs);
  gst_object_unref (p);
  g_free (mp);
}

/* The README pipeline: text over the video with textoverlay.  The video
 * waits in a queue for the text of its window, so every frame of a window
 * with text gets it: on black frames, pixels that are not black. */
typedef struct {
  guint n_frames, n_with_text;
} Lit;

static GstFlowReturn
on_new_sample (GstElement *sink, gpointer data)
{
  Lit *lit = data;
  GstSample *smp = NULL;
  GstMapInfo map;
  gboolean any = FALSE;

  g_signal_emit_by_name (sink, "pull-sample", &smp);
  if (!smp)
    return GST_FLOW_EOS;
  g_assert_true (gst_buffer_map (gst_sample_get_buffer (smp), &map,
          GST_MAP_READ));
  for (gsize i = 0; i < map.size && !any; i++)
    any = map.data[i] != 0;
  gst_buffer_unmap (gst_sample_get_buffer (smp), &map);
  lit->n_frames++;
  lit->n_with_text += any;
  gst_sample_unref (smp);
  return GST_FLOW_OK;
}

static void
test_textoverlay (void)
{
  GstElementFactory *f = gst_element_factory_find ("textoverlay");
  char *mp = model_props ();
  GstElement *p, *sink;
  GPtrArray *res;
  Lit lit = { 0, 0 };
  guint want = 0;

  if (!f) {
    g_test_skip ("textoverlay not installed (Debian: gstreamer1.0-x)");
    g_free (mp);
    return;
  }
  gst_object_unref (f);
  p = launch ("videotestsrc num-buffers=30 pattern=black ! "
      "video/x-raw,format=RGB,width=160,height=120,framerate=10/1 ! "
      "llavainterleave name=l %s window-duration=1000000000 "
      "frames-per-window=2 max-new-tokens=4 ! "
      "queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! "
      "textoverlay name=o wait-text=true ! videoconvert ! "
      "video/x-raw,format=RGB ! appsink name=s sync=false emit-signals=true "
      "l.text_src ! queue ! o.text_sink", mp);
  sink = gst_bin_get_by_name (GST_BIN (p), "s");
  g_signal_connect (sink, "new-sample", G_CALLBACK (on_new_sample), &lit);
  res = test_run_pipeline (p, 60);
  g_assert_cmpuint (res->len, ==, 3);
  g_test_message ("%u of %u frames carry text", lit.n_with_text,
      lit.n_frames);
  g_assert_cmpuint (lit.n_frames, ==, 30);
  /* every window with a non-blank text paints all its 10 frames */
  for (guint i = 0; i < res->len; i++) {
    char *t = g_strstrip (g_strdup (gst_structure_get_string (res->pdata[i],
                "text")));
    want += t[0] ? 10 : 0;
    g_free (t);
  }
  g_assert_cmpuint (want, >, 0);
  g_assert_cmpuint (lit.n_with_text, >=, want);
  gst_object_unref (sink);
  g_ptr_array_unref (res);
  gst_object_unref (p);
  g_free (mp);
}

/* GstLlavaTextMeta has no tags: videoconvert and videoscale keep it. */
static void
test_meta_survives_converters (void)
{
  char *mp = model_props ();
  GstElement *p = launch ("videotestsrc num-buffers=60 ! "
      "video/x-raw,format=RGB,width=160,height=120,framerate=10/1 ! "
      "llavainterleave %s mode=file window-duration=500000000 "
      "frames-per-window=2 max-new-tokens=3 max-pending-windows=1 ! "
      "videoconvert ! videoscale ! video/x-raw,format=I420,width=80,height=60 ! "
      "appsink name=s sync=false", mp);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "s");
  GstSample *smp;
  guint n_meta = 0, n_buffers = 0;

  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstLlavaTextMeta *m;
    gpointer state = NULL;
    smp = NULL;
    g_signal_emit_by_name (sink, "pull-sample", &smp);
    if (!smp)
      break;
    n_buffers++;
    while ((m = (GstLlavaTextMeta *) gst_buffer_iterate_meta_filtered
            (gst_sample_get_buffer (smp), &state,
                GST_LLAVA_TEXT_META_API_TYPE))) {
      g_assert_nonnull (m->text);
      g_assert_cmpuint (m->n_frames, ==, 2);
      g_assert_cmpuint (m->window_end - m->window_start, ==, 500 * MS);
      /* a window is described after it ends */
      g_assert_cmpuint (GST_BUFFER_PTS (gst_sample_get_buffer (smp)), >=,
          m->window_end);
      n_meta++;
    }
    gst_sample_unref (smp);
  }
  g_test_message ("%u of 12 results rode on video buffers", n_meta);
  g_assert_cmpuint (n_buffers, ==, 60);
  g_assert_cmpuint (n_meta, >=, 1);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (mp);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  test_require_element ();

  g_test_add_func ("/launch/png-sequence-matches-llava-run",
      test_png_sequence_matches_llava_run);
  g_test_add_func ("/launch/matroska-subtitles", test_matroska_subtitles);
  g_test_add_func ("/launch/srt-subtitles", test_srt_subtitles);
  g_test_add_func ("/launch/mov-description-tag", test_mov_description_tag);
  g_test_add_func ("/launch/live-source-drops", test_live_source_drops);
  g_test_add_func ("/launch/textoverlay", test_textoverlay);
  g_test_add_func ("/launch/meta-survives-converters",
      test_meta_survives_converters);
  ret = g_test_run ();
  test_util_cleanup ();
  return ret;
}
