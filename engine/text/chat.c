/* chat.c — the prompt templates (MODEL.md §4).
 *
 * llava-hf chat_template.json (system_prompt NULL), one user turn with all
 * images first:
 *   <|im_start|>user\n<image>×n\nPROMPT<|im_end|>\n<|im_start|>assistant\n
 * LLaVA-NeXT conv_qwen ("qwen_1_5", system_prompt given):
 *   <|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n<image>×n\nPROMPT<|im_end|>\n<|im_start|>assistant\n
 *
 * The template's own markers are appended as ids; the text between them is
 * tokenized piece by piece (BPE never merges across a marker, as in both
 * reference pipelines).  User and system text is tokenized as plain text:
 * a prompt that contains "<image>" or "<|im_end|>" cannot forge an image
 * slot or end its turn. */
#include "tokenizer-private.h"
#include "../llava.h"

#include <string.h>

static gboolean
chat_special (const LlavaTokenizer *t, const char *name, gint32 *id, GError **err)
{
  *id = llava_tokenizer_token_id (t, name);
  if (*id < 0) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_FORMAT,
        "the tokenizer has no \"%s\" token (needed by the chat template)", name);
    return FALSE;
  }
  return TRUE;
}

gboolean
llava_chat_build (const LlavaTokenizer *t, const char *prompt,
    const char *system_prompt, guint n_images, gint32 image_token_id,
    GArray *ids, char **text_out, GError **err)
{
  gint32 im_start, im_end;
  GString *text = g_string_new (NULL);
  g_autofree char *user = NULL;
  g_autofree char *sys = NULL;
  guint len0 = ids->len;
  gboolean ok = FALSE;

  if (!prompt)
    prompt = "";
  if (!chat_special (t, "<|im_start|>", &im_start, err)
      || !chat_special (t, "<|im_end|>", &im_end, err))
    goto out;

#define ID(x) G_STMT_START { gint32 _v = (x); g_array_append_val (ids, _v); } G_STMT_END
#define TEXT(s) G_STMT_START { \
    if (!llava_tokenizer_encode_full (t, (s), -1, FALSE, ids, err)) goto out; \
    g_string_append (text, (s)); } G_STMT_END

  if (system_prompt) {
    sys = g_strconcat ("system\n", system_prompt, NULL);
    ID (im_start);
    g_string_append (text, "<|im_start|>");
    TEXT (sys);
    ID (im_end);
    g_string_append (text, "<|im_end|>");
    TEXT ("\n");
  }
  ID (im_start);
  g_string_append (text, "<|im_start|>");
  /* "user\n" + images + "\n" + prompt; with no image the two line breaks
   * are one piece of text, as the template renders them */
  if (n_images == 0) {
    user = g_strconcat ("user\n\n", prompt, NULL);
    TEXT (user);
  } else {
    TEXT ("user\n");
    for (guint i = 0; i < n_images; i++) {
      ID (image_token_id);
      g_string_append (text, "<image>");
    }
    user = g_strconcat ("\n", prompt, NULL);
    TEXT (user);
  }
  ID (im_end);
  g_string_append (text, "<|im_end|>");
  TEXT ("\n");
  ID (im_start);
  g_string_append (text, "<|im_start|>");
  TEXT ("assistant\n");
#undef ID
#undef TEXT
  ok = TRUE;

out:
  if (!ok)
    g_array_set_size (ids, len0);
  if (ok && text_out)
    *text_out = g_string_free (text, FALSE);
  else
    g_string_free (text, TRUE);
  return ok;
}
