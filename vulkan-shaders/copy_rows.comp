#version 450
// copy_rows.comp — dst[dst_off + r*cols + c] = src[src_off + r*cols + c].
// Workgroups x = ceil(cols / 64), y = rows.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
layout(local_size_x = 64) in;
layout(push_constant) uniform PC { LlPcRows p; };   // a = dst_off, b = src_off
layout(std430, binding = 0) writeonly buffer DBuf { float dst[]; };
layout(std430, binding = 1) readonly buffer SBuf { float src[]; };

void main ()
{
  uint c = gl_GlobalInvocationID.x;
  uint r = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
  if (c >= p.cols || r >= p.rows)
    return;
  dst[p.a + r * p.cols + c] = src[p.b + r * p.cols + c];
}
