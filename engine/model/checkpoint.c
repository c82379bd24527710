/* checkpoint.c — a model directory: config + the mmap'd safetensors file(s)
 * behind one name space (llava-hf names), checked against the config at
 * open so that a wrong or incomplete checkpoint fails before any upload.
 *
 * Only headers are read at open; tensor bytes are touched once, when a
 * tensor is converted (bf16/f16/f32 → the engine's format), so a 16 GB
 * checkpoint is never read twice nor copied whole. */
#include "model.h"
#include "safetensors.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  char *name;                   /* llava-hf name */
  const LlavaStTensor *t;       /* in `file`'s mapping */
  LlavaSafetensors *file;
} CkptEntry;

struct _LlavaCheckpoint {
  char *dir;
  LlavaConfig cfg;
  GPtrArray *files;             /* LlavaSafetensors* */
  GPtrArray *entries;           /* CkptEntry*, file order */
  GHashTable *by_name;          /* llava-hf name → CkptEntry* */
};

#define EMBED_NAME "language_model.model.embed_tokens.weight"
#define LM_HEAD_NAME "language_model.lm_head.weight"

static void
ckpt_entry_free (gpointer p)
{
  CkptEntry *e = p;
  g_free (e->name);
  g_free (e);
}

void
llava_checkpoint_free (LlavaCheckpoint *c)
{
  if (!c)
    return;
  if (c->by_name)
    g_hash_table_destroy (c->by_name);
  if (c->entries)
    g_ptr_array_unref (c->entries);
  if (c->files)
    g_ptr_array_unref (c->files);
  llava_config_clear (&c->cfg);
  g_free (c->dir);
  g_free (c);
}

/* lmms-lab (and transformers ≥ 4.52) names → llava-hf names, following the
 * HF converter's key map (MODEL.md §2.2):
 *   model.vision_tower.vision_tower.vision_model.X → vision_tower.vision_model.X
 *   model.vision_tower.vision_model.X (≥4.52)      → vision_tower.vision_model.X
 *   model.mm_projector.0.X / .2.X                  → multi_modal_projector.linear_1/2.X
 *   model.multi_modal_projector.X (≥4.52)          → multi_modal_projector.X
 *   model.language_model.X (≥4.52)                 → language_model.model.X
 *   model.X                                        → language_model.model.X
 *   lm_head.X                                      → language_model.lm_head.X
 * Rotary inv_freq buffers are not weights: NULL (skip). */
char *
llava_checkpoint_map_name (const char *s)
{
  if (g_str_has_suffix (s, ".inv_freq"))
    return NULL;
  if (g_str_has_prefix (s, "vision_tower.") || g_str_has_prefix (s, "multi_modal_projector.")
      || g_str_has_prefix (s, "language_model."))
    return g_strdup (s);
  if (g_str_has_prefix (s, "model.vision_tower.")) {
    const char *rest = s + strlen ("model.vision_tower.");
    if (g_str_has_prefix (rest, "vision_tower."))
      return g_strdup (rest);
    return g_strconcat ("vision_tower.", rest, NULL);
  }
  if (g_str_has_prefix (s, "model.mm_projector.0."))
    return g_strconcat ("multi_modal_projector.linear_1.",
        s + strlen ("model.mm_projector.0."), NULL);
  if (g_str_has_prefix (s, "model.mm_projector.2."))
    return g_strconcat ("multi_modal_projector.linear_2.",
        s + strlen ("model.mm_projector.2."), NULL);
  if (g_str_has_prefix (s, "model.multi_modal_projector."))
    return g_strdup (s + strlen ("model."));
  if (g_str_has_prefix (s, "model.language_model."))
    return g_strconcat ("language_model.model.", s + strlen ("model.language_model."), NULL);
  if (strcmp (s, "model.image_newline") == 0)
    return g_strdup ("image_newline");
  if (g_str_has_prefix (s, "model."))
    return g_strconcat ("language_model.", s, NULL);
  if (g_str_has_prefix (s, "lm_head."))
    return g_strconcat ("language_model.", s, NULL);
  return g_strdup (s);
}

