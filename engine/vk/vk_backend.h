/* vk_backend.h — options of the Vulkan backend beyond backend.h. */
#pragma once

#include "backend.h"

G_BEGIN_DECLS

/* Kernel flavour.  CPU style (one invocation per output row block, uniform
 * shared operand, no barriers) is 5-10x faster on lavapipe; GPU style
 * (shared-memory tiles, workgroup reductions) is for real GPUs.  AUTO picks
 * CPU style when deviceType is CPU, unless LLAVA_VK_KERNELS=cpu|gpu says
 * otherwise. */
typedef enum {
  LL_VK_KERNELS_AUTO = 0,
  LL_VK_KERNELS_CPU,
  LL_VK_KERNELS_GPU,
} LlVkKernels;

LlBackend *ll_backend_vulkan_new_full (int device_index, LlVkKernels kernels,
    GError **err);

/* TRUE when `b` is a Vulkan backend using the CPU-style kernels. */
gboolean ll_backend_vulkan_cpu_style (LlBackend *b);

/* Probed limits of the backend's device (0 for other backends). */
guint64 ll_backend_vulkan_max_binding (LlBackend *b);

/* Lowers the binding limit (maxStorageBufferRange as the backend sees it)
 * to `bytes` (>= 256; never raises it) for the tensors made from now on;
 * tensors already made keep their row chunks.  The per-backend form of
 * LLAVA_VK_MAX_BINDING=bytes (read when the backend is made): tests use it
 * to exercise row chunking on small tensors.  FALSE when `b` is not a
 * Vulkan backend or bytes < 256. */
gboolean ll_backend_vulkan_set_max_binding (LlBackend *b, guint64 bytes);

/* Device memory of a Vulkan backend.  LlBackendOps.memory_in_use reports
 * tensor_bytes (what the tensors need, as before arenas: the engine's
 * weight-size checks compare it with the checkpoint), memory_peak reports
 * device_peak (VkDeviceMemory actually allocated: arena blocks incl. their
 * free space, dedicated allocations, the staging buffer and the runtime's
 * internal buffers).
 *
 * Arenas: tensors made with weight_new (ll_backend_weight_new, which
 * engine/weights.c uses for every weight) are placed in the weights
 * arena, everything else (activations, KV cache, feature cache) in the
 * activations arena, so that freeing a session's scratch never leaves holes
 * between weights.  Block size: 32 MiB, LLAVA_VK_ARENA_BLOCK=bytes
 * overrides (read when the backend is made); buffers over a quarter of a
 * block get a dedicated allocation.  (At the 0.5B shapes, 10 frames,
 * T = 7306, q8_0, 573.6 MiB of tensors: 593 MiB of device memory with
 * 32 MiB blocks, 639 MiB with 64 MiB ones — medium-size activations such as
 * the KV cache and the input embeddings leave block tails unused.)
 * LLAVA_VK_MEMORY=1 prints these figures to stderr when the backend is
 * freed. */
enum {
  LL_VK_ARENA_WEIGHTS = 0,
  LL_VK_ARENA_ACTIVATIONS = 1,
  LL_VK_ARENA_COUNT = 2,
};

typedef struct {
  guint64 tensor_bytes;         /* live tensors now (= memory_in_use) */
  guint64 tensor_peak;          /* ... at most so far */
  guint64 device_bytes;         /* VkDeviceMemory held now, all kinds */
  guint64 device_peak;          /* ... at most so far (= memory_peak) */
  guint64 block_size;           /* configured arena block size */
  guint64 offset_alignment;     /* every offset is a multiple (>= 16, and
                                 * of minStorageBufferOffsetAlignment) */
  guint n_blocks[LL_VK_ARENA_COUNT];        /* blocks held per arena */
  guint64 arena_bytes[LL_VK_ARENA_COUNT];   /* their bytes */
  guint64 arena_used[LL_VK_ARENA_COUNT];    /* bytes sub-allocated in them */
  guint64 arena_peak[LL_VK_ARENA_COUNT];    /* most arena_bytes so far */
  guint n_dedicated;            /* dedicated allocations (incl. staging) */
  guint64 dedicated_bytes;      /* their bytes */
  guint64 dedicated_peak;       /* most dedicated_bytes so far */
  guint64 n_allocations;        /* vkAllocateMemory calls so far */
  guint64 n_buffers;            /* buffers made so far (before arenas: one
                                 * allocation each) */
} LlVkMemoryStats;

/* FALSE (and *s zeroed) when `b` is not a Vulkan backend. */
gboolean ll_backend_vulkan_memory_stats (LlBackend *b, LlVkMemoryStats *s);

/* Where row chunk `chunk` of tensor `t` lives (for tests of the arenas):
 * returns its VkDeviceMemory handle as an integer, sets *offset and *size
 * (bytes taken from that memory); 0 when `t` is not a Vulkan tensor or has
 * no such chunk. */
guint64 ll_backend_vulkan_tensor_placement (LlBackend *b, LlTensor *t,
    guint chunk, guint64 *offset, guint64 *size);

G_END_DECLS
