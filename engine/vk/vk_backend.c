/* vk_backend.c — the Vulkan LlBackend: construction, tensors (row-chunked
 * buffers, see vk_private.h), upload / download and sync.  The ops are in
 * vk_ops.c. */
#include "vk_private.h"
#include "vk_backend.h"
#include "llava.h"

#include <stdlib.h>
#include <string.h>

#define STAGING_MAX (64u << 20)   /* bytes per staged copy */

static guint64
max_binding (LlVkBackend *b)
{
  guint64 m = b->d->caps.max_storage_buffer_range;
  if (b->d->caps.max_allocation_size)
    m = MIN (m, b->d->caps.max_allocation_size);
  return m & ~(guint64) 15;
}

/* bytes of one device row */
static guint64
row_bytes (LlDType dtype, guint32 ld)
{
  switch (dtype) {
    case LL_F16: return (guint64) ld * 2;
    case LL_Q8_0: return (guint64) ld + ld / LL_Q8_0_BLOCK * 4;
    default: return (guint64) ld * 4;
  }
}

static void
vk_tensor_free (LlBackend *bb, LlTensor *tt)
{
  LlVkBackend *b = VKB (bb);
  LlVkTensor *t = (LlVkTensor *) tt;
  if (!t)
    return;
  /* the buffers may still be used by recorded work */
  if (b->rt)
    ll_vk_runtime_flush (b->rt);
  for (guint32 c = 0; t->chunks && c < t->n_chunks; c++)
    ll_vk_buffer_clear (b->d, &t->chunks[c]);
  b->in_use -= t->bytes;
  g_free (t->chunks);
  g_free (t->base.name);
  g_free (t);
}

static LlTensor *
tensor_new_in (LlBackend *bb, LlVkMemKind kind, LlDType dtype, guint32 rows,
    guint32 cols, const char *name, GError **err)
{
  LlVkBackend *b = VKB (bb);
  if (rows == 0 || cols == 0 || dtype > LL_I32) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "tensor %s: bad shape [%u, %u] or dtype %d", name ? name : "?", rows,
        cols, (int) dtype);
    return NULL;
  }
  LlVkTensor *t = g_new0 (LlVkTensor, 1);
  t->base.dtype = dtype;
  t->base.rows = rows;
  t->base.cols = cols;
  t->base.name = g_strdup (name ? name : "(unnamed)");
  t->ld = dtype == LL_F16 ? (cols + 7) & ~7u
      : dtype == LL_Q8_0 ? (guint32) ll_q8_0_row_stride (cols) : cols;

  guint64 rb = row_bytes (dtype, t->ld), lim = max_binding (b);
  if (rb > lim) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "tensor %s: one row of %u %s values (%" G_GUINT64_FORMAT " bytes) "
        "exceeds the device's maxStorageBufferRange of %" G_GUINT64_FORMAT
        " bytes", t->base.name, cols, ll_dtype_name (dtype), rb, lim);
    vk_tensor_free (bb, &t->base);
    return NULL;
  }
  t->chunk_rows = (guint32) MIN ((guint64) rows, lim / rb);
  t->n_chunks = (rows + t->chunk_rows - 1) / t->chunk_rows;
  t->chunks = g_new0 (LlVkBuffer, t->n_chunks);
  for (guint32 c = 0; c < t->n_chunks; c++) {
    guint64 size = rb * ll_vk_chunk_nrows (t, c);
    char *what = g_strdup_printf ("tensor %s [%u, %u] %s (chunk %u/%u)",
        t->base.name, rows, cols, ll_dtype_name (dtype), c + 1, t->n_chunks);
    gboolean ok = ll_vk_buffer_init (b->d, &t->chunks[c], size, kind, what,
        err);
    g_free (what);
    if (!ok) {
      vk_tensor_free (bb, &t->base);
      return NULL;
    }
    t->bytes += t->chunks[c].size;
    b->in_use += t->chunks[c].size;   /* vk_tensor_free subtracts t->bytes */
  }
  b->peak = MAX (b->peak, b->in_use);
  return &t->base;
}

static LlTensor *
vk_tensor_new (LlBackend *bb, LlDType dtype, guint32 rows, guint32 cols,
    const char *name, GError **err)
{
  return tensor_new_in (bb, LL_VK_MEM_DEVICE, dtype, rows, cols, name, err);
}

/* weights go to their own arena (vk_backend.h) */
static LlTensor *
vk_weight_new (LlBackend *bb, LlDType dtype, guint32 rows, guint32 cols,
    const char *name, GError **err)
{
  return tensor_new_in (bb, LL_VK_MEM_WEIGHTS, dtype, rows, cols, name, err);
}

