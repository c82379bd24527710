/* tokenizer.c — loading a Qwen2 byte-level BPE tokenizer from a model
 * directory: tokenizer.json, or vocab.json + merges.txt (the files the slow
 * Qwen2Tokenizer reads), plus added tokens from added_tokens.json /
 * tokenizer_config.json and the special-token set from
 * tokenizer_config.json / special_tokens_map.json.
 *
 * Behaviour follows transformers' slow Qwen2Tokenizer (the reference the
 * test vectors were made with; see docs/tokenizer.md):
 *   - NFC runs on the whole text *before* added tokens are split out;
 *   - skip_special drops only the slow tokenizer's all_special_ids (bos,
 *     eos, unk, pad, additional_special_tokens), so <image> is kept. */
#include "tokenizer-private.h"
#include "../llava.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* ---- GPT-2 byte ↔ unicode map ---- */

static gboolean
byte_is_printable (guint b)
{
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

gunichar
llava_byte_to_unichar (guint8 b)
{
  guint n = 0;
  if (byte_is_printable (b))
    return b;
  /* the k-th non-printable byte (in byte order) maps to U+0100 + k */
  for (guint i = 0; i < b; i++)
    if (!byte_is_printable (i))
      n++;
  return 256 + n;
}

int
llava_unichar_to_byte (gunichar c)
{
  guint n = 0;
  if (c < 256)
    return byte_is_printable (c) ? (int) c : -1;
  if (c >= 256 + 68)
    return -1;
  for (guint b = 0; b < 256; b++) {
    if (!byte_is_printable (b)) {
      if (256 + n == c)
        return (int) b;
      n++;
    }
  }
  return -1;
}

/* ---- merge table ---- */

static guint64
merge_hash (guint64 k)
{
  k ^= k >> 33;
  k *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  k ^= k >> 33;
  return k;
}

static void
merge_table_init (LlavaMergeTable *m, gsize n)
{
  gsize cap = 16;
  while (cap < n * 2)
    cap <<= 1;
  m->keys = g_new (guint64, cap);
  memset (m->keys, 0xff, cap * sizeof (guint64));
  m->ranks = g_new (guint32, cap);
  m->ids = g_new (gint32, cap);
  m->mask = cap - 1;
}

static void
merge_table_clear (LlavaMergeTable *m)
{
  g_clear_pointer (&m->keys, g_free);
  g_clear_pointer (&m->ranks, g_free);
  g_clear_pointer (&m->ids, g_free);
}

/* First insertion wins (a later duplicate merge line never applies). */
static void
merge_table_insert (LlavaMergeTable *m, gint32 a, gint32 b, guint32 rank, gint32 id)
{
  guint64 key = ((guint64) (guint32) a << 32) | (guint32) b;
  gsize i = merge_hash (key) & m->mask;
  while (m->keys[i] != G_MAXUINT64) {
    if (m->keys[i] == key)
      return;
    i = (i + 1) & m->mask;
  }
  m->keys[i] = key;
  m->ranks[i] = rank;
  m->ids[i] = id;
}

gboolean
llava_merge_lookup (const LlavaMergeTable *m, gint32 a, gint32 b,
    guint32 *rank, gint32 *id)
{
  guint64 key = ((guint64) (guint32) a << 32) | (guint32) b;
  gsize i = merge_hash (key) & m->mask;
  while (m->keys[i] != G_MAXUINT64) {
    if (m->keys[i] == key) {
      *rank = m->ranks[i];
      *id = m->ids[i];
      return TRUE;
    }
    i = (i + 1) & m->mask;
  }
  return FALSE;
}

/* ---- loading ---- */

void
llava_tokenizer_free (LlavaTokenizer *t)
{
  if (!t)
    return;
  if (t->vocab)
    g_hash_table_destroy (t->vocab);
  if (t->id_bytes) {
    for (guint i = 0; i < t->n_ids; i++)
      if (t->id_bytes[i])
        g_bytes_unref (t->id_bytes[i]);
    g_free (t->id_bytes);
  }
  merge_table_clear (&t->merges);
  for (guint i = 0; i < t->n_added; i++)
    g_free (t->added[i].content);
  g_free (t->added);
  if (t->added_by_id)
    g_hash_table_destroy (t->added_by_id);
  if (t->special_ids)
    g_hash_table_destroy (t->special_ids);
  g_free (t);
}

static JsonNode *
tok_parse_json (const char *path, JsonParser *p, GError **err)
{
  g_autoptr (GError) jerr = NULL;
  JsonNode *root;
  if (!json_parser_load_from_file (p, path, &jerr)) {
    g_set_error (err, LLAVA_ERROR,
        jerr->domain == G_FILE_ERROR ? LLAVA_ERROR_FILE : LLAVA_ERROR_FORMAT,
        "%s: %s", path, jerr->message);
    return NULL;
  }
  root = json_parser_get_root (p);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT, "%s: not a JSON object", path);
    return NULL;
  }
  return root;
}

