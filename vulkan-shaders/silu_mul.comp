#version 450
// silu_mul.comp — out[m, n] = silu(gu[m, n]) * gu[m, N + n];  gu [M, 2N].
// One invocation per output element; workgroups x = ceil(N / 64), y = M.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
layout(local_size_x = 64) in;
layout(push_constant) uniform PC { LlPcRows p; };   // rows = M, cols = N
layout(std430, binding = 0) readonly buffer GBuf { float gu[]; };
layout(std430, binding = 1) writeonly buffer OBuf { float o[]; };

void main ()
{
  uint n = gl_GlobalInvocationID.x;
  uint m = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
  if (n >= p.cols || m >= p.rows)
    return;
  float g = gu[m * 2u * p.cols + n];
  float u = gu[m * 2u * p.cols + p.cols + n];
  o[m * p.cols + n] = g / (1.0 + exp (-g)) * u;
}
