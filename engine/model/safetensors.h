/* safetensors.h — mmap'd safetensors reader (validated header) and a small
 * writer for fp32/int64 dumps. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LLAVA_ST_F32, LLAVA_ST_F16, LLAVA_ST_BF16, LLAVA_ST_F64,
  LLAVA_ST_I64, LLAVA_ST_I32, LLAVA_ST_I16, LLAVA_ST_I8, LLAVA_ST_U8, LLAVA_ST_BOOL,
} LlavaStDType;

#define LLAVA_ST_MAX_DIMS 8

typedef struct {
  const char *name;
  LlavaStDType dtype;
  guint n_dims;
  gint64 shape[LLAVA_ST_MAX_DIMS];
  const void *data;   /* points into the mapping */
  gsize size;         /* bytes */
} LlavaStTensor;

typedef struct _LlavaSafetensors LlavaSafetensors;

/* Maps the file and validates the header: JSON size bounded by the file,
 * every offset inside the data area, size = dtype × shape, no overlaps,
 * known dtypes.  Errors (LLAVA_ERROR_FILE / LLAVA_ERROR_FORMAT) name the file. */
LlavaSafetensors *llava_safetensors_open (const char *path, GError **err);
/* Same checks on a buffer in memory (the fuzz target uses this). */
LlavaSafetensors *llava_safetensors_new_from_data (const guint8 *data,
    gsize size, const char *name_for_errors, GError **err);
void llava_safetensors_free (LlavaSafetensors *st);

guint llava_safetensors_n_tensors (const LlavaSafetensors *st);
const LlavaStTensor *llava_safetensors_get_nth (const LlavaSafetensors *st, guint i);
const LlavaStTensor *llava_safetensors_find (const LlavaSafetensors *st, const char *name);
const char *llava_st_dtype_name (LlavaStDType t);
gsize llava_st_dtype_size (LlavaStDType t);

/* Converts any float tensor (f32/f16/bf16/f64) to a g_malloc'd f32 array
 * (NULL for integer dtypes). */
float *llava_st_tensor_to_f32 (const LlavaStTensor *t);

/* Additions (engine/model): the file name given at open, the element count,
 * whether a dtype is one of the float types, and conversion of elements
 * [first, first + n) into `out` (float dtypes only) so callers can convert a
 * large tensor row by row without a second full-size copy. */
const char *llava_safetensors_get_name (const LlavaSafetensors *st);
guint64 llava_st_tensor_n_elements (const LlavaStTensor *t);
gboolean llava_st_dtype_is_float (LlavaStDType t);
void llava_st_tensor_to_f32_range (const LlavaStTensor *t, guint64 first,
    guint64 n, float *out);

/* Writer: collect tensors, then write. Data is copied. */
typedef struct _LlavaStWriter LlavaStWriter;
LlavaStWriter *llava_st_writer_new (void);
void llava_st_writer_add (LlavaStWriter *w, const char *name, LlavaStDType dtype,
    const gint64 *shape, guint n_dims, const void *data);
gboolean llava_st_writer_write (LlavaStWriter *w, const char *path, GError **err);
void llava_st_writer_free (LlavaStWriter *w);

G_END_DECLS