static gboolean
ensure_staging (LlVkBackend *b, guint64 size, GError **err)
{
  if (b->staging.size >= size)
    return TRUE;
  ll_vk_buffer_clear (b->d, &b->staging);
  return ll_vk_buffer_init (b->d, &b->staging, MAX (size, 1u << 20),
      LL_VK_MEM_STAGING, "the staging buffer", err);
}

/* host → device bytes (after a sync: nothing recorded uses buf) */
static gboolean
write_bytes (LlVkBackend *b, LlVkBuffer *buf, guint64 off, const void *src,
    guint64 size, GError **err)
{
  if (buf->map) {
    memcpy ((char *) buf->map + off, src, size);
    return TRUE;
  }
  for (guint64 done = 0; done < size;) {
    guint64 n = MIN (size - done, STAGING_MAX);
    if (!ensure_staging (b, n, err))
      return FALSE;
    memcpy (b->staging.map, (const char *) src + done, n);
    ll_vk_copy (b->rt, buf, off + done, &b->staging, 0, n);
    if (!ll_vk_runtime_sync (b->rt, err))
      return FALSE;
    done += n;
  }
  return TRUE;
}

static gboolean
read_bytes (LlVkBackend *b, LlVkBuffer *buf, guint64 off, void *dst,
    guint64 size, GError **err)
{
  if (buf->map) {
    memcpy (dst, (const char *) buf->map + off, size);
    return TRUE;
  }
  for (guint64 done = 0; done < size;) {
    guint64 n = MIN (size - done, STAGING_MAX);
    if (!ensure_staging (b, n, err))
      return FALSE;
    ll_vk_copy (b->rt, &b->staging, 0, buf, off + done, n);
    if (!ll_vk_runtime_sync (b->rt, err))
      return FALSE;
    memcpy ((char *) dst + done, b->staging.map, n);
    done += n;
  }
  return TRUE;
}

static gboolean
vk_upload (LlBackend *bb, LlTensor *tt, guint32 row0, guint32 n,
    const void *data, GError **err)
{
  LlVkBackend *b = VKB (bb);
  LlVkTensor *t = (LlVkTensor *) tt;
  if ((guint64) row0 + n > tt->rows
      || (tt->dtype == LL_Q8_0 && (row0 != 0 || n != tt->rows))) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "upload to %s [%u, %u] %s: rows %u..%u out of range%s", tt->name,
        tt->rows, tt->cols, ll_dtype_name (tt->dtype), row0, row0 + n,
        tt->dtype == LL_Q8_0 ? " (q8_0 uploads whole tensors)" : "");
    return FALSE;
  }
  if (!ll_vk_runtime_sync (b->rt, err))
    return FALSE;

  if (tt->dtype == LL_Q8_0) {
    /* host: qs[rows][kp] then d[rows][kp/32]; each chunk holds its rows of
     * both, in the same order */
    guint64 kp = t->ld, nb = kp / LL_Q8_0_BLOCK;
    const guint8 *qs = data;
    const guint8 *d = qs + (guint64) tt->rows * kp;
    for (guint32 c = 0; c < t->n_chunks; c++) {
      guint64 r0 = (guint64) c * t->chunk_rows, nr = ll_vk_chunk_nrows (t, c);
      if (!write_bytes (b, &t->chunks[c], 0, qs + r0 * kp, nr * kp, err)
          || !write_bytes (b, &t->chunks[c], nr * kp, d + r0 * nb * 4,
              nr * nb * 4, err))
        return FALSE;
    }
    return TRUE;
  }

  guint64 esize = tt->dtype == LL_F16 ? 2 : 4;
  guint64 host_rb = (guint64) tt->cols * esize, dev_rb = row_bytes (tt->dtype, t->ld);
  for (guint32 c = 0; c < t->n_chunks; c++) {
    guint64 cr0 = (guint64) c * t->chunk_rows, cn = ll_vk_chunk_nrows (t, c);
    guint64 a = MAX (row0, cr0), e = MIN ((guint64) row0 + n, cr0 + cn);
    if (a >= e)
      continue;
    const guint8 *src = (const guint8 *) data + (a - row0) * host_rb;
    gboolean ok;
    if (host_rb == dev_rb) {
      ok = write_bytes (b, &t->chunks[c], (a - cr0) * dev_rb, src,
          (e - a) * dev_rb, err);
    } else {
      /* f16 rows padded to a multiple of 8 halves with zeros */
      guint8 *tmp = g_malloc0 ((e - a) * dev_rb);
      for (guint64 r = 0; r < e - a; r++)
        memcpy (tmp + r * dev_rb, src + r * host_rb, host_rb);
      ok = write_bytes (b, &t->chunks[c], (a - cr0) * dev_rb, tmp,
          (e - a) * dev_rb, err);
      g_free (tmp);
    }
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static gboolean
vk_download (LlBackend *bb, LlTensor *tt, guint32 row0, guint32 n, void *out,
    GError **err)
{
  LlVkBackend *b = VKB (bb);
  LlVkTensor *t = (LlVkTensor *) tt;
  if ((tt->dtype != LL_F32 && tt->dtype != LL_I32)
      || (guint64) row0 + n > tt->rows) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_INVALID,
        "download from %s [%u, %u] %s: rows %u..%u (only f32 / i32 tensors, "
        "rows in range)", tt->name, tt->rows, tt->cols,
        ll_dtype_name (tt->dtype), row0, row0 + n);
    return FALSE;
  }
  if (!ll_vk_runtime_sync (b->rt, err))
    return FALSE;
  guint64 rb = (guint64) tt->cols * 4;
  for (guint32 c = 0; c < t->n_chunks; c++) {
    guint64 cr0 = (guint64) c * t->chunk_rows, cn = ll_vk_chunk_nrows (t, c);
    guint64 a = MAX (row0, cr0), e = MIN ((guint64) row0 + n, cr0 + cn);
    if (a < e && !read_bytes (b, &t->chunks[c], (a - cr0) * rb,
            (guint8 *) out + (a - row0) * rb, (e - a) * rb, err))
      return FALSE;
  }
  return TRUE;
}