static gboolean
tok_json_id (JsonNode *n, gint32 *out)
{
  gint64 v;
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (n);
  if (v < 0 || v >= (1 << 24))  /* far above any vocabulary; keeps tables small */
    return FALSE;
  *out = (gint32) v;
  return TRUE;
}

/* vocab: {"byte-level string": id, …} */
static gboolean
tok_set_vocab (LlavaTokenizer *t, JsonObject *vocab, const char *file, GError **err)
{
  GList *members = json_object_get_members (vocab);
  gboolean ok = TRUE;

  for (GList *l = members; l; l = l->next) {
    gint32 id;
    if (!tok_json_id (json_object_get_member (vocab, l->data), &id)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: vocabulary entry \"%s\" has no valid id", file, (char *) l->data);
      ok = FALSE;
      break;
    }
    g_hash_table_insert (t->vocab, g_strdup (l->data), GINT_TO_POINTER (id));
    t->n_ids = MAX (t->n_ids, (guint) id + 1);
  }
  g_list_free (members);
  return ok;
}

/* id → raw bytes through the inverse byte map; every base token must be
 * made of mapped characters, and every byte must have its own token. */
static gboolean
tok_build_id_bytes (LlavaTokenizer *t, const char *file, GError **err)
{
  GHashTableIter it;
  gpointer k, v;

  t->id_bytes = g_new0 (GBytes *, t->n_ids);
  for (int b = 0; b < 256; b++)
    t->byte_id[b] = -1;
  g_hash_table_iter_init (&it, t->vocab);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    const char *s = k;
    gint32 id = GPOINTER_TO_INT (v);
    GByteArray *ba = g_byte_array_new ();
    gboolean bad = !g_utf8_validate (s, -1, NULL);
    for (const char *p = s; !bad && *p; p = g_utf8_next_char (p)) {
      int b = llava_unichar_to_byte (g_utf8_get_char (p));
      if (b < 0)
        bad = TRUE;
      else {
        guint8 byte = (guint8) b;
        g_byte_array_append (ba, &byte, 1);
      }
    }
    if (bad || ba->len == 0) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: vocabulary token \"%s\" (id %d) is not byte-level BPE text",
          file, s, id);
      g_byte_array_unref (ba);
      return FALSE;
    }
    if (ba->len == 1 && t->byte_id[ba->data[0]] < 0)
      t->byte_id[ba->data[0]] = id;
    if (t->id_bytes[id])
      g_bytes_unref (t->id_bytes[id]);
    t->id_bytes[id] = g_byte_array_free_to_bytes (ba);
  }
  for (int b = 0; b < 256; b++) {
    if (t->byte_id[b] < 0) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: no token for byte 0x%02x", file, b);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
tok_add_merge (LlavaTokenizer *t, const char *a, const char *b, guint32 rank,
    const char *file, GError **err)
{
  gpointer ia, ib, iab;
  g_autofree char *ab = g_strconcat (a, b, NULL);
  if (!g_hash_table_lookup_extended (t->vocab, a, NULL, &ia)
      || !g_hash_table_lookup_extended (t->vocab, b, NULL, &ib)
      || !g_hash_table_lookup_extended (t->vocab, ab, NULL, &iab)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: merge %u \"%s %s\" uses a token that is not in the vocabulary",
        file, rank + 1, a, b);
    return FALSE;
  }
  merge_table_insert (&t->merges, GPOINTER_TO_INT (ia), GPOINTER_TO_INT (ib),
      rank, GPOINTER_TO_INT (iab));
  return TRUE;
}

