/* test-vk-split-model.c — the golden model on Vulkan with the feature cache
 * and inputs_embeds split in row chunks, as they are at the 7B width on a
 * device whose maxStorageBufferRange is 128 MiB (lavapipe): the model's
 * backend gets a lowered binding limit (ll_backend_vulkan_set_max_binding)
 * after the weights are loaded and before the session is made, so that
 * only the session's activations are affected.
 *
 * The limit cannot go below one logits row (152000 f32 = 608000 bytes), and
 * at f32 the KV cache [Hkv·ctx, D] is as big as inputs_embeds [ctx, d]
 * (Hkv·D = d here) while rope_kv / attention need it in one binding, so:
 *   /vk-split-model/f32: feature cache split (200 slots × 16 × 64 f32 =
 *     819200 bytes in chunks of 2375 rows), the golden frames placed in the
 *     slots 140..149 that straddle the chunk border; greedy ids exactly the
 *     golden generated_ids (case.json) and logits bit-identical to an
 *     unsplit session's.
 *   /vk-split-model/f16: the same plus inputs_embeds split (context 4096:
 *     [4096, 64] f32 = 1 MiB in 2 chunks; the f16 KV cache, 512 KiB, stays
 *     whole); ids and logits bit-identical to an unsplit session's.
 * The prompt (176 tokens + 12 generated) stays inside the first
 * inputs_embeds chunk (2375 rows): rows crossing that border are covered
 * by test-vk-ops' /vk/.../split-activations. */
#include "llava.h"
#include "llava-private.h"
#include "vk/vk_backend.h"
#include "tools/image_io.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define N_FRAMES 10
#define LIMIT 608000u           /* bytes: one 152000-float logits row */
#define N_SLOTS 200
#define N_PRIME 14              /* requests of 10 new frames before the golden one */

static const char *
golden_dir (void)
{
  return g_getenv ("LLAVA_GOLDEN_DIR");
}

/* case.json's generated_ids */
static GArray *
golden_ids (void)
{
  char *path = g_build_filename (golden_dir (), "case.json", NULL);
  JsonParser *p = json_parser_new ();
  GError *err = NULL;
  g_assert_true (json_parser_load_from_file (p, path, &err));
  g_assert_no_error (err);
  JsonObject *root = json_node_get_object (json_parser_get_root (p));
  JsonArray *a = json_object_get_array_member (root, "generated_ids");
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 v = (gint32) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  g_object_unref (p);
  g_free (path);
  g_assert_cmpuint (ids->len, >, 0);
  return ids;
}

typedef struct {
  guint8 *rgb[N_FRAMES];
  guint w[N_FRAMES], h[N_FRAMES];
} Frames;

static void
frames_load (Frames *fr)
{
  for (guint i = 0; i < N_FRAMES; i++) {
    char name[32];
    GError *err = NULL;
    g_snprintf (name, sizeof name, "frame_%02u.png", i);
    char *p = g_build_filename (golden_dir (), "frames", name, NULL);
    fr->rgb[i] = llava_image_io_load_rgb (p, &fr->w[i], &fr->h[i], &err);
    g_assert_no_error (err);
    g_free (p);
  }
}

static void
frames_clear (Frames *fr)
{
  for (guint i = 0; i < N_FRAMES; i++)
    g_free (fr->rgb[i]);
}

static void
collect_logits (const char *name, const float *data, const gint64 *shape,
    guint nd, gpointer user_data)
{
  if (strcmp (name, "logits_steps") != 0)
    return;
  gsize n = 1;
  for (guint i = 0; i < nd; i++)
    n *= (gsize) shape[i];
  g_array_append_vals ((GArray *) user_data, data, (guint) n);
}

/* One request on the 10 golden frames with image keys key0.. (new keys:
 * new feature slots); logits != NULL collects logits_steps. */
static void
generate (LlavaModel *m, LlavaSession *s, Frames *fr, guint64 key0,
    guint max_new, GArray *logits, LlavaResult *r)
{
  LlavaImage *img[N_FRAMES];
  GError *err = NULL;
  for (guint i = 0; i < N_FRAMES; i++) {
    LlavaFrame f = { fr->rgb[i], fr->w[i], fr->h[i], (gsize) fr->w[i] * 3,
      LLAVA_PIXEL_RGB };
    img[i] = llava_image_new_from_frame (m, &f, key0 + i, &err);
    g_assert_no_error (err);
  }
  LlavaGenerateParams p;
  llava_generate_params_init (&p);
  p.max_new_tokens = max_new;
  if (logits) {
    p.dump = collect_logits;
    p.dump_data = logits;
  }
  g_assert_true (llava_session_generate (s, img, N_FRAMES,
          "Describe what happens in this video.", &p, NULL, NULL, NULL, r,
          &err));
  g_assert_no_error (err);
  for (guint i = 0; i < N_FRAMES; i++)
    llava_image_free (img[i]);
}