static gboolean
ckpt_add_file (LlavaCheckpoint *c, LlavaSafetensors *st, GError **err)
{
  g_ptr_array_add (c->files, st);
  for (guint i = 0; i < llava_safetensors_n_tensors (st); i++) {
    const LlavaStTensor *t = llava_safetensors_get_nth (st, i);
    char *name = llava_checkpoint_map_name (t->name);
    CkptEntry *e, *prev;
    if (!name)
      continue;
    prev = g_hash_table_lookup (c->by_name, name);
    if (prev) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: tensor \"%s\" (as \"%s\") is also stored in %s", 
          llava_safetensors_get_name (st), t->name, name,
          llava_safetensors_get_name (prev->file));
      g_free (name);
      return FALSE;
    }
    e = g_new0 (CkptEntry, 1);
    e->name = name;
    e->t = t;
    e->file = st;
    g_ptr_array_add (c->entries, e);
    g_hash_table_insert (c->by_name, e->name, e);
  }
  return TRUE;
}

/* model.safetensors.index.json: {"weight_map": {tensor: "file", …}}.  Each
 * distinct shard is opened once; every listed tensor must be in its shard. */
static gboolean
ckpt_open_sharded (LlavaCheckpoint *c, const char *index_path, GError **err)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  g_autoptr (GError) jerr = NULL;
  g_autoptr (GHashTable) opened = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  JsonNode *root, *wm;
  JsonObject *map;
  GList *members, *l;
  gboolean ok = TRUE;

  if (!json_parser_load_from_file (p, index_path, &jerr)) {
    g_set_error (err, LLAVA_ERROR,
        jerr->domain == G_FILE_ERROR ? LLAVA_ERROR_FILE : LLAVA_ERROR_FORMAT,
        "%s: %s", index_path, jerr->message);
    return FALSE;
  }
  root = json_parser_get_root (p);
  wm = root && JSON_NODE_HOLDS_OBJECT (root)
      ? json_object_get_member (json_node_get_object (root), "weight_map") : NULL;
  if (!wm || !JSON_NODE_HOLDS_OBJECT (wm)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: no \"weight_map\" object", index_path);
    return FALSE;
  }
  map = json_node_get_object (wm);
  members = json_object_get_members (map);
  for (l = members; l && ok; l = l->next) {
    JsonNode *fn = json_object_get_member (map, l->data);
    const char *shard;
    LlavaSafetensors *st;
    if (!JSON_NODE_HOLDS_VALUE (fn) || json_node_get_value_type (fn) != G_TYPE_STRING) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: weight_map[\"%s\"] is not a file name", index_path, (char *) l->data);
      ok = FALSE;
      break;
    }
    shard = json_node_get_string (fn);
    /* shards live beside the index: no directories, no "..". */
    if (!*shard || strchr (shard, '/') || strchr (shard, '\\') || strcmp (shard, "..") == 0
        || strcmp (shard, ".") == 0) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: weight_map[\"%s\"] = \"%s\" is not a file in the model directory",
          index_path, (char *) l->data, shard);
      ok = FALSE;
      break;
    }
    st = g_hash_table_lookup (opened, shard);
    if (!st) {
      g_autofree char *path = g_build_filename (c->dir, shard, NULL);
      st = llava_safetensors_open (path, err);
      /* once added, c->files owns st */
      if (!st || !ckpt_add_file (c, st, err)) {
        ok = FALSE;
        break;
      }
      g_hash_table_insert (opened, g_strdup (shard), st);
    }
    if (!llava_safetensors_find (st, l->data)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: tensor \"%s\" is listed in %s but missing from the file",
          llava_safetensors_get_name (st), (char *) l->data, index_path);
      ok = FALSE;
    }
  }
  g_list_free (members);
  return ok;
}

/* ---- the tensors the config implies (llava-hf names, PyTorch shapes) ---- */

typedef struct {
  char *name;
  gint64 shape[4];
  guint n_dims;
} CkptExpect;

static void
expect_add (GArray *a, char *name, guint n_dims, gint64 d0, gint64 d1,
    gint64 d2, gint64 d3)
{
  CkptExpect e = { name, {d0, d1, d2, d3}, n_dims };
  g_array_append_val (a, e);
}

static void
expect_clear (gpointer p)
{
  g_free (((CkptExpect *) p)->name);
}

/* Every tensor the model graph reads.  post_layernorm and image_newline are
 * optional (unused); lm_head is optional when tied. */