static gboolean
vk_sync (LlBackend *bb, GError **err)
{
  return ll_vk_runtime_sync (VKB (bb)->rt, err);
}

static guint64
vk_memory_in_use (LlBackend *bb)
{
  return VKB (bb)->in_use;
}

/* VkDeviceMemory allocated at most (vk_backend.h) */
static guint64
vk_memory_peak (LlBackend *bb)
{
  LlVkMemoryStats s;
  ll_vk_memory_stats (VKB (bb)->d, &s);
  return s.device_peak;
}

static const char *
vk_describe (LlBackend *bb)
{
  return VKB (bb)->d->describe;
}

static void
print_memory (LlVkBackend *b)
{
  LlVkMemoryStats s;
  ll_backend_vulkan_memory_stats (&b->base, &s);
  const double MiB = 1048576.0;
  g_printerr ("LLAVA_VK_MEMORY (%s): device memory peak %.1f MiB for a "
      "tensor peak of %.1f MiB; peaks: weights arena %.1f MiB, activations "
      "arena %.1f MiB, dedicated %.1f MiB (blocks of %.0f MiB); %"
      G_GUINT64_FORMAT " vkAllocateMemory for %" G_GUINT64_FORMAT
      " buffers\n",
      b->d->caps.name, s.device_peak / MiB, s.tensor_peak / MiB,
      s.arena_peak[LL_VK_ARENA_WEIGHTS] / MiB,
      s.arena_peak[LL_VK_ARENA_ACTIVATIONS] / MiB, s.dedicated_peak / MiB,
      s.block_size / MiB, s.n_allocations, s.n_buffers);
}

static void
vk_free (LlBackend *bb)
{
  LlVkBackend *b = VKB (bb);
  if (!b)
    return;
  if (b->d && b->print_memory)
    print_memory (b);
  ll_vk_runtime_free (b->rt);
  if (b->d) {
    ll_vk_buffer_clear (b->d, &b->staging);
    ll_vk_buffer_clear (b->d, &b->attn_partials);
    ll_vk_buffer_clear (b->d, &b->ids_scratch);
    for (guint i = 0; b->rope_tables && i < b->rope_tables->len; i++)
      ll_vk_buffer_clear (b->d,
          &g_array_index (b->rope_tables, LlVkRopeTable, i).buf);
    ll_vk_device_free (b->d);
  }
  if (b->rope_tables)
    g_array_free (b->rope_tables, TRUE);
  g_free (b);
}

