/* test-model-variants.c — random-weight tiny models at other shapes
 * (grouped-query attention, vision_feature_layer -2, "default" feature
 * select, odd patch grids, odd frame sizes, 1 and 16 frames): Vulkan against
 * the reference backend over the whole pipeline, plus behaviour that needs
 * no device (feature cache, chunked prefill = decode, sampling, cancel). */
#include "model-run-common.h"
#include "tiny-model.h"

#include <math.h>
#include <string.h>

#include "llava-private.h"

typedef struct {
  TinyModelSpec spec;
  guint n_frames, frame_w, frame_h;
} Variant;

static const Variant variants[] = {
  /* GQA 4:2, feature layer -2 of 3, 42/14 → 3×3 grid, one 37×23 frame */
  { { "gqa", 32, 2, 48, 3, 42, 14, -2, FALSE, 32, 4, 2, 80, 2, 151680,
          TRUE, 11 }, 1, 37, 23 },
  /* GQA 6:1, 50/7 → 7×7 grid, "default" drops patch 0 (48 tokens), 16
   * frames of 61×45 (width down-, height upscaled), untied LM head, a
   * prompt of ~790 positions = 4 prefill chunks */
  { { "grid7-16frames", 24, 2, 40, 1, 50, 7, -1, TRUE, 48, 6, 1, 64, 2,
          151680, FALSE, 12 }, 16, 61, 45 },
};

typedef struct {
  char *dir;
  LlavaModel *ref;
  LlavaImage **img;
  guint n;
} Fixture;

static LlavaImage **
make_images (LlavaModel *m, const Variant *v, guint64 first_key)
{
  LlavaImage **img = g_new0 (LlavaImage *, v->n_frames);

  for (guint i = 0; i < v->n_frames; i++) {
    guint8 *px = tiny_frame (v->frame_w, v->frame_h, first_key + i);
    LlavaFrame f = { px, v->frame_w, v->frame_h, (gsize) v->frame_w * 3,
      LLAVA_PIXEL_RGB };
    GError *err = NULL;
    img[i] = llava_image_new_from_frame (m, &f, first_key + i, &err);
    g_assert_no_error (err);
    g_free (px);
  }
  return img;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const Variant *v = data;
  GError *err = NULL;

  f->dir = tiny_model_write (&v->spec, &err);
  g_assert_no_error (err);
  f->ref = load_model (f->dir, LLAVA_PRECISION_F32, TRUE, 0, &err);
  g_assert_no_error (err);
  f->img = make_images (f->ref, v, 1);
  f->n = v->n_frames;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  free_images (f->img, f->n);
  llava_model_unref (f->ref);
  tiny_model_remove (f->dir);
}

static const char *prompt = "What changes between the frames?";

static Dumps *
run (LlavaModel *m, LlavaImage **img, guint n, const LlavaResult *force,
    guint max_new, LlavaResult *r)
{
  LlavaSession *s;
  LlavaGenerateParams p;
  Dumps *d = dumps_new ();
  GError *err = NULL;

  s = llava_session_new (m, NULL, &err);
  g_assert_no_error (err);
  llava_generate_params_init (&p);
  p.max_new_tokens = max_new;
  p.dump = dumps_add;
  p.dump_data = d;
  if (force) {
    p.teacher_force = force->ids;
    p.n_teacher_force = force->n_ids;
  }
  g_assert_true (llava_session_generate (s, img, n, prompt, &p, NULL, NULL,
          NULL, r, &err));
  g_assert_no_error (err);
  llava_session_free (s);
  return d;
}

/* smallest top-2 margin over the logits rows (ids < 151646) */
static float
min_margin (Dumps *d, guint rows)
{
  gsize n;
  const float *l = dumps_get (d, "logits_steps", &n);
  gsize V = n / rows;
  float m = INFINITY;

  for (guint r = 0; r < rows; r++) {
    float a = -INFINITY, b = -INFINITY;
    for (gsize i = 0; i < MIN (V, 151646); i++) {
      float x = l[r * V + i];
      if (x > a) {
        b = a;
        a = x;
      } else if (x > b) {
        b = x;
      }
    }
    m = MIN (m, a - b);
  }
  return m;
}

