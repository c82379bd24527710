/* vk_private.h — the Vulkan runtime inside engine/vk (not a public API).
 *
 *   vk_device.c    instance + device choice, probed caps
 *   vk_memory.c    buffers: arenas of device memory blocks, sub-allocated
 *   vk_runtime.c   pipeline registry, command recording with dependency
 *                  tracking, submit, timestamp profiling
 *   vk_backend.c   LlBackendOps: tensors (row-chunked to respect
 *                  maxStorageBufferRange) and ops
 *   vk_ops.c       the op recorders (one dispatch recipe per op)
 */
#pragma once

#include "backend.h"
#include "vk_backend.h"
#include "ll_shaders.h"
#include "ll_pc.h"

#include <vulkan/vulkan.h>

/* Everything probed about the chosen device, in one place. */
typedef struct {
  char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  VkPhysicalDeviceType type;
  guint32 vendor_id;
  guint32 api_version;
  gboolean shader_fp16;         /* shaderFloat16 */
  gboolean shader_int8;         /* shaderInt8 */
  gboolean storage_16bit;       /* storageBuffer16BitAccess */
  gboolean storage_8bit;        /* storageBuffer8BitAccess */
  gboolean push_descriptor;     /* VK_KHR_push_descriptor (informational) */
  guint32 subgroup_size;
  guint64 max_storage_buffer_range;
  guint64 max_allocation_size;
  guint32 max_shared_memory;
  guint32 max_workgroup_invocations;
  guint32 max_workgroup_count[3];
  guint32 max_push_constants;
  guint32 min_storage_offset_align;
  gboolean timestamps;          /* compute queue can write timestamps */
  float timestamp_period;       /* ns per tick */
  gboolean unified_memory;      /* device-local memory that the host maps */
} LlVkCaps;

typedef struct _LlVkMemory LlVkMemory;
typedef struct _LlVkBlock LlVkBlock;

typedef struct {
  VkInstance instance;
  VkPhysicalDevice phys;
  VkDevice dev;
  VkQueue queue;
  guint32 queue_family;
  VkPhysicalDeviceMemoryProperties mem;
  LlVkCaps caps;
  LlVkMemory *memory;           /* the arenas (vk_memory.c) */
  char *describe;
} LlVkDevice;

LlVkDevice *ll_vk_device_new (int device_index, GError **err);
void ll_vk_device_free (LlVkDevice *d);

/* One VkBuffer bound at `offset` in a memory block: an arena block shared
 * with other buffers, or a dedicated one (vk_memory.c).  Descriptors bind
 * the whole VkBuffer.  map != NULL when host-visible (block map + offset).
 * gen_read / gen_write: the runtime's barrier generation of the last
 * recorded read / write (see vk_runtime.c). */
typedef struct {
  VkBuffer buf;
  LlVkBlock *block;
  VkDeviceSize offset;          /* in block, aligned (see vk_memory.c) */
  VkDeviceSize alloc_size;      /* bytes taken from the block */
  VkDeviceSize size;            /* bytes of the buffer */
  void *map;
  guint64 gen_read, gen_write;
} LlVkBuffer;

typedef enum {
  LL_VK_MEM_DEVICE,             /* activations, KV cache, internal scratch:
                                 * device-local (mapped if unified) */
  LL_VK_MEM_WEIGHTS,            /* the same memory, in the weights arena */
  LL_VK_MEM_STAGING,            /* host-visible, coherent, cached if possible */
} LlVkMemKind;

LlVkMemory *ll_vk_memory_new (LlVkDevice *d);
/* Frees every block still held (call after all buffers are cleared). */
void ll_vk_memory_free (LlVkDevice *d, LlVkMemory *m);
void ll_vk_memory_stats (LlVkDevice *d, LlVkMemoryStats *s);

/* Creates a buffer of `size` bytes (rounded up to 16) of `kind`; `what`
 * names it in errors.  ll_vk_buffer_clear is safe on a zeroed or failed
 * buffer. */
gboolean ll_vk_buffer_init (LlVkDevice *d, LlVkBuffer *b, VkDeviceSize size,
    LlVkMemKind kind, const char *what, GError **err);
void ll_vk_buffer_clear (LlVkDevice *d, LlVkBuffer *b);
/* The VkDeviceMemory handle of b's block as an integer (0: none). */
guint64 ll_vk_buffer_memory (const LlVkBuffer *b);

/* ---- runtime ---- */

#define LL_VK_MAX_BINDINGS 5

typedef struct _LlVkRuntime LlVkRuntime;

typedef struct {
  LlVkBuffer *buf;
  gboolean write;
} LlVkBind;

LlVkRuntime *ll_vk_runtime_new (LlVkDevice *d, gboolean profile, GError **err);
void ll_vk_runtime_free (LlVkRuntime *rt);

/* Records one dispatch of kernel `id` (spec: value of specialization
 * constant 0, or 0 for none) with the given storage-buffer bindings (whole
 * buffers) and push constants.  A barrier is recorded first only if one of
 * the buffers was written, or one written here was read, since the last
 * barrier.  Errors are kept and returned by ll_vk_runtime_sync(). */