static const LlBackendOps vk_backend_ops = {
  .name = "vulkan",
  .free = vk_free,
  .tensor_new = vk_tensor_new,
  .weight_new = vk_weight_new,
  .tensor_free = vk_tensor_free,
  .upload = vk_upload,
  .download = vk_download,
  .sync = vk_sync,
  .matmul = ll_vk_matmul,
  .layernorm = ll_vk_layernorm,
  .rmsnorm = ll_vk_rmsnorm,
  .silu_mul = ll_vk_silu_mul,
  .add_rows = ll_vk_add_rows,
  .im2col = ll_vk_im2col,
  .attention_frames = ll_vk_attention_frames,
  .rope_kv = ll_vk_rope_kv,
  .attention_causal = ll_vk_attention_causal,
  .embed_rows = ll_vk_embed_rows,
  .copy_rows = ll_vk_copy_rows,
  .argmax = ll_vk_argmax,
  .memory_in_use = vk_memory_in_use,
  .memory_peak = vk_memory_peak,
  .describe = vk_describe,
};

static gboolean
env_is (const char *name, const char *value)
{
  const char *v = g_getenv (name);
  return v && strcmp (v, value) == 0;
}

LlBackend *
ll_backend_vulkan_new_full (int device_index, LlVkKernels kernels,
    GError **err)
{
  LlVkBackend *b = g_new0 (LlVkBackend, 1);
  b->base.ops = &vk_backend_ops;
  b->rope_tables = g_array_new (FALSE, TRUE, sizeof (LlVkRopeTable));
  b->d = ll_vk_device_new (device_index, err);
  if (!b->d)
    goto fail;

  /* LLAVA_VK_MAX_BINDING=bytes lowers the binding limit (tests use it to
   * exercise row chunking on small tensors). */
  const char *mb = g_getenv ("LLAVA_VK_MAX_BINDING");
  if (mb && *mb)
    ll_backend_vulkan_set_max_binding (&b->base,
        g_ascii_strtoull (mb, NULL, 10));

  if (kernels == LL_VK_KERNELS_AUTO) {
    if (env_is ("LLAVA_VK_KERNELS", "cpu"))
      kernels = LL_VK_KERNELS_CPU;
    else if (env_is ("LLAVA_VK_KERNELS", "gpu"))
      kernels = LL_VK_KERNELS_GPU;
    else
      kernels = b->d->caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU
          ? LL_VK_KERNELS_CPU : LL_VK_KERNELS_GPU;
  }
  b->cpu_style = kernels == LL_VK_KERNELS_CPU;

  b->print_memory = env_is ("LLAVA_VK_MEMORY", "1");
  b->rt = ll_vk_runtime_new (b->d, env_is ("LLAVA_VK_PROFILE", "1"), err);
  if (!b->rt)
    goto fail;
  return &b->base;

fail:
  vk_free (&b->base);
  return NULL;
}

LlBackend *
ll_backend_vulkan_new (int device_index, GError **err)
{
  return ll_backend_vulkan_new_full (device_index, LL_VK_KERNELS_AUTO, err);
}

gboolean
ll_backend_vulkan_cpu_style (LlBackend *b)
{
  return b && b->ops == &vk_backend_ops && VKB (b)->cpu_style;
}

gboolean
ll_backend_vulkan_memory_stats (LlBackend *bb, LlVkMemoryStats *s)
{
  memset (s, 0, sizeof *s);
  if (!bb || bb->ops != &vk_backend_ops)
    return FALSE;
  LlVkBackend *b = VKB (bb);
  ll_vk_memory_stats (b->d, s);
  s->tensor_bytes = b->in_use;
  s->tensor_peak = b->peak;
  return TRUE;
}

guint64
ll_backend_vulkan_tensor_placement (LlBackend *bb, LlTensor *tt, guint chunk,
    guint64 *offset, guint64 *size)
{
  *offset = *size = 0;
  if (!bb || bb->ops != &vk_backend_ops || !tt
      || chunk >= ((LlVkTensor *) tt)->n_chunks)
    return 0;
  LlVkBuffer *c = &((LlVkTensor *) tt)->chunks[chunk];
  *offset = c->offset;
  *size = c->alloc_size;
  return (guint64) ll_vk_buffer_memory (c);
}

gboolean
ll_backend_vulkan_set_max_binding (LlBackend *bb, guint64 bytes)
{
  if (!bb || bb->ops != &vk_backend_ops || bytes < 256)
    return FALSE;
  LlVkBackend *b = VKB (bb);
  b->d->caps.max_storage_buffer_range =
      MIN (b->d->caps.max_storage_buffer_range, bytes);
  return TRUE;
}

guint64
ll_backend_vulkan_max_binding (LlBackend *b)
{
  return b && b->ops == &vk_backend_ops ? max_binding (VKB (b)) : 0;
}
