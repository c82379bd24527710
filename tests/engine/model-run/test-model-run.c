/* test-model-run.c — the whole engine against the golden fixtures
 * ($LLAVA_GOLDEN_DIR, made with transformers) on the reference backend and
 * on Vulkan, at f32 / f16 / q8_0. */
#include "model-run-common.h"

#include <math.h>
#include <string.h>

#include "preprocess.h"
#include "llava-private.h"      /* llava_model_new_from_weights: q8_0 oracle */
#include "tools/image_io.h"

#include <stdio.h>
#include <jpeglib.h>
#include <glib/gstdio.h>

#define N_FRAMES 10

static const char *
golden_dir (void)
{
  return g_getenv ("LLAVA_GOLDEN_DIR");
}

static LlavaSafetensors *
open_expected (void)
{
  char *p = g_build_filename (golden_dir (), "expected.safetensors", NULL);
  GError *err = NULL;
  LlavaSafetensors *st = llava_safetensors_open (p, &err);

  g_assert_no_error (err);
  g_free (p);
  return st;
}

static float *
expected_f32 (LlavaSafetensors *st, const char *name, gsize *n)
{
  const LlavaStTensor *t = llava_safetensors_find (st, name);

  g_assert_nonnull (t);
  *n = t->size / llava_st_dtype_size (t->dtype);
  return llava_st_tensor_to_f32 (t);
}

static GArray *
expected_ids (LlavaSafetensors *st, const char *name)
{
  const LlavaStTensor *t = llava_safetensors_find (st, name);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  const gint64 *v;

  g_assert_nonnull (t);
  g_assert_cmpint (t->dtype, ==, LLAVA_ST_I64);
  v = t->data;
  for (guint i = 0; i < t->size / 8; i++) {
    gint32 id = (gint32) v[i];
    g_array_append_val (ids, id);
  }
  return ids;
}

static guint8 *
load_frame (guint i, guint *w, guint *h)
{
  char name[32];
  char *p;
  GError *err = NULL;
  guint8 *px;

  g_snprintf (name, sizeof name, "frame_%02u.png", i);
  p = g_build_filename (golden_dir (), "frames", name, NULL);
  px = llava_image_io_load_rgb (p, w, h, &err);
  g_assert_no_error (err);
  g_free (p);
  return px;
}

/* ---- preprocessing ---- */

/* pixel_values exactly equal to transformers' (Pillow bicubic), for every
 * packed pixel format the engine accepts. */
static void
test_preprocess_exact (void)
{
  LlavaSafetensors *st = open_expected ();
  gsize n;
  float *ref = expected_f32 (st, "pixel_values", &n);
  LlavaPreprocessParams pp = { 56, 56, TRUE, TRUE, TRUE, 1.0 / 255,
    {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f} };
  GError *err = NULL;
  LlavaPreprocessor *pre = llava_preprocessor_new (&pp, &err);
  gsize per = 3 * 56 * 56;
  float *out = g_new (float, per);
  static const struct { LlavaPixelFormat f; int r, g, b, bpp; } fmts[] = {
    { LLAVA_PIXEL_RGB, 0, 1, 2, 3 }, { LLAVA_PIXEL_RGBA, 0, 1, 2, 4 },
    { LLAVA_PIXEL_RGBX, 0, 1, 2, 4 }, { LLAVA_PIXEL_BGRA, 2, 1, 0, 4 },
    { LLAVA_PIXEL_BGRX, 2, 1, 0, 4 }, { LLAVA_PIXEL_XRGB, 1, 2, 3, 4 },
  };

  g_assert_no_error (err);
  g_assert_cmpuint (n, ==, N_FRAMES * per);
  for (guint i = 0; i < N_FRAMES; i++) {
    guint w, h;
    guint8 *rgb = load_frame (i, &w, &h);

    for (guint k = 0; k < G_N_ELEMENTS (fmts); k++) {
      /* repack, with a padded stride and junk in the alpha/X byte */
      gsize stride = (gsize) w * fmts[k].bpp + 7;
      guint8 *px = g_malloc0 (stride * h);
      LlavaFrame f = { px, w, h, stride, fmts[k].f };
      guint bad = 0;

      for (guint y = 0; y < h; y++)
        for (guint x = 0; x < w; x++) {
          guint8 *d = px + y * stride + (gsize) x * fmts[k].bpp;
          const guint8 *s = rgb + ((gsize) y * w + x) * 3;
          if (fmts[k].bpp == 4)
            memset (d, 0x5a, 4);
          d[fmts[k].r] = s[0];
          d[fmts[k].g] = s[1];
          d[fmts[k].b] = s[2];
        }
      g_assert_true (llava_preprocessor_run (pre, &f, out, &err));
      g_assert_no_error (err);
      for (gsize j = 0; j < per; j++)
        bad += out[j] != ref[i * per + j];
      if (bad)
        g_error ("frame %u format %d: %u of %" G_GSIZE_FORMAT
            " pixel values differ", i, fmts[k].f, bad, per);
      g_free (px);
    }
    g_free (rgb);
  }
  g_free (out);
  g_free (ref);
  llava_preprocessor_free (pre);
  llava_safetensors_free (st);
}

