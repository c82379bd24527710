/* test-element.c — llavainterleave in a GstHarness with the golden tiny
 * model: windows, sampling, overlap, EOS drain, flush, live drops and
 * stats, latency, formats, caps changes, failures, the four outputs. */
#include "gsttestutil.h"
#include "gstllavameta.h"

#include <gst/check/gstharness.h>
#include <string.h>

#define MS GST_MSECOND
#define FRAME (100 * MS)        /* the clip runs at 10 fps */

static const guint linspace_30_10[] = { 0, 3, 6, 9, 12, 16, 19, 22, 25, 29 };

/* ---- helpers ---- */

/* An element with the golden model, f32, 12 tokens, then "k=v" pairs. */
static GstElement *
make_element (const char *first_prop, ...)
{
  GstElement *e = gst_element_factory_make ("llavainterleave", NULL);
  va_list ap;

  g_assert_nonnull (e);
  g_object_set (e, "model", test_golden_dir (), "max-new-tokens", 12, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "precision", "f32");
  va_start (ap, first_prop);
  for (const char *kv = first_prop; kv; kv = va_arg (ap, const char *)) {
    char **p = g_strsplit (kv, "=", 2);
    gst_util_set_object_arg (G_OBJECT (e), p[0], p[1]);
    g_strfreev (p);
  }
  va_end (ap);
  return e;
}

typedef struct {
  GstHarness *h;                /* video sink → element → video src */
  GstHarness *ht;               /* element text_src → harness */
  GstBus *bus;
} Rig;

static void
rig_init (Rig *r, GstElement *e, const char *caps)
{
  r->bus = gst_bus_new ();
  gst_element_set_bus (e, r->bus);
  r->h = gst_harness_new_with_element (e, "sink", "src");
  r->ht = gst_harness_new_with_element (e, NULL, "text_src");
  gst_object_unref (e);
  if (caps)
    gst_harness_set_src_caps_str (r->h, caps);
}

static void
rig_clear (Rig *r)
{
  /* queued messages hold the element: drop them, and later ones */
  gst_bus_set_flushing (r->bus, TRUE);
  gst_harness_teardown (r->ht);
  gst_harness_teardown (r->h);
  gst_object_unref (r->bus);
}

static const char *
caps_of (GPtrArray *clip, int fps_n)
{
  static char buf[2048];
  GstCaps *c = gst_caps_copy (gst_sample_get_caps (clip->pdata[0]));
  char *s;
  gst_caps_set_simple (c, "framerate", GST_TYPE_FRACTION, fps_n, 1, NULL);
  s = gst_caps_to_string (c);
  g_assert_cmpuint (g_strlcpy (buf, s, sizeof (buf)), <, sizeof (buf));
  g_free (s);
  gst_caps_unref (c);
  return buf;
}

static gint64
push_frame (Rig *r, GPtrArray *clip, guint i, GstClockTime pts)
{
  GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (clip->pdata[i
              % clip->len]));
  gint64 t0 = g_get_monotonic_time ();
  GST_BUFFER_PTS (b) = pts;
  GST_BUFFER_DTS (b) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (b) = FRAME;
  g_assert_cmpint (gst_harness_push (r->h, b), ==, GST_FLOW_OK);
  return g_get_monotonic_time () - t0;
}

static GstLlavaTextMeta *
text_meta (GstBuffer *b)
{
  GstLlavaTextMeta *m = gst_buffer_get_llava_text_meta (b);
  g_assert_nonnull (m);
  return m;
}

static char *
buffer_text (GstBuffer *b)
{
  GstMapInfo map;
  char *s;
  g_assert_true (gst_buffer_map (b, &map, GST_MAP_READ));
  s = g_strndup ((const char *) map.data, map.size);
  gst_buffer_unmap (b, &map);
  return s;
}