static GArray *
ckpt_expected (const LlavaConfig *cfg)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (CkptExpect));
  gint64 vh = cfg->v_hidden, vi = cfg->v_intermediate, p = cfg->v_patch_size;
  gint64 grid = cfg->v_image_size / cfg->v_patch_size;
  gint64 th = cfg->t_hidden, ti = cfg->t_intermediate;
  gint64 qd = (gint64) cfg->t_heads * cfg->t_head_dim;
  gint64 kvd = (gint64) cfg->t_kv_heads * cfg->t_head_dim;
  const char *vp = "vision_tower.vision_model.";

  g_array_set_clear_func (a, expect_clear);
#define V(n, ...) expect_add (a, g_strconcat (vp, n, NULL), __VA_ARGS__)
  V ("embeddings.patch_embedding.weight", 4, vh, cfg->v_channels, p, p);
  V ("embeddings.patch_embedding.bias", 1, vh, 0, 0, 0);
  V ("embeddings.position_embedding.weight", 2, grid * grid, vh, 0, 0);
#undef V
  for (guint l = 0; l < cfg->v_layers; l++) {
    static const char *sq[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
#define VL(fmt, ...) expect_add (a, g_strdup_printf ("%sencoder.layers.%u." fmt, vp, l), __VA_ARGS__)
    VL ("layer_norm1.weight", 1, vh, 0, 0, 0);
    VL ("layer_norm1.bias", 1, vh, 0, 0, 0);
    for (guint k = 0; k < 4; k++) {
      expect_add (a, g_strdup_printf ("%sencoder.layers.%u.self_attn.%s.weight", vp, l, sq[k]),
          2, vh, vh, 0, 0);
      expect_add (a, g_strdup_printf ("%sencoder.layers.%u.self_attn.%s.bias", vp, l, sq[k]),
          1, vh, 0, 0, 0);
    }
    VL ("layer_norm2.weight", 1, vh, 0, 0, 0);
    VL ("layer_norm2.bias", 1, vh, 0, 0, 0);
    VL ("mlp.fc1.weight", 2, vi, vh, 0, 0);
    VL ("mlp.fc1.bias", 1, vi, 0, 0, 0);
    VL ("mlp.fc2.weight", 2, vh, vi, 0, 0);
    VL ("mlp.fc2.bias", 1, vh, 0, 0, 0);
#undef VL
  }
  expect_add (a, g_strdup ("multi_modal_projector.linear_1.weight"), 2, th, vh, 0, 0);
  expect_add (a, g_strdup ("multi_modal_projector.linear_1.bias"), 1, th, 0, 0, 0);
  expect_add (a, g_strdup ("multi_modal_projector.linear_2.weight"), 2, th, th, 0, 0);
  expect_add (a, g_strdup ("multi_modal_projector.linear_2.bias"), 1, th, 0, 0, 0);
  expect_add (a, g_strdup (EMBED_NAME), 2, cfg->t_vocab, th, 0, 0);
  for (guint l = 0; l < cfg->t_layers; l++) {
#define TL(fmt, ...) expect_add (a, g_strdup_printf ("language_model.model.layers.%u." fmt, l), __VA_ARGS__)
    TL ("input_layernorm.weight", 1, th, 0, 0, 0);
    TL ("self_attn.q_proj.weight", 2, qd, th, 0, 0);
    TL ("self_attn.q_proj.bias", 1, qd, 0, 0, 0);
    TL ("self_attn.k_proj.weight", 2, kvd, th, 0, 0);
    TL ("self_attn.k_proj.bias", 1, kvd, 0, 0, 0);
    TL ("self_attn.v_proj.weight", 2, kvd, th, 0, 0);
    TL ("self_attn.v_proj.bias", 1, kvd, 0, 0, 0);
    TL ("self_attn.o_proj.weight", 2, th, qd, 0, 0);
    TL ("post_attention_layernorm.weight", 1, th, 0, 0, 0);
    TL ("mlp.gate_proj.weight", 2, ti, th, 0, 0);
    TL ("mlp.up_proj.weight", 2, ti, th, 0, 0);
    TL ("mlp.down_proj.weight", 2, th, ti, 0, 0);
#undef TL
  }
  expect_add (a, g_strdup ("language_model.model.norm.weight"), 1, th, 0, 0, 0);
  return a;
}

