/* vk_memory.c — device memory: arenas of large blocks, sub-allocated.
 *
 * Every LlVkBuffer is its own VkBuffer (so descriptors bind whole buffers at
 * offset 0 and the runtime tracks hazards per tensor chunk, not per block),
 * bound at an offset inside a VkDeviceMemory block:
 *
 *   - LL_VK_MEM_WEIGHTS and LL_VK_MEM_DEVICE buffers are sub-allocated from
 *     two separate arenas, so that long-lived weights stay packed in their
 *     own blocks and the per-session activations / KV cache, freed and
 *     re-made, never leave holes between weights.
 *   - A block is one vkAllocateMemory of up to block_size bytes (32 MiB by
 *     default, LLAVA_VK_ARENA_BLOCK=bytes overrides), capped by
 *     maxMemoryAllocationSize and 1/8 of the memory type's heap.  An arena's
 *     first block is block_size / 8 and each new one doubles the largest
 *     it holds (so a small model or a test does not take a whole block at
 *     once), or more, up to block_size, until the request that needs it
 *     takes at most half of it.
 *   - Free space per block: a list of [offset, size) ranges sorted by
 *     offset; first fit, with the front padding for the alignment left free;
 *     a freed range coalesces with its neighbours.
 *   - Offsets are aligned to max(VkMemoryRequirements.alignment,
 *     minStorageBufferOffsetAlignment, 16): the second is not needed while
 *     descriptors bind at offset 0, but keeps every buffer start valid as a
 *     descriptor offset into the block too.
 *   - Dedicated allocations (a block of its own, freed with the buffer): a
 *     buffer over a quarter of a block (a larger one would leave most of a
 *     new block's tail unused), when the driver prefers or requires it
 *     (VkMemoryDedicatedRequirements), staging / host-visible buffers
 *     (few, and the staging buffer is persistent), or when a new block
 *     cannot be had but the buffer alone still fits.
 *   - A block that becomes empty is freed, except one empty block per arena
 *     (the largest) kept for the next allocation (a session freeing and
 *     re-making its scratch does not call vkFreeMemory / vkAllocateMemory
 *     each time); all go at ll_vk_memory_free.
 *   - Host-visible blocks are mapped once, persistently; a buffer's map is
 *     the block's map + offset.
 *
 * Not thread-safe: a backend (and so its device) is used by one thread at a
 * time (engine/session.c holds the model lock around every call).
 */
#include "vk_private.h"
#include "llava.h"

#include <stdlib.h>
#include <string.h>

#define VK_FAIL_SET(err, res, what) \
  g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE, \
      "Vulkan: %s failed (VkResult %d)", what, (int) (res))

#define DEFAULT_BLOCK (32u << 20)
#define MIN_BLOCK (64u << 10)

typedef struct {
  VkDeviceSize off, size;
} Range;

struct _LlVkBlock {
  VkDeviceMemory mem;
  VkDeviceSize size;
  guint32 type;                 /* memory type index */
  gint arena;                   /* LL_VK_ARENA_*, or -1: dedicated */
  void *map;
  GArray *free;                 /* Range, sorted by off, never adjacent */
  VkDeviceSize used;            /* bytes handed out (incl. alignment) */
  guint n_allocs;
};

struct _LlVkMemory {
  VkDeviceSize block_size;
  GPtrArray *blocks[LL_VK_ARENA_COUNT];   /* LlVkBlock * */
  guint64 held, peak;           /* VkDeviceMemory bytes, all kinds */
  /* the same per arena, [LL_VK_ARENA_COUNT]: dedicated allocations */
  guint64 held_by[LL_VK_ARENA_COUNT + 1], peak_by[LL_VK_ARENA_COUNT + 1];
  guint64 used[LL_VK_ARENA_COUNT];
  guint n_dedicated;
  guint64 n_allocations, n_buffers;       /* so far */
};

/* Device memory taken (+) or given back (-) by arena a (-1: dedicated). */
static void
account (LlVkMemory *m, gint a, gint64 delta)
{
  guint i = a < 0 ? LL_VK_ARENA_COUNT : (guint) a;
  m->held += delta;
  m->held_by[i] += delta;
  m->peak = MAX (m->peak, m->held);
  m->peak_by[i] = MAX (m->peak_by[i], m->held_by[i]);
}

static void
block_destroy (LlVkDevice *d, LlVkBlock *blk)
{
  if (!blk)
    return;
  if (blk->map)
    vkUnmapMemory (d->dev, blk->mem);
  if (blk->mem)
    vkFreeMemory (d->dev, blk->mem, NULL);
  if (blk->free)
    g_array_free (blk->free, TRUE);
  g_free (blk);
}