static gboolean
tok_load_merges_txt (LlavaTokenizer *t, const char *path, GError **err)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) ferr = NULL;
  gsize len;
  guint32 rank = 0;
  char *line, *next;
  gsize n_lines = 1;

  if (!g_file_get_contents (path, &text, &len, &ferr)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE, "%s: %s", path, ferr->message);
    return FALSE;
  }
  for (gsize i = 0; i < len; i++)
    n_lines += text[i] == '\n';
  merge_table_init (&t->merges, n_lines);
  for (line = text; line && *line; line = next) {
    char *sp, *end;
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    end = line + strlen (line);
    if (end > line && end[-1] == '\r')
      *--end = '\0';
    if (line == text && g_str_has_prefix (line, "#version"))
      continue;
    if (*line == '\0')
      continue;
    sp = strchr (line, ' ');
    if (!sp || sp == line || sp[1] == '\0' || strchr (sp + 1, ' ')) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: line \"%s\" is not a merge \"A B\"", path, line);
      return FALSE;
    }
    *sp = '\0';
    if (!tok_add_merge (t, line, sp + 1, rank++, path, err))
      return FALSE;
  }
  return TRUE;
}

/* tokenizer.json "merges": ["A B", …] or [["A", "B"], …] */
static gboolean
tok_load_merges_json (LlavaTokenizer *t, JsonArray *merges, const char *file,
    GError **err)
{
  guint n = json_array_get_length (merges);
  merge_table_init (&t->merges, n);
  for (guint i = 0; i < n; i++) {
    JsonNode *e = json_array_get_element (merges, i);
    if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING) {
      const char *s = json_node_get_string (e);
      const char *sp = strchr (s, ' ');
      g_autofree char *a = NULL;
      if (!sp || sp == s || !sp[1] || strchr (sp + 1, ' ')) {
        g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
            "%s: merges[%u] \"%s\" is not \"A B\"", file, i, s);
        return FALSE;
      }
      a = g_strndup (s, sp - s);
      if (!tok_add_merge (t, a, sp + 1, i, file, err))
        return FALSE;
    } else if (JSON_NODE_HOLDS_ARRAY (e) && json_array_get_length (json_node_get_array (e)) == 2) {
      JsonArray *p = json_node_get_array (e);
      JsonNode *na = json_array_get_element (p, 0), *nb = json_array_get_element (p, 1);
      if (!JSON_NODE_HOLDS_VALUE (na) || json_node_get_value_type (na) != G_TYPE_STRING
          || !JSON_NODE_HOLDS_VALUE (nb) || json_node_get_value_type (nb) != G_TYPE_STRING) {
        g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
            "%s: merges[%u] is not a pair of strings", file, i);
        return FALSE;
      }
      if (!tok_add_merge (t, json_node_get_string (na), json_node_get_string (nb), i,
              file, err))
        return FALSE;
    } else {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: merges[%u] is neither \"A B\" nor [\"A\", \"B\"]", file, i);
      return FALSE;
    }
  }
  return TRUE;
}

/* Added tokens accumulate in a content → id table; duplicates must agree. */
static gboolean
tok_note_added (GHashTable *added, const char *content, gint32 id,
    const char *file, GError **err)
{
  gpointer prev;
  if (!*content) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: empty added token (id %d)", file, id);
    return FALSE;
  }
  if (!g_utf8_validate (content, -1, NULL)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: added token %d is not valid UTF-8", file, id);
    return FALSE;
  }
  if (g_hash_table_lookup_extended (added, content, NULL, &prev)
      && GPOINTER_TO_INT (prev) != id) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "%s: added token \"%s\" has id %d here but %d elsewhere", file, content,
        id, GPOINTER_TO_INT (prev));
    return FALSE;
  }
  g_hash_table_insert (added, g_strdup (content), GINT_TO_POINTER (id));
  return TRUE;
}