static void
assert_frames (const GstLlavaTextMeta *m, GstClockTime first,
    const guint *idx, guint n)
{
  g_assert_cmpuint (m->n_frames, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (m->frame_pts[i], ==, first + idx[i] * FRAME);
}

/* Pops events of the text harness until one of `type` (others skipped). */
static GstEvent *
pull_text_event (Rig *r, GstEventType type)
{
  GstEvent *ev;
  while ((ev = gst_harness_try_pull_event (r->ht))) {
    if (GST_EVENT_TYPE (ev) == type)
      return ev;
    gst_event_unref (ev);
  }
  return NULL;
}

static guint64
get_u64 (GstElement *e, const char *prop)
{
  guint64 v;
  g_object_get (e, prop, &v, NULL);
  return v;
}

/* ---- properties and states ---- */

static void
test_properties (void)
{
  GstElement *e = gst_element_factory_make ("llavainterleave", NULL);
  GstPad *pad;
  GParamSpec *ps;
  gchar *prompt, *model;
  guint n, pending, tokens;
  guint64 dur, stride;
  gfloat temp;

  g_object_get (e, "prompt", &prompt, "model", &model, "frames-per-window",
      &n, "window-duration", &dur, "window-stride", &stride,
      "max-pending-windows", &pending, "max-new-tokens", &tokens,
      "temperature", &temp, NULL);
  g_assert_cmpstr (prompt, ==, CLIP_PROMPT);
  g_assert_null (model);
  g_assert_cmpuint (n, ==, 10);
  g_assert_cmpuint (dur, ==, 10 * GST_SECOND);
  g_assert_cmpuint (stride, ==, 0);
  g_assert_cmpfloat (temp, ==, 0.0f);
  g_assert_cmpuint (get_u64 (e, "windows-processed"), ==, 0);
  g_assert_cmpuint (get_u64 (e, "last-latency"), ==, GST_CLOCK_TIME_NONE);

  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "prompt");
  g_assert_true (ps->flags & GST_PARAM_MUTABLE_PLAYING);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "model");
  g_assert_true (ps->flags & GST_PARAM_MUTABLE_READY);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
      "windows-dropped");
  g_assert_false (ps->flags & G_PARAM_WRITABLE);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "precision");
  g_assert_true (G_IS_PARAM_SPEC_ENUM (ps));
  g_assert_nonnull (g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM
          (ps)->enum_class, "q8_0"));
  pad = gst_element_get_static_pad (e, "text_src");
  g_assert_nonnull (pad);
  gst_object_unref (pad);
  g_free (prompt);
  g_free (model);
  gst_object_unref (e);
}

/* A model that cannot load fails NULL→READY with an error naming it. */
static void
test_missing_model (void)
{
  GstElement *e = gst_element_factory_make ("llavainterleave", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gboolean saw_start = FALSE, saw_error_progress = FALSE;

  gst_element_set_bus (e, bus);
  g_object_set (e, "model", "/nonexistent/llava-model", NULL);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_READY), ==,
      GST_STATE_CHANGE_FAILURE);
  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_PROGRESS) {
      GstProgressType t;
      gst_message_parse_progress (msg, &t, NULL, NULL);
      saw_start |= t == GST_PROGRESS_TYPE_START;
      saw_error_progress |= t == GST_PROGRESS_TYPE_ERROR;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_assert_null (err);
      gst_message_parse_error (msg, &err, NULL);
    }
    gst_message_unref (msg);
  }
  g_assert_nonnull (err);
  g_test_message ("error: %s", err->message);
  g_assert_true (strstr (err->message, "/nonexistent/llava-model"));
  g_assert_true (err->domain == GST_RESOURCE_ERROR);
  g_assert_true (saw_start && saw_error_progress);
  g_error_free (err);
  gst_bus_set_flushing (bus, TRUE);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
}

/* NULL→READY posts progress start … complete; model settings are refused
 * past READY. */
static void
test_load_progress (void)
{
  GstElement *e = make_element (NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GstProgressType last = GST_PROGRESS_TYPE_ERROR;
  guint n_progress = 0;

  gst_element_set_bus (e, bus);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_READY), ==,
      GST_STATE_CHANGE_SUCCESS);
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_PROGRESS))) {
    GstProgressType t;
    gst_message_parse_progress (msg, &t, NULL, NULL);
    if (n_progress++ == 0)
      g_assert_cmpint (t, ==, GST_PROGRESS_TYPE_START);
    last = t;
    gst_message_unref (msg);
  }
  g_assert_cmpint (last, ==, GST_PROGRESS_TYPE_COMPLETE);
  gst_bus_set_flushing (bus, TRUE);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==,
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (e);
  gst_object_unref (bus);
}

/* ---- windows and sampling ---- */