/* A bad frame is an error, not a crash. */
static void
test_preprocess_bad_frame (void)
{
  LlavaPreprocessParams pp = { 56, 56, TRUE, TRUE, TRUE, 1.0 / 255,
    {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f} };
  GError *err = NULL;
  LlavaPreprocessor *pre = llava_preprocessor_new (&pp, &err);
  guint8 px[16] = { 0 };
  LlavaFrame f = { px, 4, 2, 2, LLAVA_PIXEL_RGB };   /* stride too small */
  float out[3 * 56 * 56];

  g_assert_false (llava_preprocessor_run (pre, &f, out, &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID);
  g_clear_error (&err);
  llava_preprocessor_free (pre);
}

/* JPEG frames decode to the same picture as the PNG they were made from
 * (quality 100, 4:4:4: within a few levels per channel). */
static void
test_jpeg_frames (void)
{
  guint w, h, w2, h2;
  guint8 *rgb = load_frame (0, &w, &h), *back;
  char *tmp = g_dir_make_tmp ("llava-jpeg-XXXXXX", NULL);
  char *path = g_build_filename (tmp, "frame.jpg", NULL);
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr jerr;
  FILE *f = fopen (path, "wb");
  GError *err = NULL;
  int worst = 0;

  g_assert_nonnull (f);
  c.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&c);
  jpeg_stdio_dest (&c, f);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults (&c);
  jpeg_set_quality (&c, 100, TRUE);
  for (int i = 0; i < c.num_components; i++)
    c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress (&c, TRUE);
  while (c.next_scanline < h) {
    JSAMPROW row = rgb + (gsize) c.next_scanline * w * 3;
    jpeg_write_scanlines (&c, &row, 1);
  }
  jpeg_finish_compress (&c);
  jpeg_destroy_compress (&c);
  fclose (f);

  back = llava_image_io_load_rgb (path, &w2, &h2, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (w2, ==, w);
  g_assert_cmpuint (h2, ==, h);
  for (gsize i = 0; i < (gsize) w * h * 3; i++)
    worst = MAX (worst, ABS ((int) back[i] - (int) rgb[i]));
  g_assert_cmpint (worst, <=, 8);

  /* not an image at all */
  g_file_set_contents (path, "hello", -1, NULL);
  g_assert_null (llava_image_io_load_rgb (path, &w2, &h2, &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT);
  g_clear_error (&err);
  g_unlink (path);
  g_rmdir (tmp);
  g_free (back);
  g_free (rgb);
  g_free (path);
  g_free (tmp);
}

/* ---- the golden model ---- */

typedef struct {
  LlavaPrecision precision;
  gboolean reference;
} GoldenCase;

static LlavaImage **
golden_images (LlavaModel *m)
{
  LlavaImage **img = g_new0 (LlavaImage *, N_FRAMES);

  for (guint i = 0; i < N_FRAMES; i++) {
    guint w, h;
    guint8 *rgb = load_frame (i, &w, &h);
    LlavaFrame f = { rgb, w, h, (gsize) w * 3, LLAVA_PIXEL_RGB };
    GError *err = NULL;

    img[i] = llava_image_new_from_frame (m, &f, 100 + i, &err);
    g_assert_no_error (err);
    g_free (rgb);
  }
  return img;
}

static const char *
golden_prompt (void)
{
  return "Describe what happens in this video.";
}

/* Tolerances: the golden README's, at every precision.
 *
 * q8_0 cannot meet the README's fp16 logit tolerance (0.25) against
 * transformers on this fixture, whatever mix of tensors is quantised: an f32
 * run on the reference backend with weights rounded through q8_0 (no kernel
 * involved) is off by 1.22 (all matrices), 0.97 (only the LLM layers'
 * matrices), 0.65 (only the vision encoder), 0.58 (only the projector), 0.41
 * (only the tied embedding / LM head), 0.42 (only the two gate_proj).  Its
 * logits are ±38 with a spread of 8, so 8-bit weights (~0.5 % rms per
 * weight) move them by ~1 at the extremes; no sensible q8_0 policy gets to
 * 0.25 (see the policy note in engine/weights.h).  So, as ENGINE.md §5.5
 * prescribes, q8_0 runs are held to the README tolerances against an oracle
 * that isolates the quantisation: the same model computed in f32 on the
 * reference backend with the same q8_0-rounded weights (q8_0_oracle_new).
 * What remains is the kernels' own error (accumulation order, the f16 KV
 * cache).  Against transformers, q8_0 features are held to the README
 * (cosine >= 0.999 per row or rtol/atol 2e-2; 8-bit weights give 0.9997). */
static float
logit_tolerance (LlavaPrecision p)
{
  return p == LLAVA_PRECISION_F32 ? 2e-3f : 0.25f;
}

static void
check_rows (Dumps *d, LlavaSafetensors *st, const char *name,
    LlavaPrecision p)
{
  gsize n;
  float *ref = expected_f32 (st, name, &n);

  if (p == LLAVA_PRECISION_F32) {
    float e = dumps_max_abs (d, name, ref, n);
    g_test_message ("%s max abs error %g", name, e);
    g_assert_cmpfloat (e, <=, 1e-3);
  } else {
    dumps_assert_close_rows (d, name, ref, n, 64, 2e-2, 0.999);
  }
  g_free (ref);
}

/* ---- the q8_0 oracle ---- */

/* Reads like the checkpoint but rounds every tensor the engine stores in
 * the model's weight type — each ≥ 2-D weight except the position table,
 * which weights.c keeps f32 — through q8_0 and back (ll_convert_from_f32,
 * ll_dequantize_row: the conversion the engine uploads).  Should the
 * engine's q8_0 policy keep some matrix at higher precision without this
 * following, the oracle comparison fails by that matrix's quantisation
 * error (0.07-0.6 here, see above), so the two cannot drift apart silently. */
static float *
q8_0_rounded_read (gpointer src, const char *name, const gint64 *shape,
    guint n_dims, GError **err)
{
  float *v = llava_checkpoint_read_f32 (src, name, shape, n_dims, err);
  guint32 rows, cols = 1;
  void *q;

  if (!v || n_dims < 2 || g_str_has_suffix (name, "position_embedding.weight"))
    return v;
  rows = (guint32) shape[0];
  for (guint i = 1; i < n_dims; i++)
    cols *= (guint32) shape[i];
  q = ll_convert_from_f32 (LL_Q8_0, v, rows, cols);
  for (guint32 r = 0; r < rows; r++)
    ll_dequantize_row (LL_Q8_0, q, rows, cols, r, v + (gsize) r * cols);
  g_free (q);
  return v;
}

typedef struct {
  Dumps *forced;                /* teacher-forced on the golden ids */
  GArray *greedy;               /* its own greedy ids (gint32) */
  GArray *greedy_margins;       /* top-2 margin of each greedy step (float) */
} Q8Oracle;

static float
top2_margin (const float *v, gsize n)
{
  float a = -G_MAXFLOAT, b = -G_MAXFLOAT;

  for (gsize i = 0; i < n; i++) {
    if (v[i] > a) {
      b = a;
      a = v[i];
    } else if (v[i] > b) {
      b = v[i];
    }
  }
  return a - b;
}

static Q8Oracle *
q8_0_oracle_new (GArray *gen)
{
  Q8Oracle *o = g_new0 (Q8Oracle, 1);
  GError *err = NULL;
  LlavaCheckpoint *ck = llava_checkpoint_open (golden_dir (), &err);
  LlavaTokenizer *tok;
  LlavaModelOptions opt;
  LlavaModel *m;
  LlavaSession *s;
  LlavaImage **img;
  LlavaGenerateParams p;
  LlavaResult r;
  Dumps *greedy_dumps = dumps_new ();
  const float *logits;
  gsize n, V;

  g_assert_no_error (err);
  tok = llava_tokenizer_load (golden_dir (), &err);
  g_assert_no_error (err);
  llava_model_options_init (&opt);
  opt.reference_backend = TRUE;
  opt.precision = LLAVA_PRECISION_F32;
  m = llava_model_new_from_weights (llava_checkpoint_get_config (ck),
      q8_0_rounded_read, ck, llava_checkpoint_has (ck,
          "language_model.lm_head.weight"), tok, &opt, &err);
  g_assert_no_error (err);
  s = llava_session_new (m, NULL, &err);
  g_assert_no_error (err);
  img = golden_images (m);

  o->forced = dumps_new ();
  llava_generate_params_init (&p);
  p.teacher_force = (const gint32 *) gen->data;
  p.n_teacher_force = gen->len;
  p.dump = dumps_add;
  p.dump_data = o->forced;
  g_assert_true (llava_session_generate (s, img, N_FRAMES, golden_prompt (),
          &p, NULL, NULL, NULL, &r, &err));
  g_assert_no_error (err);
  llava_result_clear (&r);

  llava_generate_params_init (&p);
  p.max_new_tokens = gen->len;
  p.dump = dumps_add;
  p.dump_data = greedy_dumps;
  g_assert_true (llava_session_generate (s, img, N_FRAMES, golden_prompt (),
          &p, NULL, NULL, NULL, &r, &err));
  g_assert_no_error (err);
  o->greedy = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_array_append_vals (o->greedy, r.ids, r.n_ids);
  o->greedy_margins = g_array_new (FALSE, FALSE, sizeof (float));
  logits = dumps_get (greedy_dumps, "logits_steps", &n);
  V = llava_model_get_info (m)->vocab_size;
  g_assert_cmpuint (n, ==, V * r.n_ids);
  for (guint k = 0; k < r.n_ids; k++) {
    /* over the ids greedy can produce (below <image>) */
    float mg = top2_margin (logits + k * V, m->n_valid_logits);
    g_array_append_val (o->greedy_margins, mg);
  }
  llava_result_clear (&r);

  dumps_free (greedy_dumps);
  free_images (img, N_FRAMES);
  llava_session_free (s);
  llava_model_unref (m);
  llava_checkpoint_free (ck);
  return o;
}

static void
q8_0_oracle_free (Q8Oracle *o)
{
  dumps_free (o->forced);
  g_array_free (o->greedy, TRUE);
  g_array_free (o->greedy_margins, TRUE);
  g_free (o);
}

/* The q8_0 run `d` against the oracle at the README tolerances; returns
 * the logit error. */
static float
q8_0_check_forced (Dumps *d, Q8Oracle *o, guint n_steps,
    const float *golden_steps, GArray *margins, float golden_err)
{
  gsize n, V;
  const float *ref = dumps_get (o->forced, "logits_prompt_last", &V);
  float err = dumps_max_abs (d, "logits_prompt_last", ref, V), qerr;
  guint checked;
  const char *rows[] = { "image_features", "projector_output",
    "inputs_embeds" };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    ref = dumps_get (o->forced, rows[i], &n);
    dumps_assert_close_rows (d, rows[i], ref, n, 64, 2e-2, 0.999);
  }
  ref = dumps_get (o->forced, "logits_steps", &n);
  g_assert_cmpuint (n, ==, V * n_steps);
  err = MAX (err, dumps_max_abs (d, "logits_steps", ref, n));
  qerr = 0.0f;
  for (gsize i = 0; i < n; i++)
    qerr = MAX (qerr, fabsf (ref[i] - golden_steps[i]));
  g_test_message ("q8_0 against the f32 run on q8_0-rounded weights: logits "
      "max abs error %g (that run against transformers: %g on the steps)",
      err, qerr);
  g_assert_cmpfloat (err, <=, 0.25f);
  /* top-1 on every teacher-forced step */
  checked = dumps_assert_top1 (d, "logits_steps", ref, V, n_steps, NULL, 0);
  g_assert_cmpuint (checked, ==, n_steps);
  /* and against transformers where the golden margin leaves room for the
   * error the quantisation brings */
  checked = dumps_assert_top1 (d, "logits_steps", golden_steps, V, n_steps,
      margins, 2 * golden_err);
  g_test_message ("top-1 agrees with transformers on the %u steps with "
      "margin > %g", checked, 2 * golden_err);
  g_assert_cmpuint (checked, >=, 1);
  return err;
}

/* Greedy ids equal to the oracle's, step by step, for as long as the two
 * sequences agree: they may part only at a step whose oracle top-2 margin
 * is below ten times the observed logit error (README's rule; while the ids
 * agree so far, every later step is again a like-for-like comparison). */
static void
q8_0_check_greedy (const LlavaResult *r, Q8Oracle *o, float err)
{
  guint k = 0;

  for (; k < o->greedy->len; k++) {
    gint32 want = g_array_index (o->greedy, gint32, k);
    float margin = g_array_index (o->greedy_margins, float, k);

    if (margin >= 10 * err) {
      g_assert_cmpuint (r->n_ids, >, k);
      g_assert_cmpint (r->ids[k], ==, want);
    } else if (k >= r->n_ids || r->ids[k] != want) {
      g_test_message ("greedy ids part from the oracle's at step %u "
          "(margin %g < 10 × %g)", k, margin, err);
      break;
    }
  }
  g_test_message ("greedy ids equal to the oracle's: %u of %u", k,
      o->greedy->len);
}

/* Teacher-forced on the golden ids: every tensor against transformers. */
static void
test_golden (gconstpointer data)
{
  const GoldenCase *gc = data;
  gboolean f32 = gc->precision == LLAVA_PRECISION_F32;
  LlavaSafetensors *st = open_expected ();
  GArray *gen = expected_ids (st, "generated_ids");
  GArray *in_ids = expected_ids (st, "input_ids");
  LlavaModel *m;
  LlavaSession *s;
  LlavaImage **img;
  LlavaGenerateParams p;
  LlavaResult r;
  Dumps *d;
  GError *err = NULL;
  gsize n;
  float *ref, max_err = 0.0f, logit_err;
  GArray *margins;
  guint checked;
  Q8Oracle *oracle = NULL;
  float oracle_err = 0.0f;

  m = load_model (golden_dir (), gc->precision, gc->reference, 0, &err);
  if (!m) {
    skip_no_device (err);
    goto done_ids;
  }
  s = llava_session_new (m, NULL, &err);
  g_assert_no_error (err);
  img = golden_images (m);
  if (gc->precision == LLAVA_PRECISION_Q8_0)
    oracle = q8_0_oracle_new (gen);

  /* teacher-forced pass with all dumps */
  d = dumps_new ();
  llava_generate_params_init (&p);
  p.teacher_force = (const gint32 *) gen->data;
  p.n_teacher_force = gen->len;
  p.dump = dumps_add;
  p.dump_data = d;
  g_assert_true (llava_session_generate (s, img, N_FRAMES, golden_prompt (),
          &p, NULL, NULL, NULL, &r, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (r.n_input_ids, ==, in_ids->len);
  g_assert_cmpmem (r.input_ids, r.n_input_ids * 4, in_ids->data,
      in_ids->len * 4);
  g_assert_cmpuint (r.n_prompt_tokens, ==, 176);

  ref = expected_f32 (st, "pixel_values", &n);
  g_assert_cmpfloat (dumps_max_abs (d, "pixel_values", ref, n), ==, 0.0f);
  g_free (ref);

  check_rows (d, st, "image_features", gc->precision);
  check_rows (d, st, "projector_output", gc->precision);
  check_rows (d, st, "inputs_embeds", gc->precision);

  ref = expected_f32 (st, "logits_prompt_last", &n);
  max_err = dumps_max_abs (d, "logits_prompt_last", ref, n);
  g_free (ref);
  ref = expected_f32 (st, "logits_steps", &n);
  logit_err = dumps_max_abs (d, "logits_steps", ref, n);
  max_err = MAX (max_err, logit_err);
  g_test_message ("%s %s: logits max abs error %g", gc->reference
      ? "reference" : "vulkan", llava_precision_name (gc->precision),
      max_err);
  margins = golden_margins ();
  if (oracle) {
    oracle_err = q8_0_check_forced (d, oracle, gen->len, ref, margins,
        max_err);
  } else {
    g_assert_cmpfloat (max_err, <=, logit_tolerance (gc->precision));
    /* top-1 agreement on every teacher-forced step (all margins are above
     * twice the observed error at f32 and f16) */
    checked = dumps_assert_top1 (d, "logits_steps", ref, n / gen->len,
        gen->len, margins, 2 * max_err);
    g_assert_cmpuint (checked, ==, gen->len);
  }
  g_array_free (margins, TRUE);
  g_free (ref);
  llava_result_clear (&r);
  dumps_free (d);

  /* greedy generation: ids and text exact (f32); at f16/q8_0 exact until
   * the first step whose golden top-2 margin is below 10× the logit error;
   * q8_0 also the oracle's ids, by the same rule with its margins */
  llava_generate_params_init (&p);
  p.max_new_tokens = gen->len;
  g_assert_true (llava_session_generate (s, img, N_FRAMES, golden_prompt (),
          &p, NULL, NULL, NULL, &r, &err));
  g_assert_no_error (err);
  if (f32) {
    char *path = g_build_filename (golden_dir (), "case.json", NULL);
    char *text = golden_case_string (path, "generated_text");
    g_assert_cmpuint (r.n_ids, ==, 12);
    g_assert_cmpmem (r.ids, r.n_ids * 4, gen->data, gen->len * 4);
    g_assert_cmpstr (r.text, ==, text);
    g_assert_cmpint (r.stop_reason, ==, LLAVA_STOP_MAX_TOKENS);
    g_free (text);
    g_free (path);
  } else {
    guint exact = golden_exact_prefix (gen, 10 * max_err);
    g_assert_cmpuint (r.n_ids, >=, exact);
    for (guint k = 0; k < exact; k++)
      g_assert_cmpint (r.ids[k], ==, g_array_index (gen, gint32, k));
    if (oracle)
      q8_0_check_greedy (&r, oracle, oracle_err);
  }
  /* the second window re-uses all 10 frames' features */
  g_assert_cmpuint (r.n_images_cached, ==, N_FRAMES);
  g_assert_cmpuint (r.n_images_encoded, ==, 0);
  llava_result_clear (&r);

  free_images (img, N_FRAMES);
  llava_session_free (s);
  llava_model_unref (m);
  if (oracle)
    q8_0_oracle_free (oracle);
done_ids:
  g_array_free (gen, TRUE);
  g_array_free (in_ids, TRUE);
  llava_safetensors_free (st);
}

/* The per-precision weight estimate (--inspect) is what the reference
 * backend holds once the model is loaded, byte for byte (the Vulkan backend
 * adds only alignment). */
static void
test_weight_bytes (void)
{
  static const LlavaPrecision prec[] = { LLAVA_PRECISION_F32,
    LLAVA_PRECISION_F16, LLAVA_PRECISION_Q8_0 };
  static const LlDType dt[] = { LL_F32, LL_F16, LL_Q8_0 };
  GError *err = NULL;
  LlavaCheckpoint *ck = llava_checkpoint_open (golden_dir (), &err);
  guint64 est[3];

  g_assert_no_error (err);
  for (guint i = 0; i < G_N_ELEMENTS (prec); i++) {
    LlavaModel *m = load_model (golden_dir (), prec[i], TRUE, 0, &err);
    guint64 used;

    g_assert_no_error (err);
    used = m->be->ops->memory_in_use (m->be);
    est[i] = llava_weights_host_bytes (ck, dt[i]);
    g_test_message ("%s: weights %" G_GUINT64_FORMAT " bytes",
        llava_precision_name (prec[i]), used);
    g_assert_cmpuint (est[i], ==, used);
    llava_model_unref (m);
  }
  /* q8_0 matrices: 36 bytes per 32 weights (f32 scales, backend.h) */
  g_assert_cmpuint (est[2], <, est[1]);
  g_assert_cmpuint (est[1], <, est[0]);
  llava_checkpoint_free (ck);
}

/* Prompt + frames longer than the context: a clear error. */
static void
test_context_error (void)
{
  GError *err = NULL;
  LlavaModel *m = load_model (golden_dir (), LLAVA_PRECISION_F32, TRUE, 100,
      &err);
  LlavaSession *s;
  LlavaImage **img;
  LlavaResult r;

  g_assert_no_error (err);
  s = llava_session_new (m, NULL, &err);
  g_assert_no_error (err);
  img = golden_images (m);
  g_assert_false (llava_session_generate (s, img, N_FRAMES, golden_prompt (),
          NULL, NULL, NULL, NULL, &r, &err));
  g_assert_error (err, LLAVA_ERROR, LLAVA_ERROR_CONTEXT);
  g_test_message ("%s", err->message);
  g_clear_error (&err);
  llava_result_clear (&r);
  free_images (img, N_FRAMES);
  llava_session_free (s);
  llava_model_unref (m);
}

typedef struct {
  LlavaModel *model;
  GArray *want;
  gboolean ok;
} ThreadRun;

static gpointer
thread_generate (gpointer data)
{
  ThreadRun *t = data;
  GError *err = NULL;
  LlavaSession *s = llava_session_new (t->model, NULL, &err);
  LlavaImage **img = golden_images (t->model);
  LlavaGenerateParams p;
  LlavaResult r;

  llava_generate_params_init (&p);
  p.max_new_tokens = t->want->len;
  t->ok = s && llava_session_generate (s, img, N_FRAMES, golden_prompt (), &p,
      NULL, NULL, NULL, &r, &err)
      && r.n_ids == t->want->len
      && memcmp (r.ids, t->want->data, r.n_ids * 4) == 0;
  if (err)
    g_printerr ("%s\n", err->message);
  g_clear_error (&err);
  llava_result_clear (&r);
  free_images (img, N_FRAMES);
  llava_session_free (s);
  return NULL;
}

static void
on_progress (double fraction, const char *what, gpointer user_data)
{
  double *last = user_data;
  g_assert_cmpfloat (fraction, >=, *last);
  g_assert_nonnull (what);
  *last = fraction;
}

/* One model shared by two sessions on two threads (as the element's worker
 * and a second element would); the model outlives the caller's reference
 * while sessions hold it; load reports progress up to 1. */
static void
test_shared_model (void)
{
  LlavaSafetensors *st = open_expected ();
  GArray *gen = expected_ids (st, "generated_ids");
  LlavaModelOptions o;
  double last = -1.0;
  GError *err = NULL;
  LlavaModel *m;
  ThreadRun a, b;
  GThread *ta, *tb;

  llava_model_options_init (&o);
  o.reference_backend = TRUE;
  o.precision = LLAVA_PRECISION_F32;
  o.progress = on_progress;
  o.progress_data = &last;
  m = llava_model_load (golden_dir (), &o, &err);
  g_assert_no_error (err);
  g_assert_cmpfloat (last, ==, 1.0);
  g_assert_cmpuint (llava_model_get_info (m)->tokens_per_image, ==, 16);
  g_assert_cmpint (llava_model_get_info (m)->precision, ==,
      LLAVA_PRECISION_F32);
  a = (ThreadRun) { llava_model_ref (m), gen, FALSE };
  b = (ThreadRun) { llava_model_ref (m), gen, FALSE };
  llava_model_unref (m);
  ta = g_thread_new ("a", thread_generate, &a);
  tb = g_thread_new ("b", thread_generate, &b);
  g_thread_join (ta);
  g_thread_join (tb);
  g_assert_true (a.ok);
  g_assert_true (b.ok);
  llava_model_unref (a.model);
  llava_model_unref (b.model);
  g_array_free (gen, TRUE);
  llava_safetensors_free (st);
}

int
main (int argc, char **argv)
{
  static const GoldenCase cases[] = {
    { LLAVA_PRECISION_F32, TRUE },
    { LLAVA_PRECISION_F32, FALSE },
    { LLAVA_PRECISION_F16, FALSE },
    { LLAVA_PRECISION_Q8_0, FALSE },
    { LLAVA_PRECISION_F16, TRUE },
    { LLAVA_PRECISION_Q8_0, TRUE },
  };

  g_test_init (&argc, &argv, NULL);
  if (!golden_dir ()) {
    g_printerr ("LLAVA_GOLDEN_DIR is not set\n");
    return 1;
  }
  g_test_add_func ("/model-run/preprocess/pixel-values-exact",
      test_preprocess_exact);
  g_test_add_func ("/model-run/preprocess/bad-frame",
      test_preprocess_bad_frame);
  g_test_add_func ("/model-run/frames/jpeg", test_jpeg_frames);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *name = g_strdup_printf ("/model-run/golden/%s/%s",
        cases[i].reference ? "reference" : "vulkan",
        llava_precision_name (cases[i].precision));
    g_test_add_data_func (name, &cases[i], test_golden);
    g_free (name);
  }
  g_test_add_func ("/model-run/golden/weight-bytes", test_weight_bytes);
  g_test_add_func ("/model-run/golden/context-error", test_context_error);
  g_test_add_func ("/model-run/golden/shared-model-two-threads",
      test_shared_model);
  return g_test_run ();
}
