#version 450
// matmul.comp — CPU-style GEMM / GEMV for one row chunk of W:
//   out[m, n0+r] = act(x[m, :] · W[r, :] + bias[n0+r]) + residual[m, n0+r]
// x [M, K] f32, W chunk [nrows, K] (weights.glsl), out/residual [M, N] f32.
//
// One invocation computes RN weight rows × MT tokens in registers and loops
// over all of K: no shared memory, no barriers.  All invocations of a
// workgroup work on the same MT tokens, so every x load is dynamically
// uniform (lavapipe: one scalar load + broadcast) and only the weight stream
// varies per lane.  MT = 8 is the GEMM variant, MT = 1 the decode GEMV.
// Workgroups: x = ceil(nrows / (RN * LL_MM_WG)), y = ceil(M / MT).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "ll_pc.h"

#ifndef MT
#define MT 8
#endif
#define RN LL_MM_RN

layout(local_size_x = LL_MM_WG) in;
layout(push_constant) uniform PC { LlPcMatmul p; };

layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
// the same x as vec4: a uniform vec4 load is one load on lavapipe, four
// scalar ones are four (measured: the GEMM runs ~1.8x faster)
layout(std430, binding = 0) readonly buffer XBuf4 { vec4 x4[]; };
#define W_BINDING 1
#define W_NROWS p.nrows
#include "weights.glsl"
layout(std430, binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = 3) buffer ResBuf { float res[]; };
layout(std430, binding = 4) buffer OutBuf { float o[]; };

#include "activations.glsl"

void main ()
{
  uint r0 = gl_GlobalInvocationID.x * RN;
  uint m0 = gl_WorkGroupID.y * MT;
  if (r0 >= p.nrows)
    return;

  uint rows[RN];
  [[unroll]] for (uint i = 0u; i < RN; i++)
    rows[i] = min (r0 + i, p.nrows - 1u);
  uint xrow[MT];
  [[unroll]] for (uint j = 0u; j < MT; j++)
    xrow[j] = min (m0 + j, p.M - 1u) * p.K;

  float acc[RN][MT];
  [[unroll]] for (uint i = 0u; i < RN; i++)
    [[unroll]] for (uint j = 0u; j < MT; j++)
      acc[i][j] = 0.0;

  uint k8 = p.K & ~7u;
  // K % 4 == 0 keeps every x row 16-byte aligned: read x as vec4.  The
  // two loops differ only in the x loads; xrow / k stay in floats.
  if ((p.K & 3u) == 0u) {
    for (uint k = 0u; k < k8; k += 8u) {
      vec4 wa[RN], wb[RN];
      [[unroll]] for (uint i = 0u; i < RN; i++)
        load_w8 (rows[i], k, p.ld_w, wa[i], wb[i]);
      [[unroll]] for (uint j = 0u; j < MT; j++) {
        uint b = (xrow[j] + k) / 4u;
        vec4 xa = x4[b], xb = x4[b + 1u];
        [[unroll]] for (uint i = 0u; i < RN; i++)
          acc[i][j] += dot (wa[i], xa) + dot (wb[i], xb);
      }
    }
  } else {
    for (uint k = 0u; k < k8; k += 8u) {
      vec4 wa[RN], wb[RN];
      [[unroll]] for (uint i = 0u; i < RN; i++)
        load_w8 (rows[i], k, p.ld_w, wa[i], wb[i]);
      [[unroll]] for (uint j = 0u; j < MT; j++) {
        uint b = xrow[j] + k;
        vec4 xa = vec4 (x[b], x[b + 1u], x[b + 2u], x[b + 3u]);
        vec4 xb = vec4 (x[b + 4u], x[b + 5u], x[b + 6u], x[b + 7u]);
        [[unroll]] for (uint i = 0u; i < RN; i++)
          acc[i][j] += dot (wa[i], xa) + dot (wb[i], xb);
      }
    }
  }
  for (uint k = k8; k < p.K; k++) {
    float wv[RN];
    [[unroll]] for (uint i = 0u; i < RN; i++)
      wv[i] = load_w1 (rows[i], k, p.ld_w);
    [[unroll]] for (uint j = 0u; j < MT; j++) {
      float xv = x[xrow[j] + k];
      [[unroll]] for (uint i = 0u; i < RN; i++)
        acc[i][j] += wv[i] * xv;
    }
  }

  [[unroll]] for (uint j = 0u; j < MT; j++) {
    uint m = m0 + j;
    if (m >= p.M)
      break;
    [[unroll]] for (uint i = 0u; i < RN; i++) {
      if (r0 + i >= p.nrows)
        break;
      uint n = p.n0 + r0 + i;
      float v = acc[i][j];
      if ((p.flags & LL_MM_BIAS) != 0u)
        v += bias[n];
      v = ll_act (v, p.act);
      uint idx = m * p.N + n;
      if ((p.flags & LL_MM_RESIDUAL) != 0u)
        v += res[idx];
      o[idx] = v;
    }
  }
}
