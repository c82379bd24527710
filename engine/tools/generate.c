/* generate.c — `llava-run --frames … --prompt …`: frames and a prompt in,
 * text (or JSON, or a tensor dump) out. */
#include "run.h"

#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "../llava.h"
#include "../model/safetensors.h"
#include "image_io.h"

typedef struct {
  LlavaStWriter *w;
  GArray *logits_steps;         /* float rows of `vocab` */
  gint64 vocab;
} Dump;

static void
on_dump (const char *name, const float *data, const gint64 *shape, guint nd,
    gpointer user_data)
{
  Dump *d = user_data;
  gint64 n = 1;

  for (guint i = 0; i < nd; i++)
    n *= shape[i];
  if (strcmp (name, "logits_steps") == 0) {
    /* one [1, vocab] row per step; written as [steps, vocab] at the end */
    d->vocab = shape[nd - 1];
    g_array_append_vals (d->logits_steps, data, n);
    return;
  }
  llava_st_writer_add (d->w, name, LLAVA_ST_F32, shape, nd, data);
}

static gboolean
on_token (gint32 id, const char *text, gpointer user_data)
{
  fputs (text, stdout);
  fflush (stdout);
  return TRUE;
}

static void
add_ids (JsonBuilder *b, const char *name, const gint32 *ids, guint n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_int_value (b, ids[i]);
  json_builder_end_array (b);
}

static void
print_json (const LlavaResult *r, const LlavaModelInfo *info)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *g = json_generator_new ();
  JsonNode *root;
  char *s;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, r->text);
  add_ids (b, "generated_ids", r->ids, r->n_ids);
  add_ids (b, "input_ids", r->input_ids, r->n_input_ids);
  json_builder_set_member_name (b, "n_prompt_tokens");
  json_builder_add_int_value (b, r->n_prompt_tokens);
  json_builder_set_member_name (b, "stop_reason");
  json_builder_add_string_value (b, llava_stop_reason_name (r->stop_reason));
  json_builder_set_member_name (b, "timings_ms");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "preprocess");
  json_builder_add_double_value (b, r->preprocess_ms);
  json_builder_set_member_name (b, "vision");
  json_builder_add_double_value (b, r->vision_ms);
  json_builder_set_member_name (b, "prefill");
  json_builder_add_double_value (b, r->prefill_ms);
  json_builder_set_member_name (b, "decode");
  json_builder_add_double_value (b, r->decode_ms);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "images_encoded");
  json_builder_add_int_value (b, r->n_images_encoded);
  json_builder_set_member_name (b, "images_cached");
  json_builder_add_int_value (b, r->n_images_cached);
  json_builder_set_member_name (b, "peak_device_bytes");
  json_builder_add_int_value (b, (gint64) r->peak_device_bytes);
  json_builder_set_member_name (b, "precision");
  json_builder_add_string_value (b, llava_precision_name (info->precision));
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, info->device);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  json_generator_set_pretty (g, TRUE);
  s = json_generator_to_data (g, NULL);
  printf ("%s\n", s);
  g_free (s);
  json_node_unref (root);
  g_object_unref (g);
  g_object_unref (b);
}

int
llava_run_generate (const LlavaRunArgs *a)
{
  LlavaModelOptions mo;
  LlavaGenerateParams gp;
  LlavaModel *model = NULL;
  LlavaSession *session = NULL;
  GPtrArray *images = g_ptr_array_new_with_free_func (
      (GDestroyNotify) llava_image_free);
  GArray *forced = g_array_new (FALSE, FALSE, sizeof (gint32));
  LlavaResult res;
  Dump dump = { NULL, NULL, 0 };
  GError *err = NULL;
  guint n_frames = a->frames ? g_strv_length (a->frames) : 0;
  int rc = 1;

  memset (&res, 0, sizeof res);
  llava_model_options_init (&mo);
  mo.device_index = a->device;
  mo.reference_backend = a->reference;
  mo.max_frames = MAX (n_frames, 16);
  if (a->precision && !llava_precision_from_string (a->precision,
          &mo.precision)) {
    fprintf (stderr, "llava-run: unknown precision \"%s\" (auto, f32, f16, "
        "q8_0)\n", a->precision);
    goto out;
  }
  if (a->max_new_tokens <= 0) {
    fprintf (stderr, "llava-run: --max-new-tokens must be positive\n");
    goto out;
  }
  if (a->teacher_force && !llava_run_parse_ids (a->teacher_force, forced,
          &err))
    goto fail;

  if (!(model = llava_model_load (a->model, &mo, &err)))
    goto fail;
  for (guint i = 0; i < n_frames; i++) {
    guint w, h;
    guint8 *px = llava_image_io_load_rgb (a->frames[i], &w, &h, &err);
    LlavaFrame f;
    LlavaImage *img;

    if (!px)
      goto fail;
    f.data = px;
    f.width = w;
    f.height = h;
    f.stride = (gsize) w * 3;
    f.format = LLAVA_PIXEL_RGB;
    img = llava_image_new_from_frame (model, &f, i + 1, &err);
    g_free (px);
    if (!img) {
      g_prefix_error (&err, "%s: ", a->frames[i]);
      goto fail;
    }
    g_ptr_array_add (images, img);
  }
  if (!(session = llava_session_new (model, NULL, &err)))
    goto fail;

  llava_generate_params_init (&gp);
  gp.system_prompt = a->system;
  gp.max_new_tokens = a->max_new_tokens;
  gp.temperature = a->temperature;
  gp.top_k = a->top_k > 0 ? a->top_k : 0;
  gp.top_p = a->top_p;
  gp.seed = a->seed;
  if (forced->len) {
    gp.teacher_force = (const gint32 *) forced->data;
    gp.n_teacher_force = forced->len;
  }
  if (a->dump_tensors) {
    dump.w = llava_st_writer_new ();
    dump.logits_steps = g_array_new (FALSE, FALSE, sizeof (float));
    gp.dump = on_dump;
    gp.dump_data = &dump;
  }
  if (!llava_session_generate (session,
          (LlavaImage * const *) images->pdata, images->len,
          a->prompt ? a->prompt : "", &gp, a->json ? NULL : on_token, NULL,
          NULL, &res, &err))
    goto fail;

  if (a->json)
    print_json (&res, llava_model_get_info (model));
  else
    printf ("\n");
  if (dump.w) {
    gint64 shape[2] = { dump.vocab ? dump.logits_steps->len / dump.vocab : 0,
      dump.vocab };
    gint32 *ids64src = res.ids;
    gint64 *gen = g_new (gint64, MAX (res.n_ids, 1));
    gint64 gshape[1] = { res.n_ids };

    for (guint i = 0; i < res.n_ids; i++)
      gen[i] = ids64src[i];
    if (shape[0] > 0)
      llava_st_writer_add (dump.w, "logits_steps", LLAVA_ST_F32, shape, 2,
          dump.logits_steps->data);
    llava_st_writer_add (dump.w, "generated_ids", LLAVA_ST_I64, gshape, 1,
        gen);
    g_free (gen);
    if (!llava_st_writer_write (dump.w, a->dump_tensors, &err))
      goto fail;
  }
  rc = 0;
  goto out;

fail:
  fprintf (stderr, "llava-run: %s\n", err->message);
  g_clear_error (&err);
out:
  llava_result_clear (&res);
  llava_session_free (session);
  g_ptr_array_unref (images);
  llava_model_unref (model);
  g_array_free (forced, TRUE);
  if (dump.w)
    llava_st_writer_free (dump.w);
  if (dump.logits_steps)
    g_array_free (dump.logits_steps, TRUE);
  return rc;
}
