/* fuzz-safetensors — libFuzzer target for the safetensors header parser.
 * Any input must either be rejected with a GError or yield tensors whose
 * bytes all lie inside the input (AddressSanitizer checks the conversion). */
#include "model/safetensors.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *err = NULL;
  /* a private copy so reads past `size` are caught exactly */
  guint8 *copy = g_memdup2 (data, size);
  LlavaSafetensors *st = llava_safetensors_new_from_data (copy, size, "fuzz", &err);

  if (!st) {
    g_assert (err != NULL && err->message != NULL);
    g_error_free (err);
    g_free (copy);
    return 0;
  }
  for (guint i = 0; i < llava_safetensors_n_tensors (st); i++) {
    const LlavaStTensor *t = llava_safetensors_get_nth (st, i);
    g_assert (llava_safetensors_find (st, t->name) != NULL);
    g_assert ((const guint8 *) t->data >= copy
        && (const guint8 *) t->data + t->size <= copy + size);
    if (llava_st_dtype_is_float (t->dtype) && t->size <= (1u << 20)) {
      float *f = llava_st_tensor_to_f32 (t);
      g_free (f);
    } else if (t->size) {
      volatile guint8 sink = ((const guint8 *) t->data)[t->size - 1];
      (void) sink;
    }
  }
  llava_safetensors_free (st);
  g_free (copy);
  return 0;
}