/* 31 frames at 10 fps, 3 s windows: frame 30 closes window 0, whose text
 * is the engine's on frames linspace(0, 29, 10); the meta rides on the next
 * video buffer; the text buffer has the window's PTS and duration. */
static void
test_constant_rate_linspace (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstBuffer *text, *video;
  GstLlavaTextMeta *m;
  char *want, *got;
  GstMessage *msg;

  rig_init (&r, make_element ("window-duration=3000000000", "mode=file",
          NULL), caps_of (clip, 10));
  for (guint i = 0; i <= 30; i++)
    push_frame (&r, clip, i, i * FRAME);
  text = gst_harness_pull (r.ht);       /* waits for the worker */
  g_assert_nonnull (text);
  g_assert_cmpuint (GST_BUFFER_PTS (text), ==, 0);
  g_assert_cmpuint (GST_BUFFER_DURATION (text), ==, 3 * GST_SECOND);
  got = buffer_text (text);
  want = test_engine_text (linspace_30_10, 10, 12, CLIP_PROMPT);
  g_test_message ("element: \"%s\"  engine: \"%s\"", got, want);
  g_assert_cmpstr (got, ==, want);
  m = text_meta (text);
  g_assert_cmpstr (m->text, ==, want);
  g_assert_cmpstr (m->prompt, ==, CLIP_PROMPT);
  g_assert_cmpuint (m->window_start, ==, 0);
  g_assert_cmpuint (m->window_end, ==, 3 * GST_SECOND);
  assert_frames (m, 0, linspace_30_10, 10);
  g_assert_cmpuint (m->n_generated_tokens, >, 0);
  g_assert_cmpuint (m->n_prompt_tokens, >, 10 * 16);

  /* video: 31 buffers out unchanged, none with a meta yet … */
  for (guint i = 0; i <= 30; i++) {
    video = gst_harness_pull (r.h);
    g_assert_cmpuint (GST_BUFFER_PTS (video), ==, i * FRAME);
    g_assert_null (gst_buffer_get_llava_text_meta (video));
    gst_buffer_unref (video);
  }
  /* … and the next one carries it */
  push_frame (&r, clip, 1, 31 * FRAME);
  video = gst_harness_pull (r.h);
  m = text_meta (video);
  g_assert_cmpstr (m->text, ==, want);
  assert_frames (m, 0, linspace_30_10, 10);
  gst_buffer_unref (video);

  /* the bus message says the same */
  msg = gst_bus_pop_filtered (r.bus, GST_MESSAGE_ELEMENT);
  g_assert_nonnull (msg);
  {
    const GstStructure *s = gst_message_get_structure (msg);
    const GValue *ts = gst_structure_get_value (s, "frame-timestamps");
    guint64 processed;
    g_assert_true (gst_structure_has_name (s, "llava-result"));
    g_assert_cmpstr (gst_structure_get_string (s, "text"), ==, want);
    g_assert_cmpuint (gst_value_array_get_size (ts), ==, 10);
    g_assert_cmpuint (g_value_get_uint64 (gst_value_array_get_value (ts, 5)),
        ==, 16 * FRAME);
    g_assert_true (gst_structure_get_uint64 (s, "windows-processed",
            &processed));
    g_assert_cmpuint (processed, ==, 1);
  }
  gst_message_unref (msg);
  g_assert_cmpuint (get_u64 (r.h->element, "windows-processed"), ==, 1);
  g_assert_cmpuint (get_u64 (r.h->element, "last-latency"), >, 0);

  g_free (got);
  g_free (want);
  gst_buffer_unref (text);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* framerate=0/1: latest frame at or before start + i·D/N — on the golden
 * clip that is frames 0,3,…,27, exactly the golden case, whose text the
 * Hugging Face implementation wrote. */
static void
test_variable_rate_golden (void)
{
  static const guint idx[] = { 0, 3, 6, 9, 12, 15, 18, 21, 24, 27 };
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstBuffer *text;
  char *got, *golden = test_golden_generated_text ();

  rig_init (&r, make_element ("window-duration=3000000000", "mode=file",
          NULL), caps_of (clip, 0));
  for (guint i = 0; i < 30; i++)
    push_frame (&r, clip, i, 5 * GST_SECOND + i * FRAME);
  gst_harness_push_event (r.h, gst_event_new_eos ());
  text = gst_harness_try_pull (r.ht);   /* EOS waited for it */
  g_assert_nonnull (text);
  got = buffer_text (text);
  g_test_message ("element: \"%s\"  golden: \"%s\"", got, golden);
  g_assert_cmpstr (got, ==, golden);
  assert_frames (text_meta (text), 5 * GST_SECOND, idx, 10);
  g_assert_cmpuint (GST_BUFFER_PTS (text), ==, 5 * GST_SECOND);
  g_free (got);
  g_free (golden);
  gst_buffer_unref (text);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* stride 1.5 s over 3 s windows, 45 frames, EOS: windows [0,3), [1.5,4.5)
 * and the partial [3,4.5), texts in order, each with its own frames. */
static void
test_overlap (void)
{
  static const guint part[] = { 0, 3, 6, 9, 12 };
  guint shifted[10];
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstBuffer *t[3];

  rig_init (&r, make_element ("window-duration=3000000000",
          "window-stride=1500000000", "mode=file", NULL), caps_of (clip, 10));
  for (guint i = 0; i < 45; i++)
    push_frame (&r, clip, i, i * FRAME);
  gst_harness_push_event (r.h, gst_event_new_eos ());
  for (guint k = 0; k < 3; k++) {
    t[k] = gst_harness_try_pull (r.ht);
    g_assert_nonnull (t[k]);
    g_assert_cmpuint (GST_BUFFER_PTS (t[k]), ==, k * 1500 * MS);
  }
  g_assert_null (gst_harness_try_pull (r.ht));
  g_assert_cmpuint (GST_BUFFER_DURATION (t[0]), ==, 3 * GST_SECOND);
  g_assert_cmpuint (GST_BUFFER_DURATION (t[1]), ==, 3 * GST_SECOND);
  g_assert_cmpuint (GST_BUFFER_DURATION (t[2]), ==, 1500 * MS);
  assert_frames (text_meta (t[0]), 0, linspace_30_10, 10);
  for (guint i = 0; i < 10; i++)
    shifted[i] = linspace_30_10[i];
  assert_frames (text_meta (t[1]), 1500 * MS, shifted, 10);
  /* cut short by EOS: the frames planned for a 30-frame window so far */
  assert_frames (text_meta (t[2]), 3000 * MS, part, 5);
  g_assert_cmpuint (text_meta (t[2])->window_index, ==, 2);
  g_assert_cmpuint (get_u64 (r.h->element, "windows-processed"), ==, 3);
  for (guint k = 0; k < 3; k++)
    gst_buffer_unref (t[k]);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* EOS in the middle of a window: its text comes out before EOS, the video
 * gets the DESCRIPTION tag before EOS too. */
static void
test_eos_drains_partial_window (void)
{
  static const guint all[] = { 0, 1, 2, 3, 4, 5, 6 };
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstBuffer *text;
  GstEvent *ev;
  char *got;
  gboolean saw_tag = FALSE, saw_eos = FALSE;

  rig_init (&r, make_element ("window-duration=3000000000", NULL),
      caps_of (clip, 10));
  for (guint i = 0; i < 7; i++)
    push_frame (&r, clip, i, i * FRAME);
  g_assert_null (gst_harness_try_pull (r.ht));  /* window not over */
  g_assert_true (gst_harness_push_event (r.h, gst_event_new_eos ()));
  /* push_event returned: text, tag and EOS are all out already */
  text = gst_harness_try_pull (r.ht);
  g_assert_nonnull (text);
  g_assert_cmpuint (GST_BUFFER_DURATION (text), ==, 700 * MS);
  assert_frames (text_meta (text), 0, all, 7);  /* fewer than N: all */
  got = buffer_text (text);
  g_assert_cmpuint (strlen (got), >, 0);
  g_assert_nonnull ((ev = pull_text_event (&r, GST_EVENT_EOS)));
  gst_event_unref (ev);

  while ((ev = gst_harness_try_pull_event (r.h))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_TAG) {
      GstTagList *tags;
      gchar *desc = NULL;
      gst_event_parse_tag (ev, &tags);
      if (gst_tag_list_get_string (tags, GST_TAG_DESCRIPTION, &desc)) {
        g_assert_false (saw_eos);
        g_assert_cmpstr (desc, ==, got);
        saw_tag = TRUE;
      }
      g_free (desc);
    }
    saw_eos |= GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  g_assert_true (saw_tag && saw_eos);
  g_free (got);
  gst_buffer_unref (text);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* A new segment (a non-flushing seek, a concatenation) finishes the
 * windows of the old one first — text out before the new segment reaches
 * text_src — then windowing starts again at the next frame. */
static void
test_new_segment_restarts (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstSegment seg;
  GstBuffer *t0, *t1;
  GstEvent *ev;
  const GstSegment *got;

  rig_init (&r, make_element ("window-duration=3000000000", "mode=file",
          "frames-per-window=4", NULL), caps_of (clip, 10));
  for (guint i = 0; i < 12; i++)
    push_frame (&r, clip, i, i * FRAME);
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = 60 * GST_SECOND;
  gst_harness_push_event (r.h, gst_event_new_segment (&seg));
  /* the old window was described while the segment event waited */
  t0 = gst_harness_try_pull (r.ht);
  g_assert_nonnull (t0);
  g_assert_cmpuint (GST_BUFFER_PTS (t0), ==, 0);
  g_assert_cmpuint (GST_BUFFER_DURATION (t0), ==, 1200 * MS);
  g_assert_false (text_meta (t0)->n_frames == 0);
  /* and the text pad has the new segment now */
  ev = pull_text_event (&r, GST_EVENT_SEGMENT);         /* the first one */
  gst_event_unref (ev);
  ev = pull_text_event (&r, GST_EVENT_SEGMENT);
  g_assert_nonnull (ev);
  gst_event_parse_segment (ev, &got);
  g_assert_cmpuint (got->start, ==, 60 * GST_SECOND);
  gst_event_unref (ev);

  for (guint i = 0; i < 5; i++)
    push_frame (&r, clip, i, 61 * GST_SECOND + i * FRAME);
  gst_harness_push_event (r.h, gst_event_new_eos ());
  t1 = gst_harness_try_pull (r.ht);
  g_assert_nonnull (t1);
  g_assert_cmpuint (GST_BUFFER_PTS (t1), ==, 61 * GST_SECOND);
  g_assert_cmpuint (text_meta (t1)->window_index, ==, 0);
  gst_buffer_unref (t0);
  gst_buffer_unref (t1);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* FLUSH while the model works on window 0: the generation is cancelled, no
 * text of window 0 comes out, and windowing restarts at the new origin. */
static void
test_flush (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstSegment seg;
  GstBuffer *text;
  GstEvent *ev;
  gint64 t0, flush_us;

  /* a long answer keeps the worker busy well past the flush */
  rig_init (&r, make_element ("window-duration=3000000000", "mode=file",
          "max-new-tokens=48", NULL), caps_of (clip, 10));
  for (guint i = 0; i <= 30; i++)
    push_frame (&r, clip, i, i * FRAME);
  /* let the worker start on window 0 */
  g_usleep (150000);
  t0 = g_get_monotonic_time ();
  g_assert_true (gst_harness_push_event (r.h, gst_event_new_flush_start ()));
  g_assert_true (gst_harness_push_event (r.h,
          gst_event_new_flush_stop (TRUE)));
  flush_us = g_get_monotonic_time () - t0;
  g_test_message ("flush took %" G_GINT64_FORMAT " us", flush_us);
  g_assert_nonnull ((ev = pull_text_event (&r, GST_EVENT_FLUSH_STOP)));
  gst_event_unref (ev);

  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = 100 * GST_SECOND;
  gst_harness_push_event (r.h, gst_event_new_segment (&seg));
  for (guint i = 0; i < 10; i++)
    push_frame (&r, clip, i, 100 * GST_SECOND + 250 * MS + i * FRAME);
  gst_harness_push_event (r.h, gst_event_new_eos ());

  text = gst_harness_try_pull (r.ht);
  g_assert_nonnull (text);
  /* the new origin is the first frame after the flush */
  g_assert_cmpuint (GST_BUFFER_PTS (text), ==, 100 * GST_SECOND + 250 * MS);
  g_assert_null (gst_harness_try_pull (r.ht));
  g_assert_cmpuint (get_u64 (r.h->element, "windows-processed"), ==, 1);
  /* the flush did not wait for a whole generation (10 frames, like the
   * window described after it) */
  {
    GstLlavaTextMeta *m = text_meta (text);
    GstClockTime gen = m->vision_time + m->prefill_time + m->decode_time;
    g_assert_cmpuint (flush_us * GST_USECOND, <, gen);
  }
  gst_buffer_unref (text);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* Live, model slower than the video: every video buffer passes at once,
 * windows are dropped and counted, GAPs stand for them on text_src. */
static void
test_live_drops (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  gint64 max_push = 0;
  guint64 processed, dropped, gaps = 0;
  GstBuffer *b;
  GstEvent *ev;
  GstClockTime inference = 0;

  /* 200 ms windows of 2 frames: 30 windows in 60 frames */
  rig_init (&r, make_element ("window-duration=200000000",
          "max-pending-windows=1", "frames-per-window=2", NULL),
      caps_of (clip, 10));
  gst_harness_set_live (r.h, TRUE);
  for (guint i = 0; i < 60; i++) {
    gint64 us = push_frame (&r, clip, i, i * FRAME);
    max_push = MAX (max_push, us);
  }
  for (guint i = 0; i < 60; i++) {
    b = gst_harness_pull (r.h);
    g_assert_cmpuint (GST_BUFFER_PTS (b), ==, i * FRAME);
    gst_buffer_unref (b);
  }
  gst_harness_push_event (r.h, gst_event_new_eos ());
  processed = get_u64 (r.h->element, "windows-processed");
  dropped = get_u64 (r.h->element, "windows-dropped");
  g_test_message ("processed %" G_GUINT64_FORMAT " dropped %"
      G_GUINT64_FORMAT " slowest push %" G_GINT64_FORMAT " us", processed,
      dropped, max_push);
  g_assert_cmpuint (processed + dropped, ==, 30);
  g_assert_cmpuint (dropped, >, 0);
  g_assert_cmpuint (processed, >=, 2);

  while ((b = gst_harness_try_pull (r.ht))) {
    GstLlavaTextMeta *m = text_meta (b);
    inference = MAX (inference, m->vision_time + m->prefill_time
        + m->decode_time);
    gst_buffer_unref (b);
  }
  while ((ev = gst_harness_try_pull_event (r.ht))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP) {
      GstClockTime ts, d;
      gst_event_parse_gap (ev, &ts, &d);
      gaps += d / (200 * MS);
    }
    gst_event_unref (ev);
  }
  /* the dropped windows are covered by gaps (merged when consecutive) */
  g_assert_cmpuint (gaps, >=, dropped);
  /* the streaming thread never waited for a generation */
  g_assert_cmpuint (inference, >, 0);
  g_assert_cmpuint ((GstClockTime) max_push * GST_USECOND, <, inference / 2);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* Live: text_src latency = upstream + window + expected inference; the
 * video path adds nothing.  Not live: nothing added. */
static void
test_latency (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstQuery *q;
  gboolean live;
  GstClockTime min, max, est;
  GstPad *text_pad;

  rig_init (&r, make_element ("window-duration=1000000000", NULL),
      caps_of (clip, 10));
  gst_harness_set_live (r.h, TRUE);
  gst_harness_set_upstream_latency (r.h, 30 * MS);
  g_assert_cmpuint (gst_harness_query_latency (r.h), ==, 30 * MS);
  text_pad = gst_element_get_static_pad (r.h->element, "text_src");

  q = gst_query_new_latency ();
  g_assert_true (gst_pad_query (text_pad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  g_assert_true (live);
  /* before any window: inference assumed to take a window */
  g_assert_cmpuint (min, ==, 30 * MS + 2 * GST_SECOND);
  gst_query_unref (q);

  for (guint i = 0; i <= 10; i++)
    push_frame (&r, clip, i, i * FRAME);
  gst_buffer_unref (gst_harness_pull (r.ht));
  q = gst_query_new_latency ();
  g_assert_true (gst_pad_query (text_pad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  est = min - 30 * MS - GST_SECOND;
  g_test_message ("estimated inference %" GST_TIME_FORMAT, GST_TIME_ARGS (est));
  g_assert_cmpuint (est, >, 0);
  g_assert_cmpuint (est, <=, get_u64 (r.h->element, "last-latency"));
  gst_query_unref (q);

  gst_harness_set_live (r.h, FALSE);
  q = gst_query_new_latency ();
  g_assert_true (gst_pad_query (text_pad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  g_assert_false (live);
  gst_query_unref (q);
  gst_object_unref (text_pad);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* Every accepted format works; RGB-like formats describe the same pixels
 * so give RGB's text exactly; I420 and NV12 hold the same YUV so agree. */
static void
test_formats (void)
{
  static const char *formats[] = { "RGB", "RGBA", "BGRx", "BGRA", "RGBx",
    "xRGB", "I420", "NV12"
  };
  char *texts[G_N_ELEMENTS (formats)];

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GPtrArray *clip = test_load_clip (formats[f]);
    Rig r;
    GstBuffer *text;
    rig_init (&r, make_element ("window-duration=3000000000", "mode=file",
            NULL), caps_of (clip, 10));
    for (guint i = 0; i < 30; i++)
      push_frame (&r, clip, i, i * FRAME);
    gst_harness_push_event (r.h, gst_event_new_eos ());
    text = gst_harness_try_pull (r.ht);
    g_assert_nonnull (text);
    texts[f] = buffer_text (text);
    g_test_message ("%s: \"%s\"", formats[f], texts[f]);
    g_assert_cmpuint (strlen (texts[f]), >, 0);
    gst_buffer_unref (text);
    rig_clear (&r);
    g_ptr_array_unref (clip);
  }
  for (guint f = 1; f < 6; f++)
    g_assert_cmpstr (texts[f], ==, texts[0]);
  g_assert_cmpstr (texts[6], ==, texts[7]);
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    g_free (texts[f]);
}

/* Size and format change in the middle of a window: the window goes on. */
static void
test_caps_change (void)
{
  GPtrArray *rgb = test_load_clip ("RGB");
  GPtrArray *bgrx = test_load_clip_scaled ("BGRx", 80, 60);
  Rig r;
  GstBuffer *text;

  rig_init (&r, make_element ("window-duration=3000000000", "mode=file",
          NULL), caps_of (rgb, 10));
  for (guint i = 0; i < 15; i++)
    push_frame (&r, rgb, i, i * FRAME);
  gst_harness_set_src_caps_str (r.h, caps_of (bgrx, 10));
  for (guint i = 15; i < 31; i++)
    push_frame (&r, bgrx, i, i * FRAME);
  text = gst_harness_pull (r.ht);
  assert_frames (text_meta (text), 0, linspace_30_10, 10);
  g_assert_cmpuint (strlen (text_meta (text)->text), >, 0);
  g_assert_null (gst_bus_pop_filtered (r.bus, GST_MESSAGE_WARNING));
  gst_buffer_unref (text);
  rig_clear (&r);
  g_ptr_array_unref (rgb);
  g_ptr_array_unref (bgrx);
}

/* A prompt too long for the context makes the engine fail: a warning, a
 * GAP for the window, and the video flows on. */
static void
test_inference_failure_is_warning (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  GString *prompt = g_string_new (NULL);
  Rig r;
  GstMessage *msg;
  GstEvent *ev;
  GError *err = NULL;

  for (guint i = 0; i < 1500; i++)
    g_string_append (prompt, "describe every single pixel ");
  rig_init (&r, make_element ("window-duration=1000000000", "mode=file",
          NULL), caps_of (clip, 10));
  g_object_set (r.h->element, "prompt", prompt->str, NULL);
  for (guint i = 0; i < 15; i++)
    push_frame (&r, clip, i, i * FRAME);
  gst_harness_push_event (r.h, gst_event_new_eos ());
  for (guint i = 0; i < 15; i++)
    gst_buffer_unref (gst_harness_pull (r.h));
  g_assert_null (gst_harness_try_pull (r.ht));
  msg = gst_bus_pop_filtered (r.bus, GST_MESSAGE_WARNING);
  g_assert_nonnull (msg);
  gst_message_parse_warning (msg, &err, NULL);
  g_test_message ("warning: %s", err->message);
  g_assert_true (strstr (err->message, "context"));
  g_error_free (err);
  gst_message_unref (msg);
  g_assert_null (gst_bus_pop_filtered (r.bus, GST_MESSAGE_ERROR));
  /* gaps stand for both windows */
  g_assert_nonnull ((ev = pull_text_event (&r, GST_EVENT_GAP)));
  gst_event_unref (ev);
  g_assert_cmpuint (get_u64 (r.h->element, "windows-processed"), ==, 0);
  g_string_free (prompt, TRUE);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* A prompt set while PLAYING applies from the next window; the model is
 * not changed while PLAYING. */
static void
test_prompt_change (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstBuffer *t0, *t1;

  rig_init (&r, make_element ("window-duration=1000000000", "mode=file",
          "frames-per-window=2", NULL), caps_of (clip, 10));
  for (guint i = 0; i <= 10; i++)
    push_frame (&r, clip, i, i * FRAME);        /* window 0 queued */
  g_object_set (r.h->element, "prompt", "What colour is it?", NULL);
  /* the model cannot change while PLAYING */
  g_object_set (r.h->element, "model", "/elsewhere", NULL);
  {
    gchar *model;
    g_object_get (r.h->element, "model", &model, NULL);
    g_assert_cmpstr (model, ==, test_golden_dir ());
    g_free (model);
  }
  for (guint i = 11; i <= 20; i++)
    push_frame (&r, clip, i, i * FRAME);        /* window 1 queued */
  t0 = gst_harness_pull (r.ht);
  t1 = gst_harness_pull (r.ht);
  g_assert_cmpstr (text_meta (t0)->prompt, ==, CLIP_PROMPT);
  g_assert_cmpstr (text_meta (t1)->prompt, ==, "What colour is it?");
  gst_buffer_unref (t0);
  gst_buffer_unref (t1);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

/* The text pad starts a sparse stream with caps and segment before any
 * text, and a GAP lets a text sink preroll at once. */
static void
test_text_stream_start (void)
{
  GPtrArray *clip = test_load_clip ("RGB");
  Rig r;
  GstEvent *ev;
  GstStreamFlags flags;
  GstCaps *caps;

  rig_init (&r, make_element (NULL), caps_of (clip, 10));
  push_frame (&r, clip, 0, 0);
  ev = pull_text_event (&r, GST_EVENT_STREAM_START);
  g_assert_nonnull (ev);
  gst_event_parse_stream_flags (ev, &flags);
  g_assert_true (flags & GST_STREAM_FLAG_SPARSE);
  gst_event_unref (ev);
  ev = gst_harness_try_pull_event (r.ht);
  g_assert_cmpint (GST_EVENT_TYPE (ev), ==, GST_EVENT_CAPS);
  gst_event_parse_caps (ev, &caps);
  {
    GstCaps *want = gst_caps_from_string ("text/x-raw,format=utf8");
    g_assert_true (gst_caps_is_equal (caps, want));
    gst_caps_unref (want);
  }
  gst_event_unref (ev);
  ev = gst_harness_try_pull_event (r.ht);
  g_assert_cmpint (GST_EVENT_TYPE (ev), ==, GST_EVENT_SEGMENT);
  gst_event_unref (ev);
  /* the first GAP comes from the worker */
  for (guint i = 0; i < 100 && !(ev = gst_harness_try_pull_event (r.ht)); i++)
    g_usleep (10000);
  g_assert_nonnull (ev);
  g_assert_cmpint (GST_EVENT_TYPE (ev), ==, GST_EVENT_GAP);
  gst_event_unref (ev);
  rig_clear (&r);
  g_ptr_array_unref (clip);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  test_require_element ();

  g_test_add_func ("/element/properties", test_properties);
  g_test_add_func ("/element/state/missing-model", test_missing_model);
  g_test_add_func ("/element/state/load-progress", test_load_progress);
  g_test_add_func ("/element/text-stream-start", test_text_stream_start);
  g_test_add_func ("/element/window/constant-rate-linspace",
      test_constant_rate_linspace);
  g_test_add_func ("/element/window/variable-rate-golden",
      test_variable_rate_golden);
  g_test_add_func ("/element/window/overlap", test_overlap);
  g_test_add_func ("/element/eos/drains-partial-window",
      test_eos_drains_partial_window);
  g_test_add_func ("/element/flush", test_flush);
  g_test_add_func ("/element/segment/restarts-windowing",
      test_new_segment_restarts);
  g_test_add_func ("/element/live/drops-and-stats", test_live_drops);
  g_test_add_func ("/element/latency", test_latency);
  g_test_add_func ("/element/formats", test_formats);
  g_test_add_func ("/element/caps-change", test_caps_change);
  g_test_add_func ("/element/inference-failure-is-warning",
      test_inference_failure_is_warning);
  g_test_add_func ("/element/prompt-change", test_prompt_change);
  ret = g_test_run ();
  test_util_cleanup ();
  return ret;
}
