#version 450
// matmul_gpu.comp — GPU-style tiled GEMM for one row chunk of W:
// a 16×16 workgroup computes a 64 (tokens) × 64 (weight rows) tile, each
// invocation 4×4 outputs; K is walked in steps of 16 through shared memory
// (x tile and dequantised W tile, 2 × 16×64 floats = 8 KiB).  Same bindings
// and epilogue as matmul.comp.  Workgroups x = ceil(nrows / 64),
// y = ceil(M / 64).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "ll_pc.h"
#define BM 64
#define BN 64
#define BK 16
layout(local_size_x = 16, local_size_y = 16) in;
layout(push_constant) uniform PC { LlPcMatmul p; };
layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
#define W_BINDING 1
#define W_NROWS p.nrows
#include "weights.glsl"
layout(std430, binding = 2) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = 3) buffer ResBuf { float res[]; };
layout(std430, binding = 4) buffer OutBuf { float o[]; };
#include "activations.glsl"

shared float xs[BK][BM];
shared float ws[BK][BN];

void main ()
{
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint lid = ty * 16u + tx;
  uint n_base = gl_WorkGroupID.x * BN;    // weight rows (within the chunk)
  uint m_base = gl_WorkGroupID.y * BM;    // tokens
  float acc[4][4];
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    [[unroll]] for (uint j = 0u; j < 4u; j++)
      acc[i][j] = 0.0;

  for (uint k0 = 0u; k0 < p.K; k0 += BK) {
    // 256 lanes load 16×64 elements of each tile, 4 apiece
    [[unroll]] for (uint e = 0u; e < 4u; e++) {
      uint idx = lid + e * 256u;
      uint kk = idx % BK, rr = idx / BK;
      uint k = k0 + kk;
      uint m = m_base + rr, n = n_base + rr;
      xs[kk][rr] = (k < p.K && m < p.M) ? x[m * p.K + k] : 0.0;
      ws[kk][rr] = (k < p.K && n < p.nrows) ? load_w1 (n, k, p.ld_w) : 0.0;
    }
    barrier ();
    [[unroll]] for (uint kk = 0u; kk < BK; kk++) {
      float a[4], b[4];
      [[unroll]] for (uint i = 0u; i < 4u; i++) {
        a[i] = xs[kk][ty + 16u * i];
        b[i] = ws[kk][tx + 16u * i];
      }
      [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint j = 0u; j < 4u; j++)
          acc[i][j] += a[i] * b[j];
    }
    barrier ();
  }

  [[unroll]] for (uint i = 0u; i < 4u; i++) {
    uint m = m_base + ty + 16u * i;
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
      uint r = n_base + tx + 16u * j;
      if (m >= p.M || r >= p.nrows)
        continue;
      uint n = p.n0 + r;
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
