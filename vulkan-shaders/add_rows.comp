#version 450
// add_rows.comp — out[r, c] += add[r % a, c] for r < rows (a = add's rows).
// Workgroups x = ceil(cols / 64), y = rows.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
layout(local_size_x = 64) in;
layout(push_constant) uniform PC { LlPcRows p; };
layout(std430, binding = 0) buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer ABuf { float add[]; };

void main ()
{
  uint c = gl_GlobalInvocationID.x;
  uint r = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
  if (c >= p.cols || r >= p.rows)
    return;
  o[r * p.cols + c] += add[(r % p.a) * p.cols + c];
}