LlVkMemory *
ll_vk_memory_new (LlVkDevice *d)
{
  LlVkMemory *m = g_new0 (LlVkMemory, 1);
  m->block_size = DEFAULT_BLOCK;
  const char *env = g_getenv ("LLAVA_VK_ARENA_BLOCK");
  if (env && *env) {
    guint64 v = g_ascii_strtoull (env, NULL, 10);
    if (v >= MIN_BLOCK)
      m->block_size = v;
  }
  if (d->caps.max_allocation_size)
    m->block_size = MIN (m->block_size, d->caps.max_allocation_size);
  m->block_size &= ~(VkDeviceSize) 0xffff;
  m->block_size = MAX (m->block_size, MIN_BLOCK);
  for (guint a = 0; a < LL_VK_ARENA_COUNT; a++)
    m->blocks[a] = g_ptr_array_new ();
  return m;
}

void
ll_vk_memory_free (LlVkDevice *d, LlVkMemory *m)
{
  if (!m)
    return;
  for (guint a = 0; a < LL_VK_ARENA_COUNT; a++) {
    for (guint i = 0; i < m->blocks[a]->len; i++)
      block_destroy (d, g_ptr_array_index (m->blocks[a], i));
    g_ptr_array_free (m->blocks[a], TRUE);
  }
  g_free (m);
}

void
ll_vk_memory_stats (LlVkDevice *d, LlVkMemoryStats *s)
{
  LlVkMemory *m = d->memory;
  memset (s, 0, sizeof *s);
  s->block_size = m->block_size;
  s->offset_alignment = MAX (16, d->caps.min_storage_offset_align);
  s->device_bytes = m->held;
  s->device_peak = m->peak;
  s->dedicated_bytes = m->held_by[LL_VK_ARENA_COUNT];
  s->dedicated_peak = m->peak_by[LL_VK_ARENA_COUNT];
  s->n_dedicated = m->n_dedicated;
  s->n_allocations = m->n_allocations;
  s->n_buffers = m->n_buffers;
  for (guint a = 0; a < LL_VK_ARENA_COUNT; a++) {
    s->n_blocks[a] = m->blocks[a]->len;
    s->arena_used[a] = m->used[a];
    s->arena_peak[a] = m->peak_by[a];
    for (guint i = 0; i < m->blocks[a]->len; i++)
      s->arena_bytes[a] += ((LlVkBlock *) g_ptr_array_index (m->blocks[a], i))->size;
  }
}

/* Block size for memory type `type`: the configured size, capped by the
 * heap (1/8 of it, so a small heap is not taken by one block). */
static VkDeviceSize
block_cap (LlVkDevice *d, guint32 type)
{
  VkDeviceSize heap = d->mem.memoryHeaps[d->mem.memoryTypes[type].heapIndex].size;
  VkDeviceSize cap = MIN (d->memory->block_size, heap / 8);
  return MAX (cap & ~(VkDeviceSize) 0xffff, MIN_BLOCK);
}

static LlVkBlock *
block_new (LlVkDevice *d, guint32 type, VkDeviceSize size, gint arena,
    VkBuffer dedicated_for, gboolean map, VkResult *res)
{
  LlVkBlock *blk = g_new0 (LlVkBlock, 1);
  VkMemoryDedicatedAllocateInfo ded = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO,
    .buffer = dedicated_for };
  VkMemoryAllocateInfo mai = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .pNext = dedicated_for ? &ded : NULL,
    .allocationSize = size, .memoryTypeIndex = type };
  *res = vkAllocateMemory (d->dev, &mai, NULL, &blk->mem);
  d->memory->n_allocations++;
  if (*res != VK_SUCCESS) {
    blk->mem = VK_NULL_HANDLE;
    block_destroy (d, blk);
    return NULL;
  }
  blk->size = size;
  blk->type = type;
  blk->arena = arena;
  if (map) {
    *res = vkMapMemory (d->dev, blk->mem, 0, VK_WHOLE_SIZE, 0, &blk->map);
    if (*res != VK_SUCCESS) {
      blk->map = NULL;
      block_destroy (d, blk);
      return NULL;
    }
  }
  blk->free = g_array_new (FALSE, FALSE, sizeof (Range));
  Range all = { 0, size };
  g_array_append_val (blk->free, all);
  account (d->memory, arena, (gint64) size);
  return blk;
}

/* First fit in one block: returns the aligned offset or G_MAXUINT64. */
static VkDeviceSize
block_take (LlVkBlock *blk, VkDeviceSize size, VkDeviceSize align)
{
  for (guint i = 0; i < blk->free->len; i++) {
    Range *r = &g_array_index (blk->free, Range, i);
    VkDeviceSize off = (r->off + align - 1) / align * align;
    if (off + size > r->off + r->size)
      continue;
    Range after = { off + size, r->off + r->size - (off + size) };
    if (off > r->off) {
      r->size = off - r->off;   /* the padding in front stays free */
      if (after.size)
        g_array_insert_val (blk->free, i + 1, after);
    } else if (after.size) {
      *r = after;
    } else {
      g_array_remove_index (blk->free, i);
    }
    blk->used += size;
    blk->n_allocs++;
    return off;
  }
  return G_MAXUINT64;
}

