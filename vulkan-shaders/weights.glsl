// weights.glsl — reading one row chunk of a weight matrix in its device layout.
//   W_F32: float [nrows][ld]
//   W_F16: half pairs packed in uint, [nrows][ld], ld a multiple of 8
//   W_Q8:  int8 qs [nrows][ld] (ld = K rounded up to 32), then
//          float d [nrows][ld / 32]: the host q8_0 layout of backend.h.
// f16 / int8 are read through 32-bit words, 8 at a time as one uvec4 /
// uvec2 (rows are 16 / 8-byte aligned).  On lavapipe the vector loads are
// measurably faster than the same words loaded one by one (GEMV f16 ~1.7x,
// GEMM ~1.2x), although each lane still loads on its own.
// Requires W_BINDING and a push-constant member `nrows` reachable as W_NROWS.

#if defined(W_F32)
layout(std430, binding = W_BINDING) readonly buffer WBuf { float w[]; };
#else
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint w[]; };
layout(std430, binding = W_BINDING) readonly buffer WBuf4 { uvec4 w4[]; };
layout(std430, binding = W_BINDING) readonly buffer WBuf2 { uvec2 w2[]; };
#endif

#if defined(W_Q8)
float q8_scale (uint row, uint k, uint ld)
{
  return uintBitsToFloat (w[(W_NROWS * ld) / 4u + row * (ld / 32u) + k / 32u]);
}

vec4 q8_unpack (uint u)
{
  return vec4 (ivec4 (int (u << 24), int (u << 16), int (u << 8), int (u)) >> 24);
}
#endif

// 8 consecutive weights w[row, k .. k+7]; k is a multiple of 8.
void load_w8 (uint row, uint k, uint ld, out vec4 a, out vec4 b)
{
  uint base = row * ld + k;
#if defined(W_F32)
  a = vec4 (w[base], w[base + 1u], w[base + 2u], w[base + 3u]);
  b = vec4 (w[base + 4u], w[base + 5u], w[base + 6u], w[base + 7u]);
#elif defined(W_F16)
  uvec4 u = w4[base / 8u];
  a = vec4 (unpackHalf2x16 (u.x), unpackHalf2x16 (u.y));
  b = vec4 (unpackHalf2x16 (u.z), unpackHalf2x16 (u.w));
#else
  uvec2 u = w2[base / 8u];
  float d = q8_scale (row, k, ld);
  a = q8_unpack (u.x) * d;
  b = q8_unpack (u.y) * d;
#endif
}

float load_w1 (uint row, uint k, uint ld)
{
  uint base = row * ld + k;
#if defined(W_F32)
  return w[base];
#elif defined(W_F16)
  vec2 h = unpackHalf2x16 (w[base / 2u]);
  return (base & 1u) != 0u ? h.y : h.x;
#else
  uint u = w[base / 4u];
  int q = int (u << (24u - 8u * (base & 3u))) >> 24;
  return float (q) * q8_scale (row, k, ld);
#endif
}
