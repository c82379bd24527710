#version 450
// attention_combine.comp — pass 2 of split-KV attention: merges the
// n_splits * 8 partial (m, l, acc[D]) records of one (query t, head h):
//   out[t, h*D + d] = Σ_i e^(m_i - M) acc_i[d] / Σ_i e^(m_i - M) l_i,
// M = max_i m_i.  One workgroup per (t, h), lanes over d (the m_i, l_i
// loads are uniform).  Workgroups x = T * H.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"

layout(local_size_x = 64) in;
layout(push_constant) uniform PC { LlPcAttnSplit p; };
layout(std430, binding = 0) readonly buffer PBuf { float part[]; };
layout(std430, binding = 1) writeonly buffer OBuf { float o[]; };

void main ()
{
  uint row = gl_WorkGroupID.x;              // t * H + h
  uint t = row / p.H, h = row % p.H;
  uint n = p.n_splits * LL_ATTN_SPLIT_LANES;
  uint rec = p.D + 2u;
  uint base = row * n * rec;
  float M = -1e30;
  for (uint i = 0u; i < n; i++)
    M = max (M, part[base + i * rec]);
  for (uint d = gl_LocalInvocationID.x; d < p.D; d += 64u) {
    float num = 0.0, den = 0.0;
    for (uint i = 0u; i < n; i++) {
      float w = exp (part[base + i * rec] - M);
      den += w * part[base + i * rec + 1u];
      num += w * part[base + i * rec + 2u + d];
    }
    o[t * p.H * p.D + h * p.D + d] = num / den;
  }
}
