/* tokenizer.h — Qwen2 byte-level BPE, chat template, streaming detokenizer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LlavaTokenizer LlavaTokenizer;

/* Loads <dir>/tokenizer.json, or vocab.json + merges.txt (+ added_tokens.json,
 * tokenizer_config.json).  Errors name the file and the problem. */
LlavaTokenizer *llava_tokenizer_load (const char *dir, GError **err);
void llava_tokenizer_free (LlavaTokenizer *t);

/* NFC, added/special tokens split out first, the Qwen2 split regex, BPE.
 * Appends gint32 ids to `ids`.  Invalid UTF-8 is an error. */
gboolean llava_tokenizer_encode (const LlavaTokenizer *t, const char *text,
    gssize len, GArray *ids, GError **err);

/* Decodes ids to UTF-8 (invalid sequences become U+FFFD), optionally
 * skipping special tokens. */
char *llava_tokenizer_decode (const LlavaTokenizer *t, const gint32 *ids,
    guint n, gboolean skip_special);

/* id of a token string (added tokens included), -1 if unknown */
gint32 llava_tokenizer_token_id (const LlavaTokenizer *t, const char *token);
gboolean llava_tokenizer_is_special (const LlavaTokenizer *t, gint32 id);
guint llava_tokenizer_vocab_size (const LlavaTokenizer *t);

/* Streaming: push ids one at a time, get back the text they complete;
 * never half a UTF-8 character.  flush returns what is left (with U+FFFD
 * for an incomplete tail). */
typedef struct _LlavaDetokenizer LlavaDetokenizer;
LlavaDetokenizer *llava_detokenizer_new (const LlavaTokenizer *t,
    gboolean skip_special);
char *llava_detokenizer_push (LlavaDetokenizer *d, gint32 id);
char *llava_detokenizer_flush (LlavaDetokenizer *d);
void llava_detokenizer_free (LlavaDetokenizer *d);

/* Chat template.  system_prompt NULL: the llava-hf template
 *   <|im_start|>user\n<image>×n\nPROMPT<|im_end|>\n<|im_start|>assistant\n
 * otherwise the LLaVA-NeXT (qwen_1_5) form with a system turn
 *   <|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n<image>×n\nPROMPT<|im_end|>\n<|im_start|>assistant\n
 * Each <image> is one `image_token_id`; text between images is tokenized
 * separately.  Appends the ids; `text_out` (optional) gets the string. */
gboolean llava_chat_build (const LlavaTokenizer *t, const char *prompt,
    const char *system_prompt, guint n_images, gint32 image_token_id,
    GArray *ids, char **text_out, GError **err);

G_END_DECLS