/* Vulkan = reference at f32, f16 and q8_0 (the same quantised weights). */
static void
test_vulkan_vs_reference (Fixture *f, gconstpointer data)
{
  static const struct { LlavaPrecision p; float feat, logit; } precs[] = {
    { LLAVA_PRECISION_F32, 1e-3f, 2e-3f },
    { LLAVA_PRECISION_F16, 2e-2f, 5e-2f },
    { LLAVA_PRECISION_Q8_0, 2e-2f, 5e-2f },
  };

  for (guint k = 0; k < G_N_ELEMENTS (precs); k++) {
    GError *err = NULL;
    LlavaModel *ref = precs[k].p == LLAVA_PRECISION_F32
        ? llava_model_ref (f->ref)
        : load_model (f->dir, precs[k].p, TRUE, 0, &err);
    LlavaModel *vk;
    LlavaResult rr, vr, vg;
    Dumps *rd, *vd;
    gsize n;
    const float *x;
    float e;

    g_assert_no_error (err);
    vk = load_model (f->dir, precs[k].p, FALSE, 0, &err);
    if (!vk) {
      llava_model_unref (ref);
      skip_no_device (err);
      return;
    }
    rd = run (ref, f->img, f->n, NULL, 6, &rr);
    vd = run (vk, f->img, f->n, &rr, 0, &vr);
    g_assert_cmpuint (vr.n_prompt_tokens, ==, rr.n_prompt_tokens);

    x = dumps_get (rd, "pixel_values", &n);
    g_assert_cmpfloat (dumps_max_abs (vd, "pixel_values", x, n), ==, 0.0f);
    x = dumps_get (rd, "image_features", &n);
    e = dumps_max_abs (vd, "image_features", x, n);
    g_test_message ("%s: image_features max abs %g", llava_precision_name
        (precs[k].p), e);
    g_assert_cmpfloat (e, <=, precs[k].feat);
    x = dumps_get (rd, "projector_output", &n);
    g_assert_cmpfloat (dumps_max_abs (vd, "projector_output", x, n), <=,
        precs[k].feat);
    x = dumps_get (rd, "logits_steps", &n);
    e = dumps_max_abs (vd, "logits_steps", x, n);
    g_test_message ("%s: logits max abs %g over %u steps",
        llava_precision_name (precs[k].p), e, rr.n_ids);
    g_assert_cmpfloat (e, <=, precs[k].logit);

    /* greedy on Vulkan: the reference's ids while margins allow */
    dumps_free (run (vk, f->img, f->n, NULL, 6, &vg));
    if (min_margin (rd, rr.n_ids) > 10 * e) {
      g_assert_cmpuint (vg.n_ids, ==, rr.n_ids);
      g_assert_cmpmem (vg.ids, vg.n_ids * 4, rr.ids, rr.n_ids * 4);
      g_assert_cmpstr (vg.text, ==, rr.text);
    }
    llava_result_clear (&rr);
    llava_result_clear (&vr);
    llava_result_clear (&vg);
    dumps_free (rd);
    dumps_free (vd);
    llava_model_unref (vk);
    llava_model_unref (ref);
  }
}

/* The logits a decode step computes from the KV cache equal the logits of
 * a prefill over the same ids (which runs in several chunks here), and a
 * batch of frames encodes each frame as it would alone. */
static void
test_prefill_matches_decode (Fixture *f, gconstpointer data)
{
  LlavaResult r1, r2;
  Dumps *d1 = run (f->ref, f->img, f->n, NULL, 3, &r1);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  LlavaSession *s;
  LlavaGenerateParams p;
  Dumps *d2 = dumps_new ();
  GError *err = NULL;
  gsize n1, n2;
  const float *l1, *l2;
  guint V = llava_model_get_info (f->ref)->vocab_size;

  g_assert_cmpuint (r1.n_ids, >=, 2);
  g_array_append_vals (ids, r1.input_ids, r1.n_input_ids);
  g_array_append_vals (ids, r1.ids, 2);
  s = llava_session_new (f->ref, NULL, &err);
  g_assert_no_error (err);
  llava_generate_params_init (&p);
  p.max_new_tokens = 1;
  p.dump = dumps_add;
  p.dump_data = d2;
  g_assert_true (llava_session_generate_ids (s, f->img, f->n,
          (const gint32 *) ids->data, ids->len, &p, NULL, NULL, NULL, &r2,
          &err));
  g_assert_no_error (err);
  l1 = dumps_get (d1, "logits_steps", &n1);
  l2 = dumps_get (d2, "logits_prompt_last", &n2);
  g_assert_cmpuint (n2, ==, V);
  /* row 2 of the first run = after the prompt and ids 0, 1 */
  for (guint i = 0; i < V; i++)
    g_assert_cmpfloat_with_epsilon (l1[2 * V + i], l2[i], 1e-3);
  llava_result_clear (&r2);
  dumps_free (d2);
  llava_session_free (s);

  /* frame 0 alone encodes to the first rows of the batch */
  if (f->n > 1) {
    LlavaResult r3;
    Dumps *d3 = run (f->ref, f->img, 1, NULL, 1, &r3);
    const float *a = dumps_get (d1, "projector_output", &n1);
    const float *b = dumps_get (d3, "projector_output", &n2);
    g_assert_cmpuint (n2 * f->n, ==, n1);
    for (gsize i = 0; i < n2; i++)
      g_assert_cmpfloat_with_epsilon (a[i], b[i], 1e-5);
    llava_result_clear (&r3);
    dumps_free (d3);
  }
  llava_result_clear (&r1);
  dumps_free (d1);
  g_array_free (ids, TRUE);
}

