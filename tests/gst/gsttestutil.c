/* gsttestutil.c — see gsttestutil.h. */
#include "gsttestutil.h"
#include "llava.h"

#include <json-glib/json-glib.h>

const char *
test_golden_dir (void)
{
  const char *d = g_getenv ("LLAVA_GOLDEN_DIR");
  g_assert_nonnull (d);
  return d;
}

void
test_require_element (void)
{
  GstElementFactory *f = gst_element_factory_find ("llavainterleave");
  g_assert_nonnull (f);
  gst_object_unref (f);
}

GPtrArray *
test_load_clip (const char *format)
{
  return test_load_clip_scaled (format, 0, 0);
}

GPtrArray *
test_load_clip_scaled (const char *format, int width, int height)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_sample_unref);
  char *size = width ? g_strdup_printf (",width=%d,height=%d", width, height)
      : g_strdup ("");
  char *line = g_strdup_printf ("multifilesrc location=\"%s/window/clip_%%02d.png\" "
      "index=0 stop-index=%d caps=image/png,framerate=10/1 ! pngdec ! "
      "videoconvert ! videoscale ! video/x-raw,format=%s%s ! "
      "appsink name=sink sync=false", test_golden_dir (), CLIP_FRAMES - 1,
      format, size);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (line, &err);
  GstElement *sink;
  GstSample *s;

  g_assert_no_error (err);
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  for (;;) {
    s = NULL;
    g_signal_emit_by_name (sink, "pull-sample", &s);
    if (!s)
      break;                    /* EOS */
    g_ptr_array_add (out, s);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (line);
  g_free (size);
  g_assert_cmpuint (out->len, ==, CLIP_FRAMES);
  return out;
}

/* ---- the engine, directly ---- */

/* One per test process, loaded on first use; test_util_cleanup frees them
 * so valgrind sees what the element leaks, not what the tests keep. */
static LlavaModel *model;
static GPtrArray *rgb;          /* GstSample*: the clip as RGB */

static LlavaModel *
shared_model (void)
{
  if (!model) {
    LlavaModelOptions opt;
    GError *err = NULL;
    llava_model_options_init (&opt);
    opt.precision = LLAVA_PRECISION_F32;
    opt.max_frames = 16;        /* as the element loads it */
    model = llava_model_load (test_golden_dir (), &opt, &err);
    g_assert_no_error (err);
  }
  return model;
}

char *
test_engine_text (const guint *idx, guint n, guint max_new_tokens,
    const char *prompt)
{
  LlavaModel *m = shared_model ();
  LlavaSession *s;
  LlavaImage **imgs = g_new0 (LlavaImage *, n);
  LlavaGenerateParams p;
  LlavaResult res = { 0 };
  GError *err = NULL;
  char *text;

  if (!rgb)
    rgb = test_load_clip ("RGB");
  for (guint i = 0; i < n; i++) {
    GstSample *smp = rgb->pdata[idx[i]];
    GstVideoInfo info;
    GstVideoFrame vf;
    LlavaFrame f;
    g_assert_true (gst_video_info_from_caps (&info,
            gst_sample_get_caps (smp)));
    g_assert_true (gst_video_frame_map (&vf, &info,
            gst_sample_get_buffer (smp), GST_MAP_READ));
    f.data = GST_VIDEO_FRAME_PLANE_DATA (&vf, 0);
    f.width = GST_VIDEO_FRAME_WIDTH (&vf);
    f.height = GST_VIDEO_FRAME_HEIGHT (&vf);
    f.stride = GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0);
    f.format = LLAVA_PIXEL_RGB;
    imgs[i] = llava_image_new_from_frame (m, &f, 0, &err);
    g_assert_no_error (err);
    gst_video_frame_unmap (&vf);
  }
  s = llava_session_new (m, NULL, &err);
  g_assert_no_error (err);
  llava_generate_params_init (&p);
  p.max_new_tokens = max_new_tokens;
  g_assert_true (llava_session_generate (s, imgs, n, prompt, &p, NULL, NULL,
          NULL, &res, &err));
  g_assert_no_error (err);
  text = g_strdup (res.text);
  llava_result_clear (&res);
  llava_session_free (s);
  for (guint i = 0; i < n; i++)
    llava_image_free (imgs[i]);
  g_free (imgs);
  return text;
}

void
test_util_cleanup (void)
{
  g_clear_pointer (&rgb, g_ptr_array_unref);
  g_clear_pointer (&model, llava_model_unref);
}

char *
test_golden_generated_text (void)
{
  char *path = g_build_filename (test_golden_dir (), "case.json", NULL);
  JsonParser *parser = json_parser_new ();
  GError *err = NULL;
  char *text;

  json_parser_load_from_file (parser, path, &err);
  g_assert_no_error (err);
  text = g_strdup (json_object_get_string_member (json_node_get_object
          (json_parser_get_root (parser)), "generated_text"));
  g_object_unref (parser);
  g_free (path);
  return text;
}

/* ---- pipelines ---- */

GPtrArray *
test_run_pipeline (GstElement *pipeline, guint timeout_s)
{
  GPtrArray *results = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  gboolean done = FALSE;

  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  while (!done) {
    GstMessage *msg;
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      g_error ("pipeline did not reach EOS within %u s", timeout_s);
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING |
        GST_MESSAGE_ELEMENT);
    if (!msg)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      case GST_MESSAGE_ERROR:{
        GError *err;
        char *dbg;
        gst_message_parse_error (msg, &err, &dbg);
        g_error ("pipeline error from %s: %s (%s)",
            GST_OBJECT_NAME (msg->src), err->message, dbg);
        break;
      }
      case GST_MESSAGE_WARNING:{
        GError *err;
        gst_message_parse_warning (msg, &err, NULL);
        g_test_message ("warning from %s: %s", GST_OBJECT_NAME (msg->src),
            err->message);
        g_error_free (err);
        break;
      }
      case GST_MESSAGE_ELEMENT:
        if (gst_message_has_name (msg, "llava-result"))
          g_ptr_array_add (results,
              gst_structure_copy (gst_message_get_structure (msg)));
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return results;
}