/* A special token named in tokenizer_config / special_tokens_map: a string
 * or {"content": …}. */
static const char *
tok_token_content (JsonNode *n)
{
  if (!n)
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  if (JSON_NODE_HOLDS_OBJECT (n)) {
    JsonNode *c = json_object_get_member (json_node_get_object (n), "content");
    if (c && JSON_NODE_HOLDS_VALUE (c) && json_node_get_value_type (c) == G_TYPE_STRING)
      return json_node_get_string (c);
  }
  return NULL;
}

/* The slow tokenizer's all_special_tokens: bos, eos, unk, pad and
 * additional_special_tokens. */
static void
tok_collect_special_names (JsonObject *o, GHashTable *names)
{
  static const char *keys[] = { "bos_token", "eos_token", "unk_token",
    "pad_token", "sep_token", "cls_token", "mask_token" };
  JsonNode *extra;
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    const char *s = tok_token_content (json_object_get_member (o, keys[i]));
    if (s)
      g_hash_table_add (names, g_strdup (s));
  }
  extra = json_object_get_member (o, "additional_special_tokens");
  if (extra && JSON_NODE_HOLDS_ARRAY (extra)) {
    JsonArray *a = json_node_get_array (extra);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      const char *s = tok_token_content (json_array_get_element (a, i));
      if (s)
        g_hash_table_add (names, g_strdup (s));
    }
  }
}

/* added_tokens.json {content: id} or tokenizer_config.json
 * added_tokens_decoder {id: {content, special}} or tokenizer.json
 * added_tokens [{id, content, special}]; `marked_special` collects the
 * contents flagged special (the fallback special set). */
static gboolean
tok_read_added_decoder (JsonObject *dec, GHashTable *added,
    GHashTable *marked_special, const char *file, GError **err)
{
  GList *members = json_object_get_members (dec);
  gboolean ok = TRUE;
  for (GList *l = members; l && ok; l = l->next) {
    JsonNode *n = json_object_get_member (dec, l->data);
    char *end;
    gint64 id = g_ascii_strtoll (l->data, &end, 10);
    const char *content = tok_token_content (n);
    if (*end || id < 0 || id >= (1 << 24) || !content) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: added_tokens_decoder[\"%s\"] is not {\"content\": …} under an id",
          file, (char *) l->data);
      ok = FALSE;
      break;
    }
    ok = tok_note_added (added, content, (gint32) id, file, err);
    if (ok && JSON_NODE_HOLDS_OBJECT (n)) {
      JsonNode *sp = json_object_get_member (json_node_get_object (n), "special");
      if (sp && JSON_NODE_HOLDS_VALUE (sp) && json_node_get_value_type (sp) == G_TYPE_BOOLEAN
          && json_node_get_boolean (sp))
        g_hash_table_add (marked_special, g_strdup (content));
    }
  }
  g_list_free (members);
  return ok;
}

static gboolean
tok_read_added_list (JsonArray *a, GHashTable *added, GHashTable *marked_special,
    const char *file, GError **err)
{
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *n = json_array_get_element (a, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
    const char *content = o ? tok_token_content (n) : NULL;
    gint32 id;
    JsonNode *sp;
    if (!o || !content || !tok_json_id (json_object_get_member (o, "id"), &id)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: added_tokens[%u] is not {\"id\", \"content\"}", file, i);
      return FALSE;
    }
    if (!tok_note_added (added, content, id, file, err))
      return FALSE;
    sp = json_object_get_member (o, "special");
    if (sp && JSON_NODE_HOLDS_VALUE (sp) && json_node_get_value_type (sp) == G_TYPE_BOOLEAN
        && json_node_get_boolean (sp))
      g_hash_table_add (marked_special, g_strdup (content));
  }
  return TRUE;
}

