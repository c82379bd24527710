/* safetensors.c — mmap'd safetensors reader with a validated header, and a
 * small writer.
 *
 * File layout: u64 little-endian N, N bytes of JSON header, data area.  The
 * header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}
 * (offsets relative to the data area) plus an optional "__metadata__"
 * object of strings.  Everything in the header is untrusted: sizes are
 * checked with overflow-safe arithmetic before any pointer is formed. */
#include "safetensors.h"
#include "../llava.h"
#include "../backend.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <glib/gstdio.h>

/* The header is small (about 100 bytes per tensor): 100 MB is far more than
 * any real checkpoint needs and keeps a hostile N from making us parse
 * gigabytes of JSON. */
#define ST_MAX_HEADER (100u * 1024 * 1024)

struct _LlavaSafetensors {
  char *name;                   /* path (or caller's name) for errors */
  GMappedFile *mapped;          /* NULL for in-memory data */
  const guint8 *data;           /* data area */
  gsize data_size;
  LlavaStTensor *tensors;       /* in data-offset order */
  guint n_tensors;
  GHashTable *by_name;          /* name → LlavaStTensor* (names owned by tensors) */
};

static const struct {
  const char *name;
  LlavaStDType dtype;
  gsize size;
} st_dtypes[] = {
  {"F32", LLAVA_ST_F32, 4}, {"F16", LLAVA_ST_F16, 2}, {"BF16", LLAVA_ST_BF16, 2},
  {"F64", LLAVA_ST_F64, 8}, {"I64", LLAVA_ST_I64, 8}, {"I32", LLAVA_ST_I32, 4},
  {"I16", LLAVA_ST_I16, 2}, {"I8", LLAVA_ST_I8, 1}, {"U8", LLAVA_ST_U8, 1},
  {"BOOL", LLAVA_ST_BOOL, 1},
};

const char *
llava_st_dtype_name (LlavaStDType t)
{
  for (guint i = 0; i < G_N_ELEMENTS (st_dtypes); i++)
    if (st_dtypes[i].dtype == t)
      return st_dtypes[i].name;
  return "?";
}

gsize
llava_st_dtype_size (LlavaStDType t)
{
  for (guint i = 0; i < G_N_ELEMENTS (st_dtypes); i++)
    if (st_dtypes[i].dtype == t)
      return st_dtypes[i].size;
  return 0;
}

static gboolean
st_dtype_from_name (const char *s, LlavaStDType *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (st_dtypes); i++) {
    if (strcmp (s, st_dtypes[i].name) == 0) {
      *out = st_dtypes[i].dtype;
      return TRUE;
    }
  }
  return FALSE;
}

void
llava_safetensors_free (LlavaSafetensors *st)
{
  if (!st)
    return;
  if (st->by_name)
    g_hash_table_destroy (st->by_name);
  for (guint i = 0; i < st->n_tensors; i++)
    g_free ((char *) st->tensors[i].name);
  g_free (st->tensors);
  if (st->mapped)
    g_mapped_file_unref (st->mapped);
  g_free (st->name);
  g_free (st);
}

/* A non-negative JSON integer (json-glib keeps integers as gint64; a float
 * or string is rejected). */
static gboolean
st_json_uint (JsonNode *n, gint64 *out)
{
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return *out >= 0;
}

static int
st_cmp_offset (const void *a, const void *b)
{
  const LlavaStTensor *x = a, *y = b;
  const guint8 *px = x->data, *py = y->data;
  if (px != py)
    return px < py ? -1 : 1;
  return (x->size > y->size) - (x->size < y->size);
}

/* Sets a LLAVA_ERROR_FORMAT naming the file and the tensor; returns FALSE. */
static gboolean G_GNUC_PRINTF (4, 5)
st_bad (LlavaSafetensors *st, const char *tname, GError **err,
    const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: tensor \"%s\": %s",
      st->name, tname, msg);
  return FALSE;
}