void ll_vk_dispatch (LlVkRuntime *rt, const char *op, LlSpvId id,
    guint32 spec, const LlVkBind *binds, guint n_binds, const void *pc,
    gsize pc_size, guint32 gx, guint32 gy, guint32 gz);

/* Records a buffer copy (staging), with the same dependency tracking. */
void ll_vk_copy (LlVkRuntime *rt, LlVkBuffer *dst, VkDeviceSize dst_off,
    LlVkBuffer *src, VkDeviceSize src_off, VkDeviceSize size);

/* Keeps the first error; later ones are dropped. */
void ll_vk_runtime_fail (LlVkRuntime *rt, GError *e);
gboolean ll_vk_runtime_failed (LlVkRuntime *rt);

/* Submits everything recorded (one submit) and waits; returns (and
 * clears) the first deferred error. */
gboolean ll_vk_runtime_sync (LlVkRuntime *rt, GError **err);

/* The same, keeping a deferred error for the next sync. */
void ll_vk_runtime_flush (LlVkRuntime *rt);

/* A 16-byte buffer bound where an optional operand is absent. */
LlVkBuffer *ll_vk_runtime_dummy (LlVkRuntime *rt);

/* ---- backend (vk_backend.c, vk_ops.c) ---- */

/* A tensor is stored in row chunks, one buffer each, so that every binding
 * stays within maxStorageBufferRange (a 152000×1024 f16 table needs 3).
 * Device layouts, per chunk of `nrows` rows:
 *   F32, I32: [nrows][cols]                       (ld = cols)
 *   F16:      [nrows][ld] halves, ld = cols rounded up to 8, zero padded
 *   Q8_0:     int8 [nrows][ld], ld = cols rounded up to 32 (backend.h's
 *             kp), then float d[nrows][ld / 32] — the host layout per chunk */
typedef struct {
  LlTensor base;
  guint32 ld;                   /* row stride in elements */
  guint32 chunk_rows;           /* rows per chunk (the last may have fewer) */
  guint32 n_chunks;
  LlVkBuffer *chunks;
  guint64 bytes;
} LlVkTensor;

/* inv_freq[i] = 1 / theta^(2i/D), i < D/2, computed on the host exactly as
 * the reference (and PyTorch) do in fp32; one small host-visible buffer
 * per (theta, D) that rope_kv reads. */
typedef struct {
  float theta;
  guint32 D;
  LlVkBuffer buf;
} LlVkRopeTable;

typedef struct {
  LlBackend base;
  LlVkDevice *d;
  GArray *rope_tables;          /* LlVkRopeTable */
  LlVkRuntime *rt;
  gboolean cpu_style;           /* kernel flavour: see ll_backend_vulkan_new */
  LlVkBuffer staging;           /* grows on demand (discrete GPUs only) */
  LlVkBuffer attn_partials;     /* split-KV partials, grows on demand */
  LlVkBuffer ids_scratch;       /* embed_rows into a split output: the ids
                                 * of one output chunk, grows on demand */
  guint64 in_use, peak;         /* bytes of live tensors now / at most */
  gboolean print_memory;        /* LLAVA_VK_MEMORY=1 */
} LlVkBackend;

static inline LlVkBackend *
VKB (LlBackend *b)
{
  return (LlVkBackend *) b;
}

static inline guint32
ll_vk_chunk_nrows (const LlVkTensor *t, guint32 c)
{
  return MIN (t->chunk_rows, t->base.rows - c * t->chunk_rows);
}

/* vk_ops.c: the recorded ops of LlBackendOps (semantics in backend.h) */
void ll_vk_matmul (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
    LlTensor *bias, LlTensor *residual, LlAct act, guint32 M);
void ll_vk_layernorm (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
    LlTensor *bias, float eps, guint32 M);
void ll_vk_rmsnorm (LlBackend *b, LlTensor *out, LlTensor *x, LlTensor *w,
    float eps, guint32 M);
void ll_vk_silu_mul (LlBackend *b, LlTensor *out, LlTensor *gu, guint32 M);
void ll_vk_add_rows (LlBackend *b, LlTensor *out, LlTensor *add, guint32 M);
void ll_vk_im2col (LlBackend *b, LlTensor *out, LlTensor *pixels, guint32 F,
    guint32 S, guint32 p);
void ll_vk_attention_frames (LlBackend *b, LlTensor *out, LlTensor *qkv,
    guint32 F, guint32 P, guint32 H, guint32 D, float scale);
void ll_vk_rope_kv (LlBackend *b, LlTensor *qkv, LlTensor *kc, LlTensor *vc,
    guint32 T, guint32 H, guint32 Hkv, guint32 D, guint32 pos0, float theta);
void ll_vk_attention_causal (LlBackend *b, LlTensor *out, LlTensor *qkv,
    LlTensor *kc, LlTensor *vc, guint32 T, guint32 H, guint32 Hkv,
    guint32 D, guint32 pos0, float scale);
void ll_vk_embed_rows (LlBackend *b, LlTensor *out, LlTensor *table,
    LlTensor *ids, guint32 T);
void ll_vk_copy_rows (LlBackend *b, LlTensor *dst, guint32 dst_row0,
    LlTensor *src, guint32 src_row0, guint32 n);
void ll_vk_argmax (LlBackend *b, LlTensor *ids, guint32 index,
    LlTensor *logits, guint32 n_valid);