static int
added_cmp_len (const void *a, const void *b)
{
  const LlavaAddedToken *x = a, *y = b;
  return (x->len < y->len) - (x->len > y->len);   /* longest first */
}

static gboolean
tok_finish (LlavaTokenizer *t, GHashTable *added, GHashTable *special_names,
    GHashTable *marked_special, const char *dir, GError **err)
{
  GHashTableIter it;
  gpointer k, v;
  guint i = 0;

  t->n_added = g_hash_table_size (added);
  t->added = g_new0 (LlavaAddedToken, MAX (t->n_added, 1));
  g_hash_table_iter_init (&it, added);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    LlavaAddedToken *a = &t->added[i++];
    a->content = g_strdup (k);
    a->len = strlen (k);
    a->id = GPOINTER_TO_INT (v);
    if (a->id < (gint32) t->n_ids && t->id_bytes[a->id]) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: added token \"%s\" reuses base vocabulary id %d", dir,
          a->content, a->id);
      return FALSE;
    }
  }
  qsort (t->added, t->n_added, sizeof (LlavaAddedToken), added_cmp_len);
  t->added_by_id = g_hash_table_new (g_direct_hash, g_direct_equal);
  t->special_ids = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (i = 0; i < t->n_added; i++) {
    LlavaAddedToken *a = &t->added[i];
    if (!g_hash_table_contains (t->added_by_id, GINT_TO_POINTER (a->id)))
      g_hash_table_insert (t->added_by_id, GINT_TO_POINTER (a->id), a);
    t->added_first[(guint8) a->content[0]] = 1;
    /* the named special tokens if the files name any, else those flagged */
    if (g_hash_table_size (special_names)
        ? g_hash_table_contains (special_names, a->content)
        : g_hash_table_contains (marked_special, a->content))
      g_hash_table_add (t->special_ids, GINT_TO_POINTER (a->id));
  }
  return TRUE;
}