/* Frames encoded in several chunks (as the 0.5B model does past 10 frames)
 * give the same features and ids as one batch. */
static void
test_vision_chunks (Fixture *f, gconstpointer data)
{
  LlavaResult a, b;
  Dumps *da = run (f->ref, f->img, f->n, NULL, 4, &a), *db;
  gsize n, n2;
  const float *x, *y;

  /* a limit that fits 5 frames: chunks of 5, 5, 5, 1 */
  gsize bytes = 1024;
  while (siglip_frames_per_chunk (f->ref->vision, 16, bytes) < 5)
    bytes += 1024;
  g_assert_cmpuint (siglip_frames_per_chunk (f->ref->vision, 16, bytes), ==,
      5);
  f->ref->max_activation_bytes = bytes;
  db = run (f->ref, f->img, f->n, NULL, 4, &b);
  x = dumps_get (da, "projector_output", &n);
  y = dumps_get (db, "projector_output", &n2);
  g_assert_cmpuint (n, ==, n2);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (x[i], y[i], 1e-5);
  g_assert_cmpmem (a.ids, a.n_ids * 4, b.ids, b.n_ids * 4);
  g_assert_cmpuint (b.n_images_encoded, ==, f->n);
  llava_result_clear (&a);
  llava_result_clear (&b);
  dumps_free (da);
  dumps_free (db);
}

static gboolean
stop_after_two (gint32 id, const char *text, gpointer user_data)
{
  guint *n = user_data;
  return ++*n < 2;
}

/* Sessions reused across overlapping windows encode a frame once; sampling
 * is reproducible; cancellation and the token callback stop generation. */