/* Returns [off, off+size) to the block, merging with its neighbours. */
static void
block_give (LlVkBlock *blk, VkDeviceSize off, VkDeviceSize size)
{
  GArray *f = blk->free;
  guint i = 0;
  while (i < f->len && g_array_index (f, Range, i).off < off)
    i++;
  g_assert (i == f->len || g_array_index (f, Range, i).off >= off + size);
  gboolean prev = i > 0 && g_array_index (f, Range, i - 1).off
      + g_array_index (f, Range, i - 1).size == off;
  gboolean next = i < f->len && g_array_index (f, Range, i).off == off + size;
  if (prev && next) {
    g_array_index (f, Range, i - 1).size += size + g_array_index (f, Range, i).size;
    g_array_remove_index (f, i);
  } else if (prev) {
    g_array_index (f, Range, i - 1).size += size;
  } else if (next) {
    g_array_index (f, Range, i).off = off;
    g_array_index (f, Range, i).size += size;
  } else {
    Range r = { off, size };
    g_array_insert_val (f, i, r);
  }
  blk->used -= size;
  blk->n_allocs--;
}

static gint
find_memory_type (LlVkDevice *d, guint32 bits, VkMemoryPropertyFlags want)
{
  for (guint32 i = 0; i < d->mem.memoryTypeCount; i++)
    if ((bits & (1u << i))
        && (d->mem.memoryTypes[i].propertyFlags & want) == want)
      return (gint) i;
  return -1;
}

static gint
choose_type (LlVkDevice *d, guint32 bits, LlVkMemKind kind)
{
  /* ordered preference lists */
  VkMemoryPropertyFlags dev_pref[] = {
    VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
        | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
    VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0 };
  VkMemoryPropertyFlags staging_pref[] = {
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
        | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT };
  gboolean staging = kind == LL_VK_MEM_STAGING;
  const VkMemoryPropertyFlags *pref = staging ? staging_pref
      : dev_pref + (d->caps.unified_memory ? 0 : 1);
  guint npref = staging ? 2 : (d->caps.unified_memory ? 3 : 2);
  gint type = -1;
  for (guint i = 0; i < npref && type < 0; i++)
    type = find_memory_type (d, bits, pref[i]);
  return type;
}

/* Sub-allocates from arena `a`: first fit over its blocks of memory type
 * `type`, else a new block (growing sizes, see the top).  NULL when no
 * block can be had. */
static LlVkBlock *
arena_take (LlVkDevice *d, guint a, guint32 type, VkDeviceSize size,
    VkDeviceSize align, gboolean map, VkDeviceSize *off)
{
  LlVkMemory *m = d->memory;
  GPtrArray *blocks = m->blocks[a];
  VkDeviceSize largest = 0;
  for (guint i = 0; i < blocks->len; i++) {
    LlVkBlock *blk = g_ptr_array_index (blocks, i);
    if (blk->type != type)
      continue;
    largest = MAX (largest, blk->size);
    if (blk->size - blk->used < size)
      continue;
    *off = block_take (blk, size, align);
    if (*off != G_MAXUINT64)
      return blk;
  }
  VkDeviceSize cap = block_cap (d, type);
  VkDeviceSize bs = MAX (cap / 8, MIN (2 * largest, cap));
  /* a request takes at most half of a new block, so that the block's tail
   * is not left too small for anything else */
  while (bs < 2 * (size + align) && bs < cap)
    bs *= 2;
  bs = MIN (bs, cap);
  VkResult r;
  LlVkBlock *blk = block_new (d, type, bs, (gint) a, VK_NULL_HANDLE, map, &r);
  if (!blk)
    return NULL;
  g_ptr_array_add (blocks, blk);
  *off = block_take (blk, size, align);
  /* cannot miss (size <= cap / 4) unless the alignment is absurd: then the
   * caller makes a dedicated allocation and the empty block is kept */
  return *off != G_MAXUINT64 ? blk : NULL;
}

static const char *
kind_name (LlVkMemKind kind)
{
  return kind == LL_VK_MEM_WEIGHTS ? "weights"
      : kind == LL_VK_MEM_STAGING ? "staging" : "activations";
}

