/* common.c — small things every engine layer shares. */
#include "llava.h"

#include <string.h>

G_DEFINE_QUARK (llava-error-quark, llava_error)

const char *
llava_precision_name (LlavaPrecision p)
{
  switch (p) {
    case LLAVA_PRECISION_AUTO: return "auto";
    case LLAVA_PRECISION_F32: return "f32";
    case LLAVA_PRECISION_F16: return "f16";
    case LLAVA_PRECISION_Q8_0: return "q8_0";
  }
  return "?";
}

gboolean
llava_precision_from_string (const char *s, LlavaPrecision *out)
{
  static const LlavaPrecision all[] = { LLAVA_PRECISION_AUTO,
    LLAVA_PRECISION_F32, LLAVA_PRECISION_F16, LLAVA_PRECISION_Q8_0 };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
    if (s && strcmp (s, llava_precision_name (all[i])) == 0) {
      *out = all[i];
      return TRUE;
    }
  }
  return FALSE;
}

const char *
llava_stop_reason_name (LlavaStopReason r)
{
  switch (r) {
    case LLAVA_STOP_EOS: return "eos";
    case LLAVA_STOP_MAX_TOKENS: return "max_new_tokens";
    case LLAVA_STOP_CANCELLED: return "cancelled";
    case LLAVA_STOP_CALLBACK: return "callback";
  }
  return "?";
}
