/* bpe.c — encoding: NFC, added tokens split out, pre-tokenizer, BPE.
 *
 * BPE merges the adjacent pair of lowest merge rank until none is left.
 * Python's reference merges every occurrence of the best pair left to
 * right in one pass; a min-heap ordered by (rank, position) over a linked
 * list of symbols gives the same result in O(n log n) rather than O(n²),
 * which matters for long runs of letters (a 1 MB word). */
#include "tokenizer-private.h"
#include "../llava.h"

#include <string.h>

typedef struct {
  guint32 rank;
  guint32 left;                 /* symbol index; the pair is (left, next[left]) */
  gint32 a, b, merged;          /* ids at push time, to detect stale entries */
} HeapEntry;

struct _LlavaBpeScratch {
  gint32 *id;
  guint32 *prev, *next;
  HeapEntry *heap;
  gsize cap, heap_cap, heap_len;
};

LlavaBpeScratch *
llava_bpe_scratch_new (void)
{
  return g_new0 (LlavaBpeScratch, 1);
}

void
llava_bpe_scratch_free (LlavaBpeScratch *s)
{
  if (!s)
    return;
  g_free (s->id);
  g_free (s->prev);
  g_free (s->next);
  g_free (s->heap);
  g_free (s);
}

static inline gboolean
heap_less (const HeapEntry *x, const HeapEntry *y)
{
  return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static void
heap_push (LlavaBpeScratch *s, HeapEntry e)
{
  gsize i;
  if (s->heap_len == s->heap_cap) {
    s->heap_cap = MAX (64, s->heap_cap * 2);
    s->heap = g_renew (HeapEntry, s->heap, s->heap_cap);
  }
  i = s->heap_len++;
  while (i > 0) {
    gsize parent = (i - 1) / 2;
    if (!heap_less (&e, &s->heap[parent]))
      break;
    s->heap[i] = s->heap[parent];
    i = parent;
  }
  s->heap[i] = e;
}

static HeapEntry
heap_pop (LlavaBpeScratch *s)
{
  HeapEntry top = s->heap[0], last = s->heap[--s->heap_len];
  gsize i = 0, n = s->heap_len;
  for (;;) {
    gsize c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && heap_less (&s->heap[c + 1], &s->heap[c]))
      c++;
    if (!heap_less (&s->heap[c], &last))
      break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n)
    s->heap[i] = last;
  return top;
}

#define NONE G_MAXUINT32

static void
push_pair (const LlavaTokenizer *t, LlavaBpeScratch *s, guint32 left)
{
  guint32 right = s->next[left];
  HeapEntry e;
  if (right == NONE)
    return;
  if (!llava_merge_lookup (&t->merges, s->id[left], s->id[right], &e.rank, &e.merged))
    return;
  e.left = left;
  e.a = s->id[left];
  e.b = s->id[right];
  heap_push (s, e);
}

void
llava_bpe_word (const LlavaTokenizer *t, LlavaBpeScratch *s,
    const guint8 *bytes, gsize len, GArray *ids)
{
  if (len == 0)
    return;
  if (len == 1) {
    g_array_append_val (ids, t->byte_id[bytes[0]]);
    return;
  }
  if (len > s->cap) {
    s->cap = MAX (len, 64);
    s->id = g_renew (gint32, s->id, s->cap);
    s->prev = g_renew (guint32, s->prev, s->cap);
    s->next = g_renew (guint32, s->next, s->cap);
  }
  for (gsize i = 0; i < len; i++) {
    s->id[i] = t->byte_id[bytes[i]];
    s->prev[i] = i ? (guint32) i - 1 : NONE;
    s->next[i] = i + 1 < len ? (guint32) i + 1 : NONE;
  }
  s->heap_len = 0;
  for (gsize i = 0; i + 1 < len; i++)
    push_pair (t, s, (guint32) i);

  while (s->heap_len) {
    HeapEntry e = heap_pop (s);
    guint32 right = s->next[e.left];
    /* stale: the left symbol was absorbed (its id is then -1), or either
     * side has changed since the push */
    if (s->id[e.left] != e.a || right == NONE || s->id[right] != e.b)
      continue;
    s->id[e.left] = e.merged;
    s->id[right] = -1;
    s->next[e.left] = s->next[right];
    if (s->next[right] != NONE)
      s->prev[s->next[right]] = e.left;
    if (s->prev[e.left] != NONE)
      push_pair (t, s, s->prev[e.left]);
    push_pair (t, s, e.left);
  }
  for (guint32 i = 0; i != NONE; i = s->next[i])
    g_array_append_val (ids, s->id[i]);
}

typedef struct {
  const LlavaTokenizer *t;
  LlavaBpeScratch *s;
  GArray *ids;
  GHashTable *cache;            /* piece → GArray of ids, for this call only */
} PieceCtx;

/* Pieces repeat (words, spaces, punctuation): within one encode call their
 * ids are remembered, which roughly doubles throughput on long texts
 * without shared mutable state in the tokenizer. */
#define CACHE_MAX_PIECE 48