static char *
shape_str (const gint64 *shape, guint n_dims)
{
  GString *s = g_string_new ("[");
  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
ckpt_check_entry (const CkptEntry *e, const char *name, const gint64 *shape,
    guint n_dims, GError **err)
{
  gboolean same = e->t->n_dims == n_dims;
  for (guint d = 0; same && d < n_dims; d++)
    same = e->t->shape[d] == shape[d];
  if (!same) {
    g_autofree char *have = shape_str (e->t->shape, e->t->n_dims);
    g_autofree char *want = shape_str (shape, n_dims);
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: tensor \"%s\" has shape %s but the config implies %s",
        llava_safetensors_get_name (e->file), name, have, want);
    return FALSE;
  }
  if (!llava_st_dtype_is_float (e->t->dtype)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: tensor \"%s\" has dtype %s (a float type is needed)",
        llava_safetensors_get_name (e->file), name,
        llava_st_dtype_name (e->t->dtype));
    return FALSE;
  }
  return TRUE;
}

static gboolean
ckpt_validate (LlavaCheckpoint *c, GError **err)
{
  g_autoptr (GArray) exp = ckpt_expected (&c->cfg);
  const char *where = c->files->len == 1
      ? llava_safetensors_get_name (g_ptr_array_index (c->files, 0)) : c->dir;

  for (guint i = 0; i < exp->len; i++) {
    CkptExpect *x = &g_array_index (exp, CkptExpect, i);
    CkptEntry *e = g_hash_table_lookup (c->by_name, x->name);
    if (!e) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: missing tensor \"%s\"", where, x->name);
      return FALSE;
    }
    if (!ckpt_check_entry (e, x->name, x->shape, x->n_dims, err))
      return FALSE;
  }
  {
    CkptEntry *e = g_hash_table_lookup (c->by_name, LM_HEAD_NAME);
    gint64 shape[2] = { c->cfg.t_vocab, c->cfg.t_hidden };
    if (e && !ckpt_check_entry (e, LM_HEAD_NAME, shape, 2, err))
      return FALSE;
    if (!e && !c->cfg.tie_embeddings) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: missing tensor \"%s\" (tie_word_embeddings is false)", where,
          LM_HEAD_NAME);
      return FALSE;
    }
  }
  return TRUE;
}

LlavaCheckpoint *
llava_checkpoint_open (const char *dir, GError **err)
{
  LlavaCheckpoint *c = g_new0 (LlavaCheckpoint, 1);
  g_autofree char *index = NULL;
  g_autofree char *single = NULL;

  c->dir = g_strdup (dir);
  c->files = g_ptr_array_new_with_free_func ((GDestroyNotify) llava_safetensors_free);
  c->entries = g_ptr_array_new_with_free_func (ckpt_entry_free);
  c->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE,
        "%s: not a model directory (no such directory)", dir);
    goto fail;
  }
  if (!llava_config_load (&c->cfg, dir, err))
    goto fail;

  index = g_build_filename (dir, "model.safetensors.index.json", NULL);
  single = g_build_filename (dir, "model.safetensors", NULL);
  if (g_file_test (index, G_FILE_TEST_EXISTS)) {
    if (!ckpt_open_sharded (c, index, err))
      goto fail;
  } else if (g_file_test (single, G_FILE_TEST_EXISTS)) {
    LlavaSafetensors *st = llava_safetensors_open (single, err);
    if (!st)
      goto fail;
    if (!ckpt_add_file (c, st, err))
      goto fail;
  } else {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE,
        "%s: no model.safetensors or model.safetensors.index.json", dir);
    goto fail;
  }
  if (!ckpt_validate (c, err))
    goto fail;
  return c;

fail:
  llava_checkpoint_free (c);
  return NULL;
}

const LlavaConfig *
llava_checkpoint_get_config (const LlavaCheckpoint *c)
{
  return &c->cfg;
}

const char *
llava_checkpoint_get_dir (const LlavaCheckpoint *c)
{
  return c->dir;
}

static const CkptEntry *
ckpt_lookup (const LlavaCheckpoint *c, const char *name)
{
  const CkptEntry *e = g_hash_table_lookup (c->by_name, name);
  if (!e && strcmp (name, LM_HEAD_NAME) == 0)
    e = g_hash_table_lookup (c->by_name, EMBED_NAME);
  return e;
}

gboolean
llava_checkpoint_has (const LlavaCheckpoint *c, const char *name)
{
  return ckpt_lookup (c, name) != NULL;
}

