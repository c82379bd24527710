#version 450
// attention.comp — streaming-softmax attention, CPU style.
//   FRAMES:  non-causal inside each frame (SigLIP).  qkv [F*P, 3*H*D];
//            workgroups x = ceil(P / (8*QPL)), y = F * H; lane = queries.
//   default: causal over the KV cache (Qwen2 prefill and decode).
//            qkv [T, (H + 2*Hkv)*D], kc / vc [Hkv*ctx, ld_kv] (KV_F16: half
//            pairs in uint); workgroups x = ceil(T*G / (8*QPL)), y = Hkv
//            with G = H / Hkv; lane = (t, head in group) slots, so the G
//            heads that share a kv head (and neighbouring queries) read
//            each key and value row together: those loads are uniform.
// out [rows, H*D].  The score row is never stored: keys are consumed in
// blocks of BK with one rescale of the running output per block.
// The head dim is the specialization constant HD (must be even).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "ll_pc.h"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint HD = 64;
#define BK 8
#define QPL LL_ATTN_QPL
#define NEG_BIG -1e30

layout(push_constant) uniform PC { LlPcAttn p; };
layout(std430, binding = 0) readonly buffer QBuf { float qkv[]; };
// Keys and values are read 4 elements at a time when HD % 4 == 0 (every
// row then starts 16 / 8-byte aligned): a uniform vec4 load is one load on
// lavapipe where four floats are four.  VS is the step, 4 or 2.
const uint VS = (HD % 4u) == 0u ? 4u : 2u;
#ifdef KV_F16
layout(std430, binding = 1) readonly buffer KBuf { uint kc[]; };
layout(std430, binding = 2) readonly buffer VBuf { uint vc[]; };
layout(std430, binding = 1) readonly buffer KBuf2 { uvec2 kc2[]; };
layout(std430, binding = 2) readonly buffer VBuf2 { uvec2 vc2[]; };
vec4 loadk (uint i)
{
  if (VS == 4u) {
    uvec2 u = kc2[i / 4u];
    return vec4 (unpackHalf2x16 (u.x), unpackHalf2x16 (u.y));
  }
  return vec4 (unpackHalf2x16 (kc[i / 2u]), 0.0, 0.0);
}
vec4 loadv (uint i)
{
  if (VS == 4u) {
    uvec2 u = vc2[i / 4u];
    return vec4 (unpackHalf2x16 (u.x), unpackHalf2x16 (u.y));
  }
  return vec4 (unpackHalf2x16 (vc[i / 2u]), 0.0, 0.0);
}
#elif defined(FRAMES)
layout(std430, binding = 0) readonly buffer QBuf4 { vec4 qkv4[]; };
vec4 loadk (uint i)
{
  return VS == 4u ? qkv4[i / 4u] : vec4 (qkv[i], qkv[i + 1u], 0.0, 0.0);
}
#define loadv loadk
#else
layout(std430, binding = 1) readonly buffer KBuf { float kc[]; };
layout(std430, binding = 2) readonly buffer VBuf { float vc[]; };
layout(std430, binding = 1) readonly buffer KBuf4 { vec4 kc4[]; };
layout(std430, binding = 2) readonly buffer VBuf4 { vec4 vc4[]; };
vec4 loadk (uint i)
{
  return VS == 4u ? kc4[i / 4u] : vec4 (kc[i], kc[i + 1u], 0.0, 0.0);
}
vec4 loadv (uint i)
{
  return VS == 4u ? vc4[i / 4u] : vec4 (vc[i], vc[i + 1u], 0.0, 0.0);
}
#endif
layout(std430, binding = 3) writeonly buffer OBuf { float o[]; };

