#version 450
// gemv_gpu.comp — GPU-style decode GEMV (M = 1) for one row chunk of W:
// one 64-lane workgroup per weight row, lanes stride over K in steps of 8
// (neighbouring lanes read neighbouring words: coalesced on a GPU), partial
// sums reduced through shared memory.  Same bindings and epilogue as
// matmul.comp.  Workgroups: row = x + 65535 * y.
#extension GL_GOOGLE_include_directive : require
#include "ll_pc.h"
#define WG 64
layout(local_size_x = WG) in;
layout(push_constant) uniform PC { LlPcMatmul p; };
layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
#define W_BINDING 1
#define W_NROWS p.nrows
#include "weights.glsl"
layout(std430, binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = 3) buffer ResBuf { float res[]; };
layout(std430, binding = 4) buffer OutBuf { float o[]; };
#include "activations.glsl"

shared float red[WG];

void main ()
{
  uint r = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
  uint l = gl_LocalInvocationID.x;
  if (r >= p.nrows)
    return;                     // whole workgroup: no barrier is skipped
  uint k8 = p.K & ~7u;
  float s = 0.0;
  for (uint k = l * 8u; k < k8; k += WG * 8u) {
    vec4 wa, wb;
    load_w8 (r, k, p.ld_w, wa, wb);
    s += dot (wa, vec4 (x[k], x[k + 1u], x[k + 2u], x[k + 3u]))
        + dot (wb, vec4 (x[k + 4u], x[k + 5u], x[k + 6u], x[k + 7u]));
  }
  for (uint k = k8 + l; k < p.K; k += WG)
    s += load_w1 (r, k, p.ld_w) * x[k];
  red[l] = s;
  barrier ();
  for (uint h = WG / 2u; h > 0u; h >>= 1u) {
    if (l < h)
      red[l] += red[l + h];
    barrier ();
  }
  if (l == 0u) {
    uint n = p.n0 + r;
    float v = red[0];
    if ((p.flags & LL_MM_BIAS) != 0u)
      v += bias[n];
    v = ll_act (v, p.act);
    if ((p.flags & LL_MM_RESIDUAL) != 0u)
      v += res[n];
    o[n] = v;
  }
}