static gboolean
st_parse_tensor (LlavaSafetensors *st, const char *tname, JsonNode *node,
    LlavaStTensor *t, GError **err)
{
  JsonObject *o;
  JsonNode *dn, *sn, *on;
  JsonArray *shape, *offs;
  gint64 begin, end;
  guint64 n_elem = 1;
  gsize esize;

#define BAD(...) return st_bad (st, tname, err, __VA_ARGS__)

  if (!JSON_NODE_HOLDS_OBJECT (node))
    BAD ("header entry is not an object");
  o = json_node_get_object (node);
  dn = json_object_get_member (o, "dtype");
  sn = json_object_get_member (o, "shape");
  on = json_object_get_member (o, "data_offsets");
  if (!dn || !JSON_NODE_HOLDS_VALUE (dn)
      || json_node_get_value_type (dn) != G_TYPE_STRING)
    BAD ("no \"dtype\" string");
  if (!st_dtype_from_name (json_node_get_string (dn), &t->dtype))
    BAD ("unknown dtype \"%s\"", json_node_get_string (dn));
  if (!sn || !JSON_NODE_HOLDS_ARRAY (sn))
    BAD ("no \"shape\" array");
  if (!on || !JSON_NODE_HOLDS_ARRAY (on))
    BAD ("no \"data_offsets\" array");
  shape = json_node_get_array (sn);
  offs = json_node_get_array (on);
  if (json_array_get_length (shape) > LLAVA_ST_MAX_DIMS)
    BAD ("%u dimensions (at most %d supported)", json_array_get_length (shape),
        LLAVA_ST_MAX_DIMS);
  t->n_dims = json_array_get_length (shape);
  for (guint d = 0; d < t->n_dims; d++) {
    gint64 v;
    if (!st_json_uint (json_array_get_element (shape, d), &v))
      BAD ("shape[%u] is not a non-negative integer", d);
    t->shape[d] = v;
    /* n_elem * v must stay below 2^62 (bytes are checked below) */
    if (v != 0 && n_elem > (G_GUINT64_CONSTANT (1) << 62) / (guint64) v)
      BAD ("shape overflows");
    n_elem *= (guint64) v;
  }
  if (json_array_get_length (offs) != 2
      || !st_json_uint (json_array_get_element (offs, 0), &begin)
      || !st_json_uint (json_array_get_element (offs, 1), &end))
    BAD ("\"data_offsets\" is not two non-negative integers");
  if (end < begin)
    BAD ("data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] are reversed",
        begin, end);
  if ((guint64) end > st->data_size)
    BAD ("data_offsets end %" G_GINT64_FORMAT " is past the end of the data "
        "(%" G_GSIZE_FORMAT " bytes; file truncated?)", end, st->data_size);
  esize = llava_st_dtype_size (t->dtype);
  if (n_elem > G_MAXUINT64 / esize || n_elem * esize != (guint64) (end - begin))
    BAD ("%" G_GINT64_FORMAT " bytes of data for %" G_GUINT64_FORMAT
        " elements of %s (expected %" G_GUINT64_FORMAT ")", end - begin, n_elem,
        llava_st_dtype_name (t->dtype), n_elem * esize);
  t->data = st->data + begin;
  t->size = (gsize) (end - begin);
  t->name = g_strdup (tname);
  return TRUE;
#undef BAD
}

static gboolean
st_parse (LlavaSafetensors *st, const guint8 *file, gsize file_size,
    GError **err)
{
  guint64 hlen = 0;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) jerr = NULL;
  JsonNode *root;
  JsonObject *obj;
  GList *members, *l;
  guint n = 0;

  if (file_size < 8) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE,
        "%s: truncated file (%" G_GSIZE_FORMAT " bytes, a safetensors file "
        "starts with an 8-byte header length)", st->name, file_size);
    return FALSE;
  }
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | file[i];
  if (hlen > file_size - 8) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE,
        "%s: header length %" G_GUINT64_FORMAT " is longer than the file "
        "(%" G_GSIZE_FORMAT " bytes; truncated or not a safetensors file)",
        st->name, hlen, file_size);
    return FALSE;
  }
  if (hlen > ST_MAX_HEADER || hlen < 2) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: header length %" G_GUINT64_FORMAT " out of range (2..%u)",
        st->name, hlen, ST_MAX_HEADER);
    return FALSE;
  }
  st->data = file + 8 + hlen;
  st->data_size = file_size - 8 - hlen;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, (const char *) file + 8, (gssize) hlen,
          &jerr)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: header is not valid JSON: %s", st->name, jerr->message);
    return FALSE;
  }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: header is not a JSON object", st->name);
    return FALSE;
  }
  obj = json_node_get_object (root);
  members = json_object_get_members (obj);
  st->tensors = g_new0 (LlavaStTensor, g_list_length (members));
  for (l = members; l; l = l->next) {
    const char *tname = l->data;
    if (strcmp (tname, "__metadata__") == 0)
      continue;
    if (!st_parse_tensor (st, tname, json_object_get_member (obj, tname),
            &st->tensors[n], err)) {
      g_list_free (members);
      return FALSE;
    }
    n++;
    st->n_tensors = n;
  }
  g_list_free (members);

  /* No two tensors may share bytes (zero-size tensors share nothing). */
  if (n > 1) {
    LlavaStTensor *sorted = g_memdup2 (st->tensors, sizeof (LlavaStTensor) * n);
    qsort (sorted, n, sizeof (LlavaStTensor), st_cmp_offset);
    for (guint i = 1; i < n; i++) {
      const LlavaStTensor *a = &sorted[i - 1], *b = &sorted[i];
      if (a->size && b->size && (const guint8 *) a->data + a->size > (const guint8 *) b->data) {
        g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
            "%s: tensors \"%s\" and \"%s\" overlap in the data area",
            st->name, a->name, b->name);
        g_free (sorted);
        return FALSE;
      }
    }
    g_free (sorted);
  }

  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    g_hash_table_insert (st->by_name, (char *) st->tensors[i].name, &st->tensors[i]);
  return TRUE;
}

