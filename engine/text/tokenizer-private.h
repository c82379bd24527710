/* tokenizer-private.h — the tokenizer's tables, shared by the files of
 * engine/text/ (load: tokenizer.c, encode: bpe.c + pretokenize.c,
 * decode: decode.c, template: chat.c). */
#pragma once

#include "tokenizer.h"

G_BEGIN_DECLS

typedef struct {
  char *content;                /* UTF-8, matched literally before BPE */
  gsize len;
  gint32 id;
} LlavaAddedToken;

/* Merge table: (left id, right id) → (rank, merged id), open addressing. */
typedef struct {
  guint64 *keys;                /* (left << 32) | right; G_MAXUINT64 = empty */
  guint32 *ranks;
  gint32 *ids;
  gsize mask;                   /* capacity - 1 (power of two) */
} LlavaMergeTable;

struct _LlavaTokenizer {
  GHashTable *vocab;            /* byte-level token string → id (base vocabulary) */
  GBytes **id_bytes;            /* raw bytes of base id i (NULL: not a base id) */
  guint n_ids;                  /* entries of id_bytes = largest id + 1 */
  gint32 byte_id[256];          /* id of the single-byte token for each byte */
  LlavaMergeTable merges;
  LlavaAddedToken *added;       /* matched longest-first at each position */
  guint n_added;
  guint8 added_first[256];      /* 1 if some added token starts with that byte */
  GHashTable *added_by_id;      /* id → LlavaAddedToken* */
  GHashTable *special_ids;      /* ids dropped by skip_special (slow tokenizer's all_special_ids) */
};

/* GPT-2 bytes_to_unicode: byte → code point, and back (-1: not a byte). */
gunichar llava_byte_to_unichar (guint8 b);
int llava_unichar_to_byte (gunichar c);

/* Splits NFC text (valid UTF-8, no added tokens) with the Qwen2 regex
 * (MODEL.md §5), calling `piece` for each match in order. */
typedef void (*LlavaPieceFunc) (const char *s, gsize len, gpointer user_data);
void llava_pretokenize (const char *text, gsize len, LlavaPieceFunc piece,
    gpointer user_data);

/* BPE on the raw bytes of one pre-token; appends ids. */
typedef struct _LlavaBpeScratch LlavaBpeScratch;
LlavaBpeScratch *llava_bpe_scratch_new (void);
void llava_bpe_scratch_free (LlavaBpeScratch *s);
void llava_bpe_word (const LlavaTokenizer *t, LlavaBpeScratch *s,
    const guint8 *bytes, gsize len, GArray *ids);

gboolean llava_merge_lookup (const LlavaMergeTable *m, gint32 a, gint32 b,
    guint32 *rank, gint32 *id);

/* Encode one piece of text.  split_added: match added tokens first (the
 * tokenizer's normal behaviour); FALSE treats "<image>" etc. as plain text
 * (the chat template uses this for user text). */
gboolean llava_tokenizer_encode_full (const LlavaTokenizer *t, const char *text,
    gssize len, gboolean split_added, GArray *ids, GError **err);

/* NFC of valid UTF-8 (g_utf8_normalize, cut into pieces at safe points so
 * long texts stay linear). */
char *llava_utf8_nfc (const char *text, gsize len);

/* UTF-8 decoding with U+FFFD for each maximal invalid subpart (Python's
 * errors="replace").  final FALSE stops before a trailing sequence that is
 * still incomplete; *consumed gets the bytes used. */
void llava_utf8_decode_replace (GString *out, const guint8 *s, gsize n,
    gboolean final, gsize *consumed);

G_END_DECLS
