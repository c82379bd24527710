/* fuzz-tokenizer — libFuzzer target for the Qwen2 tokenizer's input side.
 * The vocabulary is loaded once from $LLAVA_TOKENIZER_DIR (default: the
 * shared fixture).  Per input:
 *   - encode (invalid UTF-8 must be an error, valid text must round-trip
 *     through decode to its NFC form);
 *   - the input read as token ids: streaming decode == one-shot decode, and
 *     every streamed chunk is valid UTF-8;
 *   - the chat template with the input as prompt. */
#include "text/tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef LLAVA_DEFAULT_TOKENIZER_DIR
#define LLAVA_DEFAULT_TOKENIZER_DIR "../shared/tokenizer"
#endif

static LlavaTokenizer *tok;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *dir = g_getenv ("LLAVA_TOKENIZER_DIR");
  GError *err = NULL;
  tok = llava_tokenizer_load (dir ? dir : LLAVA_DEFAULT_TOKENIZER_DIR, &err);
  if (!tok)
    g_error ("fuzz-tokenizer: %s (set LLAVA_TOKENIZER_DIR)", err->message);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GError *err = NULL;
  char *text = g_strndup ((const char *) data, size);
  gboolean valid = g_utf8_validate ((const char *) data, size, NULL);

  if (llava_tokenizer_encode (tok, (const char *) data, size, ids, &err)) {
    char *back, *nfc;
    g_assert (valid);
    back = llava_tokenizer_decode (tok, (gint32 *) ids->data, ids->len, FALSE);
    nfc = g_utf8_normalize ((const char *) data, size, G_NORMALIZE_NFC);
    g_assert (nfc && strcmp (back, nfc) == 0);
    g_free (back);
    g_free (nfc);
  } else {
    g_assert (!valid || err != NULL);
    g_clear_error (&err);
  }

  /* bytes as ids (4 at a time), spread over the whole id range and beyond */
  {
    guint n = size / 4;
    gint32 *raw = g_new0 (gint32, MAX (n, 1));
    LlavaDetokenizer *d = llava_detokenizer_new (tok, size & 1);
    GString *s = g_string_new (NULL);
    char *one, *tail;
    memcpy (raw, data, n * 4);
    for (guint i = 0; i < n; i++) {
      char *piece;
      raw[i] = (gint32) ((guint32) raw[i] % 152100u);
      piece = llava_detokenizer_push (d, raw[i]);
      g_assert (g_utf8_validate (piece, -1, NULL));
      g_string_append (s, piece);
      g_free (piece);
    }
    tail = llava_detokenizer_flush (d);
    g_string_append (s, tail);
    one = llava_tokenizer_decode (tok, raw, n, size & 1);
    g_assert (strcmp (one, s->str) == 0);
    g_free (one);
    g_free (tail);
    g_string_free (s, TRUE);
    llava_detokenizer_free (d);
    g_free (raw);
  }

  if (valid) {
    g_array_set_size (ids, 0);
    if (!llava_chat_build (tok, text, size & 2 ? "sys" : NULL, size % 5, 151646,
            ids, NULL, &err))
      g_clear_error (&err);
  }
  g_free (text);
  g_array_unref (ids);
  return 0;
}
