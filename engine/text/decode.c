/* decode.c — ids → UTF-8 text, all at once or streaming.
 *
 * Token bytes are concatenated and decoded like Python's
 * bytes.decode("utf-8", errors="replace"): each maximal subpart of an
 * ill-formed sequence becomes one U+FFFD (Unicode §3.9, "substitution of
 * maximal subparts"; GLib's g_utf8_make_valid instead replaces byte by
 * byte).  As in the slow tokenizer, the bytes before an added token are
 * decoded on their own, then the token's text is appended.  Ids that are
 * neither base nor added tokens (the padding rows 151647…151999 of the
 * embedding table) produce nothing.  A decoded NUL byte (token "Ā")
 * becomes U+FFFD: the text is returned as a C string. */
#include "tokenizer-private.h"

#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd"

/* Bytes a lead byte announces and the range allowed for the first
 * continuation byte; 0 for a byte that cannot start a sequence. */
static guint
utf8_lead (guint8 b, guint8 *lo, guint8 *hi)
{
  *lo = 0x80;
  *hi = 0xbf;
  if (b < 0x80)
    return 1;
  if (b >= 0xc2 && b <= 0xdf)
    return 2;
  if (b == 0xe0) {
    *lo = 0xa0;
    return 3;
  }
  if (b >= 0xe1 && b <= 0xef) {
    if (b == 0xed)
      *hi = 0x9f;
    return 3;
  }
  if (b == 0xf0) {
    *lo = 0x90;
    return 4;
  }
  if (b >= 0xf1 && b <= 0xf3)
    return 4;
  if (b == 0xf4) {
    *hi = 0x8f;
    return 4;
  }
  return 0;
}

void
llava_utf8_decode_replace (GString *out, const guint8 *s, gsize n,
    gboolean final, gsize *consumed)
{
  gsize i = 0;
  while (i < n) {
    guint8 lo, hi;
    guint need = utf8_lead (s[i], &lo, &hi);
    gsize k;
    if (need == 0) {
      g_string_append (out, REPLACEMENT);
      i++;
      continue;
    }
    if (need == 1) {
      /* a NUL byte cannot live in the C string we return: U+FFFD */
      if (s[i] == 0)
        g_string_append (out, REPLACEMENT);
      else
        g_string_append_c (out, (char) s[i]);
      i++;
      continue;
    }
    /* k = bytes of the sequence that are well-formed so far */
    for (k = 1; k < need && i + k < n; k++) {
      guint8 c = s[i + k];
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
        break;
    }
    if (k == need) {
      g_string_append_len (out, (const char *) s + i, need);
      i += need;
    } else if (i + k == n && !final) {
      break;                    /* incomplete tail: wait for more bytes */
    } else {
      g_string_append (out, REPLACEMENT);       /* one per maximal subpart */
      i += k;
    }
  }
  if (consumed)
    *consumed = i;
}

/* Appends to `out` what one id completes; `pending` holds the bytes of an
 * unfinished character.  Shared by the one-shot and the streaming decoder,
 * so the two cannot disagree. */
static void
decode_push (const LlavaTokenizer *t, gboolean skip_special, GByteArray *pending,
    GString *out, gint32 id)
{
  const LlavaAddedToken *a;

  if (skip_special && llava_tokenizer_is_special (t, id))
    return;
  a = g_hash_table_lookup (t->added_by_id, GINT_TO_POINTER (id));
  if (a) {
    llava_utf8_decode_replace (out, pending->data, pending->len, TRUE, NULL);
    g_byte_array_set_size (pending, 0);
    g_string_append_len (out, a->content, a->len);
  } else if (id >= 0 && (guint) id < t->n_ids && t->id_bytes[id]) {
    gsize len, used;
    const guint8 *b = g_bytes_get_data (t->id_bytes[id], &len);
    g_byte_array_append (pending, b, len);
    llava_utf8_decode_replace (out, pending->data, pending->len, FALSE, &used);
    g_byte_array_remove_range (pending, 0, used);
  }
}

char *
llava_tokenizer_decode (const LlavaTokenizer *t, const gint32 *ids, guint n,
    gboolean skip_special)
{
  GString *out = g_string_new (NULL);
  GByteArray *pending = g_byte_array_new ();

  for (guint i = 0; i < n; i++)
    decode_push (t, skip_special, pending, out, ids[i]);
  llava_utf8_decode_replace (out, pending->data, pending->len, TRUE, NULL);
  g_byte_array_unref (pending);
  return g_string_free (out, FALSE);
}

struct _LlavaDetokenizer {
  const LlavaTokenizer *t;
  gboolean skip_special;
  GByteArray *pending;          /* bytes of an incomplete UTF-8 tail */
};

LlavaDetokenizer *
llava_detokenizer_new (const LlavaTokenizer *t, gboolean skip_special)
{
  LlavaDetokenizer *d = g_new0 (LlavaDetokenizer, 1);
  d->t = t;
  d->skip_special = skip_special;
  d->pending = g_byte_array_new ();
  return d;
}

void
llava_detokenizer_free (LlavaDetokenizer *d)
{
  if (!d)
    return;
  g_byte_array_unref (d->pending);
  g_free (d);
}

/* Returns the text the id completes ("" when it only adds to an
 * incomplete character).  The concatenation of all pushes and the flush
 * equals llava_tokenizer_decode of the same ids. */
char *
llava_detokenizer_push (LlavaDetokenizer *d, gint32 id)
{
  GString *out = g_string_new (NULL);
  decode_push (d->t, d->skip_special, d->pending, out, id);
  return g_string_free (out, FALSE);
}

char *
llava_detokenizer_flush (LlavaDetokenizer *d)
{
  GString *out = g_string_new (NULL);
  llava_utf8_decode_replace (out, d->pending->data, d->pending->len, TRUE, NULL);
  g_byte_array_set_size (d->pending, 0);
  return g_string_free (out, FALSE);
}