static const CkptEntry *
ckpt_get_checked (LlavaCheckpoint *c, const char *name, const gint64 *shape,
    guint n_dims, GError **err)
{
  const CkptEntry *e = ckpt_lookup (c, name);
  if (!e) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: missing tensor \"%s\"", c->dir, name);
    return NULL;
  }
  if (shape && !ckpt_check_entry (e, name, shape, n_dims, err))
    return NULL;
  if (!llava_st_dtype_is_float (e->t->dtype)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: tensor \"%s\" has dtype %s (a float type is needed)",
        llava_safetensors_get_name (e->file), name,
        llava_st_dtype_name (e->t->dtype));
    return NULL;
  }
  return e;
}

float *
llava_checkpoint_read_f32 (LlavaCheckpoint *c, const char *name,
    const gint64 *shape, guint n_dims, GError **err)
{
  const CkptEntry *e = ckpt_get_checked (c, name, shape, n_dims, err);
  return e ? llava_st_tensor_to_f32 (e->t) : NULL;
}

/* rows = shape[0], cols = the product of the rest (a 1-D tensor is one row):
 * a conv weight [N, C, p, p] becomes [N, C·p·p], its im2col layout. */
static void
ckpt_rows_cols (const LlavaStTensor *t, guint64 *rows, guint64 *cols)
{
  if (t->n_dims <= 1) {
    *rows = 1;
    *cols = t->n_dims ? (guint64) t->shape[0] : 1;
    return;
  }
  *rows = (guint64) t->shape[0];
  *cols = llava_st_tensor_n_elements (t) / MAX (*rows, 1);
}

void *
llava_checkpoint_read (LlavaCheckpoint *c, const char *name,
    const gint64 *shape, guint n_dims, LlDType dtype, gsize *size_out,
    GError **err)
{
  const CkptEntry *e = ckpt_get_checked (c, name, shape, n_dims, err);
  guint64 rows, cols;
  guint8 *out;
  float *row;

  if (!e)
    return NULL;
  ckpt_rows_cols (e->t, &rows, &cols);
  if (rows > G_MAXUINT32 || cols > G_MAXUINT32 || dtype == LL_I32) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
        "%s: tensor \"%s\" cannot be held as %s [%" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT "]", llava_safetensors_get_name (e->file), name,
        ll_dtype_name (dtype), rows, cols);
    return NULL;
  }
  if (dtype == LL_F32) {
    if (size_out)
      *size_out = rows * cols * 4;
    return llava_st_tensor_to_f32 (e->t);
  }
  /* Row by row through a one-row f32 buffer: the only full-size allocation
   * is the result. */
  out = g_malloc (ll_dtype_host_size (dtype, rows, cols));
  row = g_new (float, cols);
  if (dtype == LL_F16) {
    guint16 *h = (guint16 *) out;
    for (guint64 r = 0; r < rows; r++) {
      llava_st_tensor_to_f32_range (e->t, r * cols, cols, row);
      for (guint64 k = 0; k < cols; k++)
        h[r * cols + k] = ll_float_to_half (row[k]);
    }
  } else {                      /* LL_Q8_0: qs[rows][kp] then d[rows][kp/32] */
    gsize kp = ll_q8_0_row_stride ((guint32) cols);
    gsize nb = kp / LL_Q8_0_BLOCK;
    float *d = (float *) (out + rows * kp);
    for (guint64 r = 0; r < rows; r++) {
      void *one;
      llava_st_tensor_to_f32_range (e->t, r * cols, cols, row);
      one = ll_convert_from_f32 (LL_Q8_0, row, 1, (guint32) cols);
      memcpy (out + r * kp, one, kp);
      memcpy (d + r * nb, (guint8 *) one + kp, nb * sizeof (float));
      g_free (one);
    }
  }
  g_free (row);
  if (size_out)
    *size_out = ll_dtype_host_size (dtype, rows, cols);
  return out;
}

void
llava_checkpoint_foreach (const LlavaCheckpoint *c, LlavaTensorInfoFunc func,
    gpointer user_data)
{
  for (guint i = 0; i < c->entries->len; i++) {
    const CkptEntry *e = g_ptr_array_index (c->entries, i);
    func (e->name, llava_st_dtype_name (e->t->dtype), e->t->shape, e->t->n_dims,
        user_data);
  }
}

guint64
llava_checkpoint_n_params (const LlavaCheckpoint *c)
{
  guint64 n = 0;
  for (guint i = 0; i < c->entries->len; i++) {
    const CkptEntry *e = g_ptr_array_index (c->entries, i);
    n += llava_st_tensor_n_elements (e->t);
  }
  return n;
}

guint
llava_checkpoint_n_files (const LlavaCheckpoint *c)
{
  return c->files->len;
}