gboolean
ll_vk_buffer_init (LlVkDevice *d, LlVkBuffer *b, VkDeviceSize size,
    LlVkMemKind kind, const char *what, GError **err)
{
  memset (b, 0, sizeof *b);
  size = MAX (16, (size + 15) & ~(VkDeviceSize) 15);
  VkBufferCreateInfo bci = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT
        | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
  VkResult r = vkCreateBuffer (d->dev, &bci, NULL, &b->buf);
  if (r != VK_SUCCESS) {
    b->buf = VK_NULL_HANDLE;
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan: cannot create a buffer of %" G_GUINT64_FORMAT " bytes for %s "
        "(VkResult %d)", (guint64) size, what, (int) r);
    return FALSE;
  }
  VkMemoryDedicatedRequirements dreq = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS };
  VkMemoryRequirements2 req2 = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2, .pNext = &dreq };
  VkBufferMemoryRequirementsInfo2 rinfo = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_REQUIREMENTS_INFO_2,
    .buffer = b->buf };
  vkGetBufferMemoryRequirements2 (d->dev, &rinfo, &req2);
  const VkMemoryRequirements *req = &req2.memoryRequirements;
  d->memory->n_buffers++;

  gint type = choose_type (d, req->memoryTypeBits, kind);
  if (type < 0) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan: no suitable memory type for %s", what);
    ll_vk_buffer_clear (d, b);
    return FALSE;
  }
  gboolean map = (d->mem.memoryTypes[type].propertyFlags
      & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
      && (kind == LL_VK_MEM_STAGING || d->caps.unified_memory);
  VkDeviceSize align = MAX (MAX (req->alignment, 16),
      (VkDeviceSize) d->caps.min_storage_offset_align);
  gboolean dedicated = kind == LL_VK_MEM_STAGING
      || dreq.prefersDedicatedAllocation || dreq.requiresDedicatedAllocation
      || req->size > block_cap (d, (guint32) type) / 4;

  LlVkBlock *blk = NULL;
  VkDeviceSize off = 0;
  if (!dedicated) {
    guint a = kind == LL_VK_MEM_WEIGHTS ? LL_VK_ARENA_WEIGHTS
        : LL_VK_ARENA_ACTIVATIONS;
    blk = arena_take (d, a, (guint32) type, req->size, align, map, &off);
    if (blk)
      d->memory->used[a] += req->size;
    /* else no new block: try the buffer alone, it may still fit */
  }
  if (!blk) {
    blk = block_new (d, (guint32) type, req->size, -1, b->buf, map, &r);
    if (!blk) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
          "Vulkan: out of device memory allocating %" G_GUINT64_FORMAT
          " bytes for %s (%s, VkResult %d)", (guint64) req->size, what,
          kind_name (kind), (int) r);
      ll_vk_buffer_clear (d, b);
      return FALSE;
    }
    off = block_take (blk, req->size, 1);
    d->memory->n_dedicated++;
  }
  r = vkBindBufferMemory (d->dev, b->buf, blk->mem, off);
  b->block = blk;
  b->offset = off;
  b->alloc_size = req->size;
  if (r != VK_SUCCESS) {
    VK_FAIL_SET (err, r, "vkBindBufferMemory");
    ll_vk_buffer_clear (d, b);
    return FALSE;
  }
  b->size = size;
  if (blk->map)
    b->map = (char *) blk->map + off;
  return TRUE;
}

/* An arena keeps one empty block (the largest): when a second one becomes
 * empty, the smaller of the two is freed. */
static void
arena_release (LlVkDevice *d, LlVkBlock *blk)
{
  LlVkMemory *m = d->memory;
  GPtrArray *blocks = m->blocks[blk->arena];
  LlVkBlock *other = NULL;
  for (guint i = 0; i < blocks->len && !other; i++) {
    LlVkBlock *o = g_ptr_array_index (blocks, i);
    if (o != blk && o->n_allocs == 0)
      other = o;
  }
  if (!other)
    return;
  LlVkBlock *victim = other->size < blk->size ? other : blk;
  g_ptr_array_remove (blocks, victim);
  account (m, victim->arena, -(gint64) victim->size);
  block_destroy (d, victim);
}

void
ll_vk_buffer_clear (LlVkDevice *d, LlVkBuffer *b)
{
  if (!b)
    return;
  if (b->buf)
    vkDestroyBuffer (d->dev, b->buf, NULL);
  LlVkBlock *blk = b->block;
  if (blk) {
    LlVkMemory *m = d->memory;
    block_give (blk, b->offset, b->alloc_size);
    if (blk->arena < 0) {
      account (m, -1, -(gint64) blk->size);
      m->n_dedicated--;
      block_destroy (d, blk);
    } else {
      m->used[blk->arena] -= b->alloc_size;
      if (blk->n_allocs == 0)
        arena_release (d, blk);
    }
  }
  memset (b, 0, sizeof *b);
}

guint64
ll_vk_buffer_memory (const LlVkBuffer *b)
{
  guint64 v = 0;
  if (b->block)
    memcpy (&v, &b->block->mem, MIN (sizeof v, sizeof b->block->mem));
  return v;
}