static void
test_session_behaviour (Fixture *f, gconstpointer data)
{
  const Variant *v = data;
  LlavaSession *s, *fresh;
  LlavaImage **w2, **both;
  LlavaGenerateParams p;
  LlavaResult a, b, c;
  GCancellable *cancel;
  GError *err = NULL;
  guint half = f->n / 2, calls = 0;

  /* window 2 = the second half of window 1 + new frames (keys continue) */
  w2 = make_images (f->ref, v, 1 + f->n);
  both = g_new (LlavaImage *, f->n);
  for (guint i = 0; i < f->n; i++)
    both[i] = i < f->n - half ? f->img[half + i] : w2[i - (f->n - half)];
  s = llava_session_new (f->ref, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (llava_session_generate (s, f->img, f->n, prompt, NULL, NULL,
          NULL, NULL, &a, &err));
  g_assert_cmpuint (a.n_images_encoded, ==, f->n);
  llava_result_clear (&a);
  g_assert_true (llava_session_generate (s, both, f->n, prompt, NULL, NULL,
          NULL, NULL, &a, &err));
  g_assert_cmpuint (a.n_images_cached, ==, f->n - half);
  g_assert_cmpuint (a.n_images_encoded, ==, half);
  fresh = llava_session_new (f->ref, NULL, &err);
  g_assert_true (llava_session_generate (fresh, both, f->n, prompt, NULL,
          NULL, NULL, NULL, &b, &err));
  g_assert_cmpuint (b.n_images_cached, ==, 0);
  g_assert_cmpuint (a.n_ids, ==, b.n_ids);
  g_assert_cmpmem (a.ids, a.n_ids * 4, b.ids, b.n_ids * 4);
  llava_result_clear (&a);
  llava_result_clear (&b);

  /* sampling: same seed, same ids; top-k 1 is greedy */
  llava_generate_params_init (&p);
  p.max_new_tokens = 8;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.9f;
  p.seed = 1234;
  g_assert_true (llava_session_generate (s, f->img, f->n, prompt, &p, NULL,
          NULL, NULL, &a, &err));
  g_assert_true (llava_session_generate (fresh, f->img, f->n, prompt, &p,
          NULL, NULL, NULL, &b, &err));
  g_assert_cmpuint (a.n_ids, ==, b.n_ids);
  g_assert_cmpmem (a.ids, a.n_ids * 4, b.ids, b.n_ids * 4);
  llava_result_clear (&a);
  llava_result_clear (&b);
  p.top_k = 1;
  g_assert_true (llava_session_generate (s, f->img, f->n, prompt, &p, NULL,
          NULL, NULL, &a, &err));
  p.temperature = 0.0f;
  g_assert_true (llava_session_generate (s, f->img, f->n, prompt, &p, NULL,
          NULL, NULL, &b, &err));
  g_assert_cmpmem (a.ids, a.n_ids * 4, b.ids, b.n_ids * 4);

  /* the token callback stops after two tokens */
  g_assert_true (llava_session_generate (s, f->img, f->n, prompt, &p,
          stop_after_two, &calls, NULL, &c, &err));
  g_assert_cmpint (c.stop_reason, ==, LLAVA_STOP_CALLBACK);
  g_assert_cmpuint (c.n_ids, ==, 2);
  g_assert_cmpmem (c.ids, 8, b.ids, 8);
  llava_result_clear (&a);
  llava_result_clear (&b);
  llava_result_clear (&c);

  /* a cancelled request fails with LLAVA_ERROR_CANCELLED */
  cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_assert_false (llava_session_generate (s, w2, f->n, prompt, &p, NULL,
          NULL, cancel, &a, &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_CANCELLED);
  g_clear_error (&err);
  llava_result_clear (&a);
  g_object_unref (cancel);
  /* …and the session still works afterwards */
  g_assert_true (llava_session_generate (s, w2, f->n, prompt, &p, NULL,
          NULL, NULL, &a, &err));
  g_assert_no_error (err);
  llava_result_clear (&a);

  llava_session_free (s);
  llava_session_free (fresh);
  g_free (both);
  free_images (w2, f->n);
}

/* The 0.5B vision tower keeps every activation within one 128 MiB storage
 * binding: 10 frames (7290 × 4304 fp32 = 125 MB) per chunk, fewer when the
 * limit is lower. */
static void
test_vision_chunking (void)
{
  SiglipModel m;

  memset (&m, 0, sizeof m);
  m.C = 1152;
  m.I = 4304;
  m.S = 384;
  m.p = 14;
  m.P = 729;
  m.proj_hidden = m.out_dim = 1024;
  g_assert_cmpuint (siglip_frames_per_chunk (&m, 16, 128u << 20), ==, 10);
  g_assert_cmpuint (siglip_frames_per_chunk (&m, 4, 128u << 20), ==, 4);
  g_assert_cmpuint (siglip_frames_per_chunk (&m, 16, 40u << 20), ==, 3);
  g_assert_cmpuint (siglip_frames_per_chunk (&m, 16, 1u << 20), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!g_getenv ("LLAVA_GOLDEN_DIR")) {
    g_printerr ("LLAVA_GOLDEN_DIR is not set (tokenizer files)\n");
    return 1;
  }
  for (guint i = 0; i < G_N_ELEMENTS (variants); i++) {
    const Variant *v = &variants[i];
    char *a = g_strdup_printf ("/model-variants/%s/vulkan-vs-reference",
        v->spec.name);
    char *b = g_strdup_printf ("/model-variants/%s/prefill-matches-decode",
        v->spec.name);
    g_test_add (a, Fixture, v, fixture_setup, test_vulkan_vs_reference,
        fixture_teardown);
    g_test_add (b, Fixture, v, fixture_setup, test_prefill_matches_decode,
        fixture_teardown);
    g_free (a);
    g_free (b);
  }
  g_test_add ("/model-variants/gqa/session-cache-sampling-cancel", Fixture,
      &variants[0], fixture_setup, test_session_behaviour, fixture_teardown);
  g_test_add ("/model-variants/grid7-16frames/session-cache", Fixture,
      &variants[1], fixture_setup, test_session_behaviour, fixture_teardown);
  g_test_add_func ("/model-variants/vision-chunking", test_vision_chunking);
  g_test_add ("/model-variants/grid7-16frames/vision-in-chunks", Fixture,
      &variants[1], fixture_setup, test_vision_chunks, fixture_teardown);
  return g_test_run ();
}