LlavaTokenizer *
llava_tokenizer_load (const char *dir, GError **err)
{
  LlavaTokenizer *t = g_new0 (LlavaTokenizer, 1);
  g_autofree char *tj = g_build_filename (dir, "tokenizer.json", NULL);
  g_autofree char *vj = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *mt = g_build_filename (dir, "merges.txt", NULL);
  g_autofree char *aj = g_build_filename (dir, "added_tokens.json", NULL);
  g_autofree char *tc = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_autofree char *sm = g_build_filename (dir, "special_tokens_map.json", NULL);
  g_autoptr (GHashTable) added = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) special_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) marked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  t->vocab = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* The slow tokenizer's files first; tokenizer.json alone also works. */
  if (g_file_test (vj, G_FILE_TEST_EXISTS) && g_file_test (mt, G_FILE_TEST_EXISTS)) {
    g_autoptr (JsonParser) p = json_parser_new_immutable ();
    JsonNode *root = tok_parse_json (vj, p, err);
    if (!root || !tok_set_vocab (t, json_node_get_object (root), vj, err)
        || !tok_build_id_bytes (t, vj, err) || !tok_load_merges_txt (t, mt, err))
      goto fail;
  } else if (g_file_test (tj, G_FILE_TEST_EXISTS)) {
    g_autoptr (JsonParser) p = json_parser_new_immutable ();
    JsonNode *root = tok_parse_json (tj, p, err);
    JsonObject *model;
    JsonNode *vn, *mn, *an, *tn;
    if (!root)
      goto fail;
    vn = json_object_get_member (json_node_get_object (root), "model");
    model = vn && JSON_NODE_HOLDS_OBJECT (vn) ? json_node_get_object (vn) : NULL;
    tn = model ? json_object_get_member (model, "type") : NULL;
    if (!model || (tn && g_strcmp0 (json_node_get_string (tn), "BPE") != 0)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
          "%s: the tokenizer model is not BPE", tj);
      goto fail;
    }
    vn = json_object_get_member (model, "vocab");
    mn = json_object_get_member (model, "merges");
    if (!vn || !JSON_NODE_HOLDS_OBJECT (vn) || !mn || !JSON_NODE_HOLDS_ARRAY (mn)) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
          "%s: model.vocab / model.merges missing", tj);
      goto fail;
    }
    if (!tok_set_vocab (t, json_node_get_object (vn), tj, err)
        || !tok_build_id_bytes (t, tj, err)
        || !tok_load_merges_json (t, json_node_get_array (mn), tj, err))
      goto fail;
    an = json_object_get_member (json_node_get_object (root), "added_tokens");
    if (an && JSON_NODE_HOLDS_ARRAY (an)
        && !tok_read_added_list (json_node_get_array (an), added, marked, tj, err))
      goto fail;
  } else {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FILE,
        "%s: no tokenizer (neither vocab.json + merges.txt nor tokenizer.json)", dir);
    goto fail;
  }

  if (g_file_test (aj, G_FILE_TEST_EXISTS)) {
    g_autoptr (JsonParser) p = json_parser_new_immutable ();
    JsonNode *root = tok_parse_json (aj, p, err);
    JsonObject *o;
    GList *members;
    gboolean ok = TRUE;
    if (!root)
      goto fail;
    o = json_node_get_object (root);
    members = json_object_get_members (o);
    for (GList *l = members; l && ok; l = l->next) {
      gint32 id;
      if (!tok_json_id (json_object_get_member (o, l->data), &id)) {
        g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
            "%s: \"%s\" has no valid id", aj, (char *) l->data);
        ok = FALSE;
      } else
        ok = tok_note_added (added, l->data, id, aj, err);
    }
    g_list_free (members);
    if (!ok)
      goto fail;
  }
  for (int f = 0; f < 2; f++) {
    const char *path = f == 0 ? tc : sm;
    g_autoptr (JsonParser) p = json_parser_new_immutable ();
    JsonNode *root, *dec;
    if (!g_file_test (path, G_FILE_TEST_EXISTS))
      continue;
    root = tok_parse_json (path, p, err);
    if (!root)
      goto fail;
    tok_collect_special_names (json_node_get_object (root), special_names);
    dec = json_object_get_member (json_node_get_object (root), "added_tokens_decoder");
    if (dec && JSON_NODE_HOLDS_OBJECT (dec)
        && !tok_read_added_decoder (json_node_get_object (dec), added, marked, path, err))
      goto fail;
  }
  if (!tok_finish (t, added, special_names, marked, dir, err))
    goto fail;
  return t;

fail:
  llava_tokenizer_free (t);
  return NULL;
}

gint32
llava_tokenizer_token_id (const LlavaTokenizer *t, const char *token)
{
  gpointer v;
  GString *bl;
  gint32 id = -1;

  for (guint i = 0; i < t->n_added; i++)
    if (strcmp (t->added[i].content, token) == 0)
      return t->added[i].id;
  if (g_hash_table_lookup_extended (t->vocab, token, NULL, &v))
    return GPOINTER_TO_INT (v);
  /* raw text → byte-level form ("\n" → "Ċ") */
  bl = g_string_new (NULL);
  for (const guint8 *p = (const guint8 *) token; *p; p++)
    g_string_append_unichar (bl, llava_byte_to_unichar (*p));
  if (g_hash_table_lookup_extended (t->vocab, bl->str, NULL, &v))
    id = GPOINTER_TO_INT (v);
  g_string_free (bl, TRUE);
  return id;
}

gboolean
llava_tokenizer_is_special (const LlavaTokenizer *t, gint32 id)
{
  return g_hash_table_contains (t->special_ids, GINT_TO_POINTER (id));
}

guint
llava_tokenizer_vocab_size (const LlavaTokenizer *t)
{
  guint n = t->n_ids;
  for (guint i = 0; i < t->n_added; i++)
    n = MAX (n, (guint) t->added[i].id + 1);
  return n;
}
