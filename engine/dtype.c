/* dtype.c — host-side conversions between f32, f16, bf16 and q8_0. */
#include "backend.h"

#include <math.h>
#include <string.h>

const char *
ll_dtype_name (LlDType dtype)
{
  switch (dtype) {
    case LL_F32: return "f32";
    case LL_F16: return "f16";
    case LL_Q8_0: return "q8_0";
    case LL_I32: return "i32";
  }
  return "?";
}

gsize
ll_dtype_host_size (LlDType dtype, guint32 rows, guint32 cols)
{
  switch (dtype) {
    case LL_F32:
    case LL_I32:
      return (gsize) rows * cols * 4;
    case LL_F16:
      return (gsize) rows * cols * 2;
    case LL_Q8_0: {
      gsize kp = ll_q8_0_row_stride (cols);
      return (gsize) rows * kp + (gsize) rows * (kp / LL_Q8_0_BLOCK) * sizeof (float);
    }
  }
  return 0;
}

float
ll_half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 bits;

  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {                    /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        exp--;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

guint16
ll_float_to_half (float f)
{
  guint32 x;
  memcpy (&x, &f, 4);
  guint32 sign = (x >> 16) & 0x8000;
  guint32 absx = x & 0x7fffffff;

  if (absx >= 0x7f800000)       /* inf or nan */
    return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);
  if (absx >= 0x477ff000)       /* rounds to >= 65520: overflow */
    return sign | 0x7c00;
  if (absx < 0x38800000) {      /* subnormal half (or zero) */
    if (absx < 0x33000000)
      return sign;
    guint32 e = absx >> 23;
    guint32 m = (absx & 0x7fffff) | 0x800000;
    guint32 shift = 126 - e;    /* value = m·2^(e-150) = hm·2^-24 */
    guint32 hm = m >> shift;
    guint32 rem = m & ((1u << shift) - 1);
    guint32 half = 1u << (shift - 1);
    if (rem > half || (rem == half && (hm & 1)))
      hm++;
    return sign | hm;
  }
  guint32 hbits = ((absx >> 13) - ((127 - 15) << 10));
  guint32 rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (hbits & 1)))
    hbits++;
  return sign | hbits;
}

float
ll_bf16_to_float (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

static void
quantize_row_q8_0 (const float *x, guint32 cols, gint8 *qs, float *d)
{
  gsize kp = ll_q8_0_row_stride (cols);
  for (gsize b = 0; b < kp / LL_Q8_0_BLOCK; b++) {
    float amax = 0.0f;
    gsize k0 = b * LL_Q8_0_BLOCK;
    for (gsize k = k0; k < k0 + LL_Q8_0_BLOCK && k < cols; k++)
      amax = fmaxf (amax, fabsf (x[k]));
    float scale = amax / 127.0f;
    float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
    d[b] = scale;
    for (gsize k = k0; k < k0 + LL_Q8_0_BLOCK; k++)
      qs[k] = k < cols ? (gint8) roundf (x[k] * inv) : 0;
  }
}

void *
ll_convert_from_f32 (LlDType dtype, const float *src, guint32 rows,
    guint32 cols)
{
  gsize n = (gsize) rows * cols;
  void *out = g_malloc (ll_dtype_host_size (dtype, rows, cols));

  switch (dtype) {
    case LL_F32:
      memcpy (out, src, n * 4);
      break;
    case LL_F16: {
      guint16 *h = out;
      for (gsize i = 0; i < n; i++)
        h[i] = ll_float_to_half (src[i]);
      break;
    }
    case LL_Q8_0: {
      gsize kp = ll_q8_0_row_stride (cols);
      gint8 *qs = out;
      float *d = (float *) ((guint8 *) out + (gsize) rows * kp);
      for (guint32 r = 0; r < rows; r++)
        quantize_row_q8_0 (src + (gsize) r * cols, cols, qs + r * kp,
            d + r * (kp / LL_Q8_0_BLOCK));
      break;
    }
    case LL_I32:
      g_assert_not_reached ();
  }
  return out;
}

void
ll_dequantize_row (LlDType dtype, const void *data, guint32 rows,
    guint32 cols, guint32 row, float *out)
{
  switch (dtype) {
    case LL_F32:
      memcpy (out, (const float *) data + (gsize) row * cols, cols * 4);
      break;
    case LL_F16: {
      const guint16 *h = (const guint16 *) data + (gsize) row * cols;
      for (guint32 k = 0; k < cols; k++)
        out[k] = ll_half_to_float (h[k]);
      break;
    }
    case LL_Q8_0: {
      gsize kp = ll_q8_0_row_stride (cols);
      const gint8 *qs = (const gint8 *) data + (gsize) row * kp;
      const float *d = (const float *) ((const guint8 *) data + (gsize) rows * kp)
          + (gsize) row * (kp / LL_Q8_0_BLOCK);
      for (guint32 k = 0; k < cols; k++)
        out[k] = qs[k] * d[k / LL_Q8_0_BLOCK];
      break;
    }
    case LL_I32:
      g_assert_not_reached ();
  }
}
