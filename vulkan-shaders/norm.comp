#version 450
// norm.comp — LayerNorm (LAYERNORM defined) or RMSNorm, fp32 statistics.
//   layernorm: out = (x - mean) / sqrt(var + eps) * w + bias (biased var)
//   rmsnorm:   out = x / sqrt(mean(x²) + eps) * w
// x, out [M, C] (out may be x), w / bias [1, C].
//
// CPU style (default): one invocation per row, the whole row in a loop, no
// barriers.  GPU style (GPU_STYLE): one 64-lane workgroup per row, strided
// partial sums reduced through shared memory.  Workgroups: CPU style
// x = ceil(M / 8); GPU style x = M.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"

#ifdef GPU_STYLE
#define WG 64
#else
#define WG 8
#endif
layout(local_size_x = WG) in;
layout(push_constant) uniform PC { LlPcNorm p; };

layout(std430, binding = 0) buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer WBuf { float w[]; };
layout(std430, binding = 2) readonly buffer BBuf { float bias[]; };
layout(std430, binding = 3) buffer OBuf { float o[]; };

#ifdef GPU_STYLE
shared float red[WG];

float
wg_sum (float v)
{
  uint l = gl_LocalInvocationID.x;
  red[l] = v;
  barrier ();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (l < s)
      red[l] += red[l + s];
    barrier ();
  }
  float r = red[0];
  barrier ();
  return r;
}

void main ()
{
  uint row = gl_WorkGroupID.x;
  uint l = gl_LocalInvocationID.x;
  uint base = row * p.C;
  float mean = 0.0;
#ifdef LAYERNORM
  float s = 0.0;
  for (uint c = l; c < p.C; c += WG)
    s += x[base + c];
  mean = wg_sum (s) / float (p.C);
#endif
  float s2 = 0.0;
  for (uint c = l; c < p.C; c += WG) {
    float d = x[base + c] - mean;
    s2 += d * d;
  }
  float inv = inversesqrt (wg_sum (s2) / float (p.C) + p.eps);
  for (uint c = l; c < p.C; c += WG) {
    float v = (x[base + c] - mean) * inv * w[c];
#ifdef LAYERNORM
    if (p.has_bias != 0u)
      v += bias[c];
#endif
    o[base + c] = v;
  }
}
#else
void main ()
{
  uint row = gl_GlobalInvocationID.x;
  if (row >= p.M)
    return;
  uint base = row * p.C;
  float mean = 0.0;
#ifdef LAYERNORM
  float s = 0.0;
  for (uint c = 0u; c < p.C; c++)
    s += x[base + c];
  mean = s / float (p.C);
#endif
  float s2 = 0.0;
  for (uint c = 0u; c < p.C; c++) {
    float d = x[base + c] - mean;
    s2 += d * d;
  }
  float inv = inversesqrt (s2 / float (p.C) + p.eps);
  for (uint c = 0u; c < p.C; c++) {
    float v = (x[base + c] - mean) * inv * w[c];
#ifdef LAYERNORM
    if (p.has_bias != 0u)
      v += bias[c];
#endif
    o[base + c] = v;
  }
}
#endif