LlavaSafetensors *
llava_safetensors_new_from_data (const guint8 *data, gsize size,
    const char *name_for_errors, GError **err)
{
  LlavaSafetensors *st = g_new0 (LlavaSafetensors, 1);
  st->name = g_strdup (name_for_errors ? name_for_errors : "(memory)");
  if (!st_parse (st, data, size, err)) {
    llava_safetensors_free (st);
    return NULL;
  }
  return st;
}

LlavaSafetensors *
llava_safetensors_open (const char *path, GError **err)
{
  LlavaSafetensors *st = g_new0 (LlavaSafetensors, 1);
  g_autoptr (GError) ferr = NULL;

  st->name = g_strdup (path);
  st->mapped = g_mapped_file_new (path, FALSE, &ferr);
  if (!st->mapped) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s: %s", path,
        ferr->message);
    llava_safetensors_free (st);
    return NULL;
  }
  if (!st_parse (st, (const guint8 *) g_mapped_file_get_contents (st->mapped),
          g_mapped_file_get_length (st->mapped), err)) {
    llava_safetensors_free (st);
    return NULL;
  }
  return st;
}

guint
llava_safetensors_n_tensors (const LlavaSafetensors *st)
{
  return st->n_tensors;
}

const LlavaStTensor *
llava_safetensors_get_nth (const LlavaSafetensors *st, guint i)
{
  return i < st->n_tensors ? &st->tensors[i] : NULL;
}

