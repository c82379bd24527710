/* ll_pc.h — push-constant layouts shared by the host (engine/vk, C11) and the
 * GLSL kernels in this directory.  Both sides include this one file, so a
 * field added here cannot drift between them.  All members are 32-bit and
 * the structs stay <= 128 bytes (the Vulkan minimum maxPushConstantsSize). */
#ifndef LL_PC_H
#define LL_PC_H

#ifdef VULKAN /* GLSL, compiled by glslangValidator -V */
#define LL_U uint
#define LL_PC_BEGIN(name) struct name {
#define LL_PC_END(name) };
#else
#include <stdint.h>
#define LL_U uint32_t
#define LL_PC_BEGIN(name) typedef struct {
#define LL_PC_END(name) } name;
#endif

/* matmul.comp (CPU style): weight rows per invocation, lanes per workgroup
 * (8 = lavapipe's SIMD width; measured on lavapipe: 8 rows beat 4 by ~25%,
 * 16 rows and 16 tokens per invocation were slower) */
#define LL_MM_RN 8u
#define LL_MM_WG 8u

/* matmul flags */
#define LL_MM_BIAS 1u
#define LL_MM_RESIDUAL 2u

/* out[m, n0 + r] for one row chunk of W (rows n0 .. n0+nrows-1 of [N, K]).
 * ld_w: row stride of the chunk in elements (f16: K rounded up to 8,
 * q8_0: K rounded up to 32).  act: LlAct. */
LL_PC_BEGIN (LlPcMatmul)
  LL_U M; LL_U N; LL_U K; LL_U ld_w;
  LL_U n0; LL_U nrows; LL_U flags; LL_U act;
LL_PC_END (LlPcMatmul)

/* layernorm / rmsnorm over rows of C columns */
LL_PC_BEGIN (LlPcNorm)
  LL_U M; LL_U C; LL_U has_bias; float eps;
LL_PC_END (LlPcNorm)

/* silu_mul (rows, cols = N), add_rows (rows, cols, add_rows),
 * copy_rows (rows, cols, dst_off, src_off in elements). */
LL_PC_BEGIN (LlPcRows)
  LL_U rows; LL_U cols; LL_U a; LL_U b;
LL_PC_END (LlPcRows)

LL_PC_BEGIN (LlPcIm2col)
  LL_U F; LL_U S; LL_U p; LL_U g;
LL_PC_END (LlPcIm2col)

/* attention.comp: queries per lane (workgroups of 8 lanes cover 8*QPL) */
#define LL_ATTN_QPL 2u

/* rope_kv and attention.  ld_kv: row stride of the KV cache in elements;
 * ctx: cache rows per kv head.  For attention_frames T = P per frame and
 * F frames; Hkv = H. */
LL_PC_BEGIN (LlPcAttn)
  LL_U T; LL_U H; LL_U Hkv; LL_U D;
  LL_U pos0; LL_U ctx; LL_U ld_kv; LL_U F;
  float scale; float theta;
LL_PC_END (LlPcAttn)

/* attention_split.comp / attention_combine.comp (split-KV decode): each
 * workgroup of LL_ATTN_SPLIT_LANES lanes covers `split` keys of one
 * (query t, head h); every lane writes a partial (m, l, acc[D]) record of
 * D + 2 floats to partial[((t*H + h) * n_splits + s) * lanes + lane]. */
#define LL_ATTN_SPLIT_LANES 8u
LL_PC_BEGIN (LlPcAttnSplit)
  LL_U T; LL_U H; LL_U Hkv; LL_U D;
  LL_U pos0; LL_U ctx; LL_U ld_kv; LL_U split;
  LL_U n_splits; float scale;
LL_PC_END (LlPcAttnSplit)

/* embed_rows for table rows r0 .. r0+nrows-1 held in one chunk. */
LL_PC_BEGIN (LlPcEmbed)
  LL_U T; LL_U C; LL_U r0; LL_U nrows;
  LL_U ld; LL_U total_rows; LL_U zero_invalid; LL_U pad_;
LL_PC_END (LlPcEmbed)

LL_PC_BEGIN (LlPcArgmax)
  LL_U n; LL_U index;
LL_PC_END (LlPcArgmax)

#endif
