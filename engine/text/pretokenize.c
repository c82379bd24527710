/* pretokenize.c — the Qwen2 pre-tokenizer split, written out by hand.
 *
 * The regex (MODEL.md §5, tokenizer.json, transformers' Qwen2Tokenizer):
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)     1 contractions, case-insensitive
 *   |[^\r\n\p{L}\p{N}]?\p{L}+        2 a letter run, with one leading non-letter
 *   |\p{N}                           3 ONE digit
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*       4 punctuation run (+ its line breaks)
 *   |\s*[\r\n]+                      5 whitespace ending in line breaks
 *   |\s+(?!\S)                       6 whitespace not followed by non-space
 *   |\s+                             7 any other whitespace
 *
 * GRegex (PCRE) could express it, but scanning code points once with GLib's
 * Unicode tables is simpler to prove equal to Python's `regex` module and
 * several times faster.  Semantics taken from that module:
 *   - alternatives are tried in order at each position (leftmost-first);
 *   - \s is the Unicode White_Space property (mrab-regex: U+001C..U+001F are
 *     NOT \s, unlike Python's str.isspace);
 *   - (?i) uses simple case folding: 'ſ' (U+017F) matches s, 'K' (U+212A)
 *     would match k (no k in the list);
 *   - backtracking of alternatives 5 and 6 is resolved in closed form below. */
#include "tokenizer-private.h"

enum { C_L = 1, C_N = 2, C_WS = 4, C_NL = 8 };

static gboolean
is_white_space (gunichar c)
{
  switch (c) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20:
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202f: case 0x205f: case 0x3000:
      return TRUE;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

static guint
char_class (gunichar c)
{
  guint f = 0;
  if (c < 128) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      return C_L;
    if (c >= '0' && c <= '9')
      return C_N;
    if (c == '\n' || c == '\r')
      return C_WS | C_NL;
    return is_white_space (c) ? C_WS : 0;
  }
  switch (g_unichar_type (c)) {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
      f = C_L;
      break;
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
      f = C_N;
      break;
    default:
      break;
  }
  if (is_white_space (c))
    f |= C_WS;
  return f;
}

/* simple case fold for the letters of the contractions */
static gunichar
fold (gunichar c)
{
  if (c >= 'A' && c <= 'Z')
    return c + 32;
  if (c == 0x17f)
    return 's';
  if (c == 0x212a)
    return 'k';
  return c;
}

/* Length in code points of a contraction at i, 0 if none. */
static guint
match_contraction (const gunichar *ch, gsize n, gsize i)
{
  gunichar a, b;
  if (ch[i] != '\'' || i + 1 >= n)
    return 0;
  a = fold (ch[i + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd')
    return 2;
  if (i + 2 >= n)
    return 0;
  b = fold (ch[i + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
    return 3;
  return 0;
}

#define IS_P(f) (((f) & (C_L | C_N | C_WS)) == 0)   /* [^\s\p{L}\p{N}] */

void
llava_pretokenize (const char *text, gsize len, LlavaPieceFunc piece,
    gpointer user_data)
{
  gunichar stack_ch[256];
  guint8 stack_cl[256];
  gsize stack_off[257];
  gunichar *ch = stack_ch;
  guint8 *cl = stack_cl;
  gsize *off = stack_off;
  gsize n = 0, i = 0;
  const char *p, *end = text + len;

  /* decode once: code points, classes and byte offsets */
  if (len > 256) {
    ch = g_new (gunichar, len);
    cl = g_new (guint8, len);
    off = g_new (gsize, len + 1);
  }
  for (p = text; p < end; p = g_utf8_next_char (p)) {
    off[n] = p - text;
    ch[n] = g_utf8_get_char (p);
    cl[n] = (guint8) char_class (ch[n]);
    n++;
  }
  off[n] = len;

  while (i < n) {
    gsize j;
    guint f = cl[i];
    guint k = match_contraction (ch, n, i);

    if (k) {                                            /* 1 */
      j = i + k;
    } else if (f & C_L) {                               /* 2, no prefix */
      for (j = i + 1; j < n && (cl[j] & C_L); j++);
    } else if (!(f & (C_NL | C_N)) && i + 1 < n && (cl[i + 1] & C_L)) {
      for (j = i + 2; j < n && (cl[j] & C_L); j++);     /* 2, one prefix */
    } else if (f & C_N) {                               /* 3 */
      j = i + 1;
    } else if (IS_P (f) || (ch[i] == ' ' && i + 1 < n && IS_P (cl[i + 1]))) {
      j = IS_P (f) ? i : i + 1;                         /* 4 */
      while (j < n && IS_P (cl[j]))
        j++;
      while (j < n && (cl[j] & C_NL))
        j++;
    } else {                                            /* whitespace: 5, 6, 7 */
      gsize e = i, last_nl = n;
      while (e < n && (cl[e] & C_WS)) {
        if (cl[e] & C_NL)
          last_nl = e;
        e++;
      }
      if (last_nl < n)
        j = last_nl + 1;        /* 5: \s* backtracks to the last line break */
      else if (e == n)
        j = e;                  /* 6: nothing follows */
      else if (e - i >= 2)
        j = e - 1;              /* 6: leave one space for the next word */
      else
        j = e;                  /* 7 */
    }
    piece (text + off[i], off[j] - off[i], user_data);
    i = j;
  }

  if (ch != stack_ch) {
    g_free (ch);
    g_free (cl);
    g_free (off);
  }
}
