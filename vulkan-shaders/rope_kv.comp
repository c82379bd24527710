#version 450
// rope_kv.comp — NeoX RoPE + KV-cache write (LlBackendOps.rope_kv).
// qkv [T, (H + 2*Hkv)*D] = (q | k | v) at positions pos0 + t.
// One invocation per (t, head) with head in [0, H + 2*Hkv):
//   head <  H          q, rotated in place (pairs (i, i + D/2))
//   head <  H + Hkv    k, rotated into kc[kvh*ctx + pos0 + t, :]
//   otherwise          v, copied into vc[kvh*ctx + pos0 + t, :]
// inv_freq = 1 / theta^(2i/D) (host table), angle = pos * inv_freq, fp32.
// KV_F16: the cache holds half pairs packed in uint (row stride ld_kv even).
// Workgroups x = ceil(T * (H + 2*Hkv) / 32).
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
layout(local_size_x = 32) in;
layout(push_constant) uniform PC { LlPcAttn p; };
layout(std430, binding = 0) buffer QBuf { float qkv[]; };
#ifdef KV_F16
layout(std430, binding = 1) writeonly buffer KBuf { uint kc[]; };
layout(std430, binding = 2) writeonly buffer VBuf { uint vc[]; };
#else
layout(std430, binding = 1) writeonly buffer KBuf { float kc[]; };
layout(std430, binding = 2) writeonly buffer VBuf { float vc[]; };
#endif

// inv_freq[i] = 1 / theta^(2i/D), computed by the host in fp32 exactly as
// the reference does (a device pow() differs by ulps, which position 4000+
// turns into visible angle errors).
layout(std430, binding = 3) readonly buffer FBuf { float freq[]; };

float inv_freq (uint i)
{
  return freq[i];
}

// cos / sin of a = pos * inv_freq, up to ~3e4 rad for long contexts.  The
// angle is first reduced by 2π with a three-part (Cody-Waite) constant —
// k * part is exact for k < 2^13 — so the device's sin / cos, which may be
// poor far from 0 (lavapipe's are), only see |r| <= π.
void sincos_reduced (float a, out float c, out float s)
{
  precise float k = round (a * 0.15915494309189535);
  precise float r = ((a - k * 6.28125) - k * 1.9350051879882812e-3)
      - k * 3.019916050561733e-7;
  c = cos (r);
  s = sin (r);
}

// rotated element e of the row starting at b, at position pos
float rotated (uint b, uint e, float pos)
{
  uint half_d = p.D / 2u;
  uint i = e % half_d;
  float c, s;
  sincos_reduced (pos * inv_freq (i), c, s);
  return e < half_d ? qkv[b + e] * c - qkv[b + e + half_d] * s
                    : qkv[b + e] * c + qkv[b + e - half_d] * s;
}

void main ()
{
  uint nh = p.H + 2u * p.Hkv;
  uint idx = gl_GlobalInvocationID.x;
  if (idx >= p.T * nh)
    return;
  uint t = idx / nh, head = idx % nh;
  uint half_d = p.D / 2u;
  float pos = float (p.pos0 + t);
  uint b = t * nh * p.D + head * p.D;

  if (head < p.H) {
    for (uint i = 0u; i < half_d; i++) {
      float c, s;
      sincos_reduced (pos * inv_freq (i), c, s);
      float x0 = qkv[b + i], x1 = qkv[b + i + half_d];
      qkv[b + i] = x0 * c - x1 * s;
      qkv[b + i + half_d] = x1 * c + x0 * s;
    }
    return;
  }

  bool is_k = head < p.H + p.Hkv;
  uint kvh = is_k ? head - p.H : head - p.H - p.Hkv;
  uint dst = (kvh * p.ctx + p.pos0 + t) * p.ld_kv;
  for (uint e = 0u; e < p.D; e += 2u) {
    float v0 = is_k ? rotated (b, e, pos) : qkv[b + e];
    float v1 = is_k ? rotated (b, e + 1u, pos) : qkv[b + e + 1u];
#ifdef KV_F16
    uint u = packHalf2x16 (vec2 (v0, v1));
    if (is_k)
      kc[(dst + e) / 2u] = u;
    else
      vc[(dst + e) / 2u] = u;
#else
    if (is_k) {
      kc[dst + e] = v0;
      kc[dst + e + 1u] = v1;
    } else {
      vc[dst + e] = v0;
      vc[dst + e + 1u] = v1;
    }
#endif
  }
}