// Each lane owns QPL queries (lane l of workgroup w: query slots
// w*8*QPL + l + 8*i), so every uniform key / value element loaded is used
// QPL times.
void main ()
{
  uint slot0 = gl_WorkGroupID.x * 8u * QPL + gl_LocalInvocationID.x;
#ifdef FRAMES
  uint f = gl_WorkGroupID.y / p.H, h = gl_WorkGroupID.y % p.H;
  uint n = p.T;
  uint ld_qkv = 3u * p.H * HD;
  uint last = p.T - 1u;         // last key of the workgroup (uniform)
  uint kb0 = f * p.T * ld_qkv + p.H * HD + h * HD, kstride = ld_qkv;
  uint vb0 = kb0 + p.H * HD, vstride = ld_qkv;
#else
  uint kvh = gl_WorkGroupID.y;
  uint G = p.H / p.Hkv;
  uint n = p.T * G;
  uint ld_qkv = (p.H + 2u * p.Hkv) * HD;
  uint last = p.pos0 + min (gl_WorkGroupID.x * 8u * QPL + 8u * QPL - 1u, n - 1u) / G;
  uint kb0 = kvh * p.ctx * p.ld_kv, kstride = p.ld_kv;
  uint vb0 = kb0, vstride = p.ld_kv;
#endif

  float q[QPL][HD], acc[QPL][HD];
  float m[QPL], l[QPL];
  uint my_last[QPL], ob[QPL];
  [[unroll]] for (uint i = 0u; i < QPL; i++) {
    uint ic = min (slot0 + 8u * i, n - 1u);
#ifdef FRAMES
    uint qb = (f * p.T + ic) * ld_qkv + h * HD;
    my_last[i] = last;
    ob[i] = (f * p.T + ic) * p.H * HD + h * HD;
#else
    uint t = ic / G, hh = kvh * G + ic % G;
    uint qb = t * ld_qkv + hh * HD;
    my_last[i] = p.pos0 + t;
    ob[i] = t * p.H * HD + hh * HD;
#endif
    [[unroll]] for (uint d = 0u; d < HD; d++) {
      q[i][d] = qkv[qb + d] * p.scale;
      acc[i][d] = 0.0;
    }
    m[i] = NEG_BIG;
    l[i] = 0.0;
  }

  for (uint j0 = 0u; j0 <= last; j0 += BK) {
    float s[QPL][BK];
    float mb[QPL];
    [[unroll]] for (uint i = 0u; i < QPL; i++)
      mb[i] = m[i];
    [[unroll]] for (uint b = 0u; b < BK; b++) {
      uint kb = kb0 + min (j0 + b, last) * kstride;
      float dotv[QPL];
      [[unroll]] for (uint i = 0u; i < QPL; i++)
        dotv[i] = 0.0;
      [[unroll]] for (uint d = 0u; d < HD; d += VS) {
        vec4 k4 = loadk (kb + d);
        [[unroll]] for (uint i = 0u; i < QPL; i++) {
          dotv[i] += q[i][d] * k4.x + q[i][d + 1u] * k4.y;
          if (VS == 4u)
            dotv[i] += q[i][d + 2u] * k4.z + q[i][d + 3u] * k4.w;
        }
      }
      [[unroll]] for (uint i = 0u; i < QPL; i++) {
        s[i][b] = j0 + b <= my_last[i] ? dotv[i] : NEG_BIG;
        mb[i] = max (mb[i], s[i][b]);
      }
    }
    [[unroll]] for (uint i = 0u; i < QPL; i++) {
      float alpha = exp (m[i] - mb[i]);
      l[i] *= alpha;
      [[unroll]] for (uint d = 0u; d < HD; d++)
        acc[i][d] *= alpha;
      m[i] = mb[i];
    }
    [[unroll]] for (uint b = 0u; b < BK; b++) {
      float pb[QPL];
      [[unroll]] for (uint i = 0u; i < QPL; i++) {
        pb[i] = exp (s[i][b] - m[i]);
        l[i] += pb[i];
      }
      uint vb = vb0 + min (j0 + b, last) * vstride;
      [[unroll]] for (uint d = 0u; d < HD; d += VS) {
        vec4 v4 = loadv (vb + d);
        [[unroll]] for (uint i = 0u; i < QPL; i++) {
          acc[i][d] += pb[i] * v4.x;
          acc[i][d + 1u] += pb[i] * v4.y;
          if (VS == 4u) {
            acc[i][d + 2u] += pb[i] * v4.z;
            acc[i][d + 3u] += pb[i] * v4.w;
          }
        }
      }
    }
  }

  [[unroll]] for (uint i = 0u; i < QPL; i++) {
    if (slot0 + 8u * i < n) {
      float inv = 1.0 / l[i];
      [[unroll]] for (uint d = 0u; d < HD; d++)
        o[ob[i] + d] = acc[i][d] * inv;
    }
  }
}
