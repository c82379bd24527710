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

G_END_DECLS
