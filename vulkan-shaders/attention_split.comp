#version 450
// attention_split.comp — causal attention for few queries (decode), pass 1
// of split-KV ("flash decoding"): the keys 0 .. pos0+t of query t are cut
// into splits of `split` keys, one workgroup per (split s, query t, head h),
// and inside it each lane streams its own run of split / 8 keys with an
// online softmax.  Here the query is the uniform operand (all lanes read the
// same q) and the keys vary per lane, the transpose of attention.comp,
// which would leave 7 of 8 lanes idle and use one workgroup per head.
// Each lane writes its partial (m, l, acc[HD]); attention_combine.comp
// merges them.  Workgroups x = n_splits, y = T * H.
// qkv [T, (H + 2*Hkv)*D]; kc / vc [Hkv*ctx, ld_kv] (KV_F16: half pairs).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "ll_pc.h"

layout(local_size_x = LL_ATTN_SPLIT_LANES) in;
layout(constant_id = 0) const uint HD = 64;
#define BK 4
#define NEG_BIG -1e30

layout(push_constant) uniform PC { LlPcAttnSplit p; };
layout(std430, binding = 0) readonly buffer QBuf { float qkv[]; };
// 4 elements per load when HD % 4 == 0 (see attention.comp); VS = step
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
layout(std430, binding = 3) writeonly buffer PBuf { float part[]; };

void main ()
{
  uint s = gl_WorkGroupID.x;
  uint row = gl_WorkGroupID.y;              // t * H + h
  uint t = row / p.H, h = row % p.H;
  uint kvh = h / (p.H / p.Hkv);
  uint lane = gl_LocalInvocationID.x;
  uint per_lane = p.split / LL_ATTN_SPLIT_LANES;
  uint last = p.pos0 + t;                   // last visible key
  uint j_begin = s * p.split + lane * per_lane;
  uint ld_qkv = (p.H + 2u * p.Hkv) * HD;
  uint kb0 = kvh * p.ctx * p.ld_kv;

  float q[HD], acc[HD];
  [[unroll]] for (uint d = 0u; d < HD; d++) {
    q[d] = qkv[t * ld_qkv + h * HD + d] * p.scale;
    acc[d] = 0.0;
  }
  float m = NEG_BIG, l = 0.0;

  for (uint i0 = 0u; i0 < per_lane; i0 += BK) {
    float sc[BK];
    float mb = m;
    [[unroll]] for (uint b = 0u; b < BK; b++) {
      uint j = j_begin + i0 + b;
      uint kb = kb0 + min (j, last) * p.ld_kv;
      float dotv = 0.0;
      [[unroll]] for (uint d = 0u; d < HD; d += VS) {
        vec4 k4 = loadk (kb + d);
        dotv += q[d] * k4.x + q[d + 1u] * k4.y;
        if (VS == 4u)
          dotv += q[d + 2u] * k4.z + q[d + 3u] * k4.w;
      }
      sc[b] = j <= last ? dotv : NEG_BIG;
      mb = max (mb, sc[b]);
    }
    float alpha = exp (m - mb);
    l *= alpha;
    [[unroll]] for (uint d = 0u; d < HD; d++)
      acc[d] *= alpha;
    [[unroll]] for (uint b = 0u; b < BK; b++) {
      float pb = sc[b] > 0.5 * NEG_BIG ? exp (sc[b] - mb) : 0.0;
      l += pb;
      uint vb = kb0 + min (j_begin + i0 + b, last) * p.ld_kv;
      [[unroll]] for (uint d = 0u; d < HD; d += VS) {
        vec4 v4 = loadv (vb + d);
        acc[d] += pb * v4.x;
        acc[d + 1u] += pb * v4.y;
        if (VS == 4u) {
          acc[d + 2u] += pb * v4.z;
          acc[d + 3u] += pb * v4.w;
        }
      }
    }
    m = mb;
  }

  uint o = ((row * p.n_splits + s) * LL_ATTN_SPLIT_LANES + lane) * (HD + 2u);
  part[o] = m;
  part[o + 1u] = l;
  [[unroll]] for (uint d = 0u; d < HD; d++)
    part[o + 2u + d] = acc[d];
}
