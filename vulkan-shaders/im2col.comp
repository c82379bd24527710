#version 450
// im2col.comp — patch extraction for the conv-as-GEMM patch embedding.
// pixels [F*3*S, S] (F frames of CHW), g = S / p;
// out [F*g*g, 3*p*p]: row = f*g*g + py*g + px, col = c*p*p + ky*p + kx.
// Workgroups x = ceil(3*p*p / 64), y = F*g*g.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
layout(local_size_x = 64) in;
layout(push_constant) uniform PC { LlPcIm2col p; };
layout(std430, binding = 0) readonly buffer PBuf { float px[]; };
layout(std430, binding = 1) writeonly buffer OBuf { float o[]; };

void main ()
{
  uint cols = 3u * p.p * p.p;
  uint col = gl_GlobalInvocationID.x;
  uint row = gl_WorkGroupID.y + gl_WorkGroupID.z * 65535u;
  if (col >= cols || row >= p.F * p.g * p.g)
    return;
  uint f = row / (p.g * p.g);
  uint py = (row / p.g) % p.g;
  uint pxi = row % p.g;
  uint c = col / (p.p * p.p);
  uint ky = (col / p.p) % p.p;
  uint kx = col % p.p;
  uint y = py * p.p + ky;
  uint x = pxi * p.p + kx;
  o[row * cols + col] = px[((f * 3u + c) * p.S + y) * p.S + x];
}
