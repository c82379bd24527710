#version 450
// argmax.comp — ids[index] = argmax(logits[0:n]), first maximum wins.
// One workgroup of 64 lanes: lane l scans the contiguous slice l of the
// logits (strict > keeps the first maximum of the slice), then a shared-
// memory tree keeps the larger value, or the smaller index on a tie.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
#define WG 64
layout(local_size_x = WG) in;
layout(push_constant) uniform PC { LlPcArgmax p; };
layout(std430, binding = 0) readonly buffer LBuf { float logits[]; };
layout(std430, binding = 1) buffer IBuf { int ids[]; };

shared float sv[WG];
shared uint si[WG];

void main ()
{
  uint l = gl_LocalInvocationID.x;
  uint per = (p.n + WG - 1u) / WG;
  uint b = l * per, e = min (b + per, p.n);
  float best = -1.0 / 0.0;
  uint bi = 0xffffffffu;
  for (uint i = b; i < e; i++) {
    float v = logits[i];
    if (bi == 0xffffffffu || v > best) {
      best = v;
      bi = i;
    }
  }
  sv[l] = best;
  si[l] = bi;
  barrier ();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (l < s) {
      float ov = sv[l + s];
      uint oi = si[l + s];
      if (oi != 0xffffffffu && (si[l] == 0xffffffffu || ov > sv[l]
              || (ov == sv[l] && oi < si[l]))) {
        sv[l] = ov;
        si[l] = oi;
      }
    }
    barrier ();
  }
  if (l == 0u)
    ids[p.index] = int (si[0] == 0xffffffffu ? 0u : si[0]);
}