static void
on_piece (const char *p, gsize len, gpointer user_data)
{
  PieceCtx *c = user_data;
  char key[CACHE_MAX_PIECE + 1];
  GArray *hit;
  guint first;

  if (len > CACHE_MAX_PIECE || len < 2) {
    llava_bpe_word (c->t, c->s, (const guint8 *) p, len, c->ids);
    return;
  }
  memcpy (key, p, len);
  key[len] = '\0';
  hit = g_hash_table_lookup (c->cache, key);
  if (hit) {
    g_array_append_vals (c->ids, hit->data, hit->len);
    return;
  }
  first = c->ids->len;
  llava_bpe_word (c->t, c->s, (const guint8 *) p, len, c->ids);
  hit = g_array_sized_new (FALSE, FALSE, sizeof (gint32), c->ids->len - first);
  g_array_append_vals (hit, &g_array_index (c->ids, gint32, first), c->ids->len - first);
  g_hash_table_insert (c->cache, g_strdup (key), hit);
}

/* The longest added token starting at p (tokens are sorted longest first),
 * or NULL. */
static const LlavaAddedToken *
match_added (const LlavaTokenizer *t, const char *p, gsize avail)
{
  if (!t->added_first[(guint8) *p])
    return NULL;
  for (guint i = 0; i < t->n_added; i++) {
    const LlavaAddedToken *a = &t->added[i];
    if (a->len <= avail && memcmp (p, a->content, a->len) == 0)
      return a;
  }
  return NULL;
}

/* Where NFC may cut the text: before a character that never composes with
 * what precedes it and is never reordered (canonical combining class 0 and
 * not the second element of any canonical composition): ASCII, CJK
 * unified ideographs, Hangul syllables. */
static gboolean
nfc_safe_cut (gunichar c)
{
  return c < 0x80 || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7a3);
}

/* g_utf8_normalize (NFC) in pieces of about 4 kB: GLib's composition step
 * moves the rest of its buffer for every composed pair, which is quadratic
 * (1.9 s for 1 MB of Latin text with accents). */
char *
llava_utf8_nfc (const char *text, gsize len)
{
  GString *out = g_string_sized_new (len + 16);
  const char *p = text, *end = text + len;

  while (p < end) {
    const char *q = p + MIN ((gsize) (end - p), 4096);
    char *n;
    /* move q forward to a safe cut (or the end) */
    while (q < end) {
      const char *s = g_utf8_find_prev_char (p, q + 1);   /* start of the char holding q */
      if (s == q && nfc_safe_cut (g_utf8_get_char (q)))
        break;
      q = g_utf8_next_char (s);
    }
    {
      const char *a = p;
      while (a < q && (guchar) *a < 0x80)
        a++;
      if (a == q) {             /* ASCII is already NFC */
        g_string_append_len (out, p, q - p);
        p = q;
        continue;
      }
    }
    n = g_utf8_normalize (p, q - p, G_NORMALIZE_NFC);
    if (!n) {
      g_string_free (out, TRUE);
      return NULL;
    }
    g_string_append (out, n);
    g_free (n);
    p = q;
  }
  return g_string_free (out, FALSE);
}

gboolean
llava_tokenizer_encode_full (const LlavaTokenizer *t, const char *text,
    gssize len, gboolean split_added, GArray *ids, GError **err)
{
  g_autofree char *nfc = NULL;
  const char *end;
  PieceCtx c = { t, NULL, ids, NULL };
  gsize n, seg;

  if (len < 0)
    len = strlen (text);
  if (!g_utf8_validate_len (text, len, &end)) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "text to tokenize is not valid UTF-8 (at byte %" G_GSIZE_FORMAT ")",
        (gsize) (end - text));
    return FALSE;
  }
  if (len == 0)
    return TRUE;
  /* NFC over the whole text first, as the slow tokenizer does (so an added
   * token followed by a combining mark that composes with its last
   * character is no longer matched; see divergent_slow_vs_fast.json). */
  nfc = llava_utf8_nfc (text, len);
  if (!nfc) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "text to tokenize cannot be normalised (NFC)");
    return FALSE;
  }
  n = strlen (nfc);
  c.s = llava_bpe_scratch_new ();
  c.cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_array_unref);
  seg = 0;
  for (gsize i = 0; i < n;) {
    const LlavaAddedToken *a = split_added ? match_added (t, nfc + i, n - i) : NULL;
    if (!a) {
      i++;
      continue;
    }
    if (i > seg)
      llava_pretokenize (nfc + seg, i - seg, on_piece, &c);
    g_array_append_val (ids, a->id);
    i += a->len;
    seg = i;
  }
  if (n > seg)
    llava_pretokenize (nfc + seg, n - seg, on_piece, &c);
  llava_bpe_scratch_free (c.s);
  g_hash_table_destroy (c.cache);
  return TRUE;
}

gboolean
llava_tokenizer_encode (const LlavaTokenizer *t, const char *text,
    gssize len, GArray *ids, GError **err)
{
  return llava_tokenizer_encode_full (t, text, len, TRUE, ids, err);
}