static void
test_split (gconstpointer data)
{
  LlavaPrecision prec = GPOINTER_TO_INT (data);
  gboolean f32 = prec == LLAVA_PRECISION_F32;
  LlavaModelOptions opt;
  GError *err = NULL;

  llava_model_options_init (&opt);
  opt.precision = prec;
  LlavaModel *m = llava_model_load (golden_dir (), &opt, &err);
  if (!m) {
    if (g_error_matches (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE)) {
      g_test_skip_printf ("no Vulkan device: %s", err->message);
      g_error_free (err);
      return;
    }
    g_error ("model load failed: %s", err->message);
  }
  LlBackend *be = m->be;
  const LlavaModelInfo *info = llava_model_get_info (m);
  guint64 d = info->text_hidden, tokens = info->tokens_per_image;
  Frames fr;
  frames_load (&fr);

  /* f16: a context long enough for inputs_embeds to be split */
  LlavaSessionOptions so = { .context_size = f32 ? 0 : 4096,
    .feature_cache_size = N_SLOTS };

  /* unsplit: the comparison run */
  g_assert_cmpuint (ll_backend_vulkan_max_binding (be), >, 16u << 20);
  LlavaSession *s = llava_session_new (m, &so, &err);
  g_assert_no_error (err);
  GArray *want = g_array_new (FALSE, FALSE, sizeof (float));
  LlavaResult ra, rb;
  GArray *gold = golden_ids ();
  generate (m, s, &fr, 100, gold->len, want, &ra);
  llava_session_free (s);

  /* split */
  g_assert_true (ll_backend_vulkan_set_max_binding (be, LIMIT));
  g_assert_cmpuint (ll_backend_vulkan_max_binding (be), ==, LIMIT);
  guint64 chunk_rows = LIMIT / (d * 4);
  guint64 feat_bytes = N_SLOTS * tokens * d * 4;
  g_assert_cmpuint (feat_bytes, >, LIMIT);
  /* the golden frames' slots N_PRIME·10 .. +9 straddle a chunk border */
  guint64 first = N_PRIME * N_FRAMES * tokens;
  guint64 last = (N_PRIME + 1) * N_FRAMES * tokens - 1;
  g_assert_cmpuint (first / chunk_rows, !=, last / chunk_rows);
  if (!f32) {
    guint64 emb_bytes = (guint64) so.context_size * d * 4;
    guint64 kv_bytes = (guint64) info->kv_heads * so.context_size
        * (d / info->heads) * 2;
    g_assert_cmpuint (emb_bytes, >, LIMIT);
    g_assert_cmpuint (kv_bytes, <=, LIMIT);
  }
  s = llava_session_new (m, &so, &err);
  g_assert_no_error (err);
  for (guint k = 0; k < N_PRIME; k++) {
    generate (m, s, &fr, 1000 + 100 * k, 1, NULL, &rb);
    g_assert_cmpuint (rb.n_images_encoded, ==, N_FRAMES);
    llava_result_clear (&rb);
  }
  GArray *got = g_array_new (FALSE, FALSE, sizeof (float));
  generate (m, s, &fr, 100, gold->len, got, &rb);
  g_assert_cmpuint (rb.n_images_encoded, ==, N_FRAMES);

  g_test_message ("%s: %u ids, %u logits; unsplit %u ids",
      llava_precision_name (prec), rb.n_ids, got->len, ra.n_ids);
  g_assert_cmpuint (rb.n_ids, ==, ra.n_ids);
  g_assert_cmpmem (rb.ids, rb.n_ids * 4, ra.ids, ra.n_ids * 4);
  g_assert_cmpuint (got->len, ==, want->len);
  g_assert_cmpuint (got->len, >=, (guint64) gold->len * info->vocab_size);
  g_assert_cmpmem (got->data, got->len * 4, want->data, want->len * 4);
  if (f32)
    g_assert_cmpmem (rb.ids, rb.n_ids * 4, gold->data, gold->len * 4);

  llava_result_clear (&ra);
  llava_result_clear (&rb);
  llava_session_free (s);
  g_array_free (got, TRUE);
  g_array_free (want, TRUE);
  g_array_free (gold, TRUE);
  frames_clear (&fr);
  llava_model_unref (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/vk-split-model/f32",
      GINT_TO_POINTER (LLAVA_PRECISION_F32), test_split);
  g_test_add_data_func ("/vk-split-model/f16",
      GINT_TO_POINTER (LLAVA_PRECISION_F16), test_split);
  return g_test_run ();
}