const LlavaStTensor *
llava_safetensors_find (const LlavaSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

const char *
llava_safetensors_get_name (const LlavaSafetensors *st)
{
  return st->name;
}

guint64
llava_st_tensor_n_elements (const LlavaStTensor *t)
{
  guint64 n = 1;
  for (guint d = 0; d < t->n_dims; d++)
    n *= (guint64) t->shape[d];
  return n;
}

gboolean
llava_st_dtype_is_float (LlavaStDType t)
{
  return t == LLAVA_ST_F32 || t == LLAVA_ST_F16 || t == LLAVA_ST_BF16
      || t == LLAVA_ST_F64;
}

/* The data may be unaligned (the header length is arbitrary), so elements
 * are read with memcpy, which compilers turn into plain loads. */
void
llava_st_tensor_to_f32_range (const LlavaStTensor *t, guint64 first,
    guint64 n, float *out)
{
  const guint8 *p = t->data;
  switch (t->dtype) {
    case LLAVA_ST_F32:
      memcpy (out, p + first * 4, n * 4);
      break;
    case LLAVA_ST_F16:
      for (guint64 i = 0; i < n; i++) {
        guint16 h;
        memcpy (&h, p + (first + i) * 2, 2);
        out[i] = ll_half_to_float (GUINT16_FROM_LE (h));
      }
      break;
    case LLAVA_ST_BF16:
      for (guint64 i = 0; i < n; i++) {
        guint16 h;
        memcpy (&h, p + (first + i) * 2, 2);
        out[i] = ll_bf16_to_float (GUINT16_FROM_LE (h));
      }
      break;
    case LLAVA_ST_F64:
      for (guint64 i = 0; i < n; i++) {
        double d;
        memcpy (&d, p + (first + i) * 8, 8);
        out[i] = (float) d;
      }
      break;
    default:
      g_return_if_reached ();
  }
}

float *
llava_st_tensor_to_f32 (const LlavaStTensor *t)
{
  guint64 n;
  float *out;

  if (!llava_st_dtype_is_float (t->dtype))
    return NULL;
  n = llava_st_tensor_n_elements (t);
  out = g_new (float, MAX (n, 1));
  llava_st_tensor_to_f32_range (t, 0, n, out);
  return out;
}

/* ---- writer ---- */

typedef struct {
  char *name;
  LlavaStDType dtype;
  guint n_dims;
  gint64 shape[LLAVA_ST_MAX_DIMS];
  void *data;
  gsize size;
} StWriterEntry;

struct _LlavaStWriter {
  GPtrArray *entries;           /* StWriterEntry*, in insertion order */
};

static void
st_writer_entry_free (gpointer p)
{
  StWriterEntry *e = p;
  g_free (e->name);
  g_free (e->data);
  g_free (e);
}

LlavaStWriter *
llava_st_writer_new (void)
{
  LlavaStWriter *w = g_new0 (LlavaStWriter, 1);
  w->entries = g_ptr_array_new_with_free_func (st_writer_entry_free);
  return w;
}

void
llava_st_writer_free (LlavaStWriter *w)
{
  if (!w)
    return;
  g_ptr_array_unref (w->entries);
  g_free (w);
}

void
llava_st_writer_add (LlavaStWriter *w, const char *name, LlavaStDType dtype,
    const gint64 *shape, guint n_dims, const void *data)
{
  StWriterEntry *e;
  gsize n = 1;

  g_return_if_fail (n_dims <= LLAVA_ST_MAX_DIMS);
  e = g_new0 (StWriterEntry, 1);
  e->name = g_strdup (name);
  e->dtype = dtype;
  e->n_dims = n_dims;
  for (guint d = 0; d < n_dims; d++) {
    g_return_if_fail (shape[d] >= 0);
    e->shape[d] = shape[d];
    n *= (gsize) shape[d];
  }
  e->size = n * llava_st_dtype_size (dtype);
  e->data = g_memdup2 (data, e->size);
  g_ptr_array_add (w->entries, e);
}

gboolean
llava_st_writer_write (LlavaStWriter *w, const char *path, GError **err)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *header = NULL;
  g_autofree char *tmp = NULL;
  gsize hlen, padded, offset = 0;
  guint8 lenbuf[8];
  FILE *f;
  gboolean ok = TRUE;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "pt");
  json_builder_end_object (b);
  for (guint i = 0; i < w->entries->len; i++) {
    StWriterEntry *e = g_ptr_array_index (w->entries, i);
    json_builder_set_member_name (b, e->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, llava_st_dtype_name (e->dtype));
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (guint d = 0; d < e->n_dims; d++)
      json_builder_add_int_value (b, e->shape[d]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, (gint64) offset);
    json_builder_add_int_value (b, (gint64) (offset + e->size));
    json_builder_end_array (b);
    json_builder_end_object (b);
    offset += e->size;
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  header = json_generator_to_data (gen, &hlen);
  /* pad with spaces so the data area starts 8-byte aligned */
  padded = (hlen + 7) & ~(gsize) 7;
  header = g_realloc (header, padded + 1);
  memset (header + hlen, ' ', padded - hlen);
  header[padded] = '\0';
  for (int i = 0; i < 8; i++)
    lenbuf[i] = (guint8) (((guint64) padded >> (8 * i)) & 0xff);

  /* write to a temporary name, then rename: a reader never sees half a file */
  tmp = g_strconcat (path, ".tmp", NULL);
  f = fopen (tmp, "wb");
  if (!f) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s: cannot create: %s",
        tmp, g_strerror (errno));
    return FALSE;
  }
  ok = fwrite (lenbuf, 1, 8, f) == 8 && fwrite (header, 1, padded, f) == padded;
  for (guint i = 0; ok && i < w->entries->len; i++) {
    StWriterEntry *e = g_ptr_array_index (w->entries, i);
    ok = fwrite (e->data, 1, e->size, f) == e->size;
  }
  if (fclose (f) != 0)
    ok = FALSE;
  if (!ok) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s: write failed: %s",
        tmp, g_strerror (errno));
    g_unlink (tmp);
    return FALSE;
  }
  if (g_rename (tmp, path) != 0) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s: cannot rename to %s: %s",
        tmp, path, g_strerror (errno));
    g_unlink (tmp);
    return FALSE;
  }
  return TRUE;
}
