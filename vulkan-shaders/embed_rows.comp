#version 450
// embed_rows.comp — out[t, c] = table[ids[t], c] for the table rows r0 ..
// r0+nrows-1 held by one chunk (the host dispatches once per chunk).  Ids
// outside [0, total_rows) give a zero row (written by the first chunk).
// Workgroups x = ceil(C / 64), y = T.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
layout(local_size_x = 64) in;
layout(push_constant) uniform PC { LlPcEmbed p; };
layout(std430, binding = 0) readonly buffer IBuf { int ids[]; };
#define W_BINDING 1
#define W_NROWS p.nrows
#include "weights.glsl"
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };

void main ()
{
  uint c = gl_GlobalInvocationID.x;
  uint t = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
  if (c >= p.C || t >= p.T)
    return;
  int id = ids[t];
  if (id < 0 || uint (id) >= p.total_rows) {
    if (p.zero_invalid != 0u)
      o[t * p.C + c] = 0.0;
    return;
  }
  uint r = uint (id);
  if (r < p.r0 || r >= p.r0 + p.nrows)
    return;
  o[t * p.C + c] = load_w1 (r - p.r0, c, p.ld);
}
