/* vk_runtime.c — pipeline registry, recording with dependency tracking,
 * submission and timestamp profiling.
 *
 * Recording: ops append dispatches to one command buffer; ll_vk_runtime_sync
 * submits it once and waits.  Dependencies are tracked per buffer with a
 * "barrier generation": a buffer stores the generation of its last recorded
 * read and write; a dispatch needs a barrier only if it reads or writes a
 * buffer written in the current generation, or writes one read in it
 * (RAW / WAW / WAR).  A barrier (one global VkMemoryBarrier) starts a new
 * generation, so independent dispatches run back to back.
 *
 * Pipelines are created on first use (an LLVM compile on lavapipe, ms each)
 * through one VkPipelineCache; all kernels share one pipeline layout with
 * LL_VK_MAX_BINDINGS storage buffers and 128 bytes of push constants.
 */
#include "vk_private.h"
#include "llava.h"

#include <stdio.h>
#include <string.h>

#define MAX_SPECS 8             /* pipelines per kernel (spec constant values) */
#define POOL_SETS 512
#define MAX_QUERIES 4096        /* timestamps per submit (2 per dispatch) */

typedef struct {
  guint32 spec;
  VkPipeline pipe;
} PipeSlot;

typedef struct {
  guint64 ns;
  guint64 count;
} ProfTotal;

struct _LlVkRuntime {
  LlVkDevice *d;
  VkPipelineCache cache;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkShaderModule modules[LL_SPV_COUNT];
  PipeSlot pipes[LL_SPV_COUNT][MAX_SPECS];

  VkCommandPool cmd_pool;
  VkCommandBuffer cmd;
  VkFence fence;
  gboolean recording;
  guint n_recorded;

  GPtrArray *desc_pools;        /* VkDescriptorPool, all reset at sync */
  guint desc_pool_cur;

  guint64 gen;                  /* current barrier generation, starts at 1 */
  LlVkBuffer dummy;
  GError *error;                /* first deferred error */

  /* profiling (LLAVA_VK_PROFILE=1) */
  gboolean profile;
  VkQueryPool queries;
  guint n_queries;
  GPtrArray *query_ops;         /* const char * per timed dispatch */
  GHashTable *totals;           /* op name → ProfTotal */
  guint64 untimed;
};

void
ll_vk_runtime_fail (LlVkRuntime *rt, GError *e)
{
  if (!rt->error)
    rt->error = e;
  else
    g_error_free (e);
}

gboolean
ll_vk_runtime_failed (LlVkRuntime *rt)
{
  return rt->error != NULL;
}

static void
fail_vk (LlVkRuntime *rt, VkResult r, const char *what)
{
  ll_vk_runtime_fail (rt, g_error_new (LLAVA_ERROR, LLAVA_ERROR_DEVICE,
          "Vulkan: %s failed (VkResult %d)", what, (int) r));
}

LlVkBuffer *
ll_vk_runtime_dummy (LlVkRuntime *rt)
{
  return &rt->dummy;
}

LlVkRuntime *
ll_vk_runtime_new (LlVkDevice *d, gboolean profile, GError **err)
{
  LlVkRuntime *rt = g_new0 (LlVkRuntime, 1);
  VkResult r;
  rt->d = d;
  rt->gen = 1;
  rt->desc_pools = g_ptr_array_new ();

  VkPipelineCacheCreateInfo pcci = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
  if ((r = vkCreatePipelineCache (d->dev, &pcci, NULL, &rt->cache)) != VK_SUCCESS)
    goto vkfail;

  VkDescriptorSetLayoutBinding binds[LL_VK_MAX_BINDINGS];
  for (guint i = 0; i < LL_VK_MAX_BINDINGS; i++)
    binds[i] = (VkDescriptorSetLayoutBinding) {
      .binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT };
  VkDescriptorSetLayoutCreateInfo dslci = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = LL_VK_MAX_BINDINGS, .pBindings = binds };
  if ((r = vkCreateDescriptorSetLayout (d->dev, &dslci, NULL, &rt->set_layout)) != VK_SUCCESS)
    goto vkfail;
  VkPushConstantRange pcr = {
    .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = 128 };
  VkPipelineLayoutCreateInfo plci = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1, .pSetLayouts = &rt->set_layout,
    .pushConstantRangeCount = 1, .pPushConstantRanges = &pcr };
  if ((r = vkCreatePipelineLayout (d->dev, &plci, NULL, &rt->layout)) != VK_SUCCESS)
    goto vkfail;

  VkCommandPoolCreateInfo cpci = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = d->queue_family };
  if ((r = vkCreateCommandPool (d->dev, &cpci, NULL, &rt->cmd_pool)) != VK_SUCCESS)
    goto vkfail;
  VkCommandBufferAllocateInfo cbai = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = rt->cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1 };
  if ((r = vkAllocateCommandBuffers (d->dev, &cbai, &rt->cmd)) != VK_SUCCESS)
    goto vkfail;
  VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  if ((r = vkCreateFence (d->dev, &fci, NULL, &rt->fence)) != VK_SUCCESS)
    goto vkfail;

  if (!ll_vk_buffer_init (d, &rt->dummy, 16, LL_VK_MEM_DEVICE,
          "an absent operand", err))
    goto fail;

  rt->profile = profile && d->caps.timestamps;
  if (profile && !d->caps.timestamps)
    g_printerr ("LLAVA_VK_PROFILE: device \"%s\" has no compute timestamps\n",
        d->caps.name);
  if (rt->profile) {
    VkQueryPoolCreateInfo qpci = {
      .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
      .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = MAX_QUERIES };
    if ((r = vkCreateQueryPool (d->dev, &qpci, NULL, &rt->queries)) != VK_SUCCESS)
      goto vkfail;
    rt->query_ops = g_ptr_array_new ();
    rt->totals = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  }
  return rt;

vkfail:
  g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
      "Vulkan: creating the runtime failed (VkResult %d)", (int) r);
fail:
  ll_vk_runtime_free (rt);
  return NULL;
}

static gint
cmp_totals (gconstpointer a, gconstpointer b, gpointer user_data)
{
  GHashTable *t = user_data;
  const ProfTotal *x = g_hash_table_lookup (t, *(const char **) a);
  const ProfTotal *y = g_hash_table_lookup (t, *(const char **) b);
  return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

static void
print_profile (LlVkRuntime *rt)
{
  if (!rt->totals || g_hash_table_size (rt->totals) == 0)
    return;
  guint n = 0;
  const char **names = (const char **) g_hash_table_get_keys_as_array (rt->totals, &n);
  g_qsort_with_data (names, n, sizeof *names, cmp_totals, rt->totals);
  guint64 all = 0;
  for (guint i = 0; i < n; i++)
    all += ((ProfTotal *) g_hash_table_lookup (rt->totals, names[i]))->ns;
  g_printerr ("LLAVA_VK_PROFILE (%s): GPU time per op\n", rt->d->caps.name);
  for (guint i = 0; i < n; i++) {
    const ProfTotal *t = g_hash_table_lookup (rt->totals, names[i]);
    g_printerr ("  %-20s %10.3f ms  %6" G_GUINT64_FORMAT " dispatches  %5.1f%%\n",
        names[i], t->ns / 1e6, t->count, all ? 100.0 * t->ns / all : 0.0);
  }
  g_printerr ("  %-20s %10.3f ms\n", "total", all / 1e6);
  if (rt->untimed)
    g_printerr ("  (%" G_GUINT64_FORMAT " dispatches untimed: over %d per submit)\n",
        rt->untimed, MAX_QUERIES / 2);
  g_free (names);
}

void
ll_vk_runtime_free (LlVkRuntime *rt)
{
  if (!rt)
    return;
  VkDevice dev = rt->d->dev;
  ll_vk_runtime_flush (rt);
  print_profile (rt);
  vkDeviceWaitIdle (dev);
  for (guint i = 0; i < LL_SPV_COUNT; i++) {
    for (guint j = 0; j < MAX_SPECS; j++)
      if (rt->pipes[i][j].pipe)
        vkDestroyPipeline (dev, rt->pipes[i][j].pipe, NULL);
    if (rt->modules[i])
      vkDestroyShaderModule (dev, rt->modules[i], NULL);
  }
  for (guint i = 0; i < rt->desc_pools->len; i++)
    vkDestroyDescriptorPool (dev, g_ptr_array_index (rt->desc_pools, i), NULL);
  g_ptr_array_free (rt->desc_pools, TRUE);
  if (rt->queries)
    vkDestroyQueryPool (dev, rt->queries, NULL);
  if (rt->query_ops)
    g_ptr_array_free (rt->query_ops, TRUE);
  if (rt->totals)
    g_hash_table_destroy (rt->totals);
  if (rt->fence)
    vkDestroyFence (dev, rt->fence, NULL);
  if (rt->cmd_pool)
    vkDestroyCommandPool (dev, rt->cmd_pool, NULL);
  if (rt->layout)
    vkDestroyPipelineLayout (dev, rt->layout, NULL);
  if (rt->set_layout)
    vkDestroyDescriptorSetLayout (dev, rt->set_layout, NULL);
  if (rt->cache)
    vkDestroyPipelineCache (dev, rt->cache, NULL);
  ll_vk_buffer_clear (rt->d, &rt->dummy);
  g_clear_error (&rt->error);
  g_free (rt);
}

static VkPipeline
get_pipeline (LlVkRuntime *rt, LlSpvId id, guint32 spec)
{
  PipeSlot *slots = rt->pipes[id];
  guint j;
  for (j = 0; j < MAX_SPECS && slots[j].pipe; j++)
    if (slots[j].spec == spec)
      return slots[j].pipe;
  const LlSpirv *spv = ll_spirv_get (id);
  if (j == MAX_SPECS) {
    ll_vk_runtime_fail (rt, g_error_new (LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
            "kernel %s: more than %d specialisations", spv->name, MAX_SPECS));
    return VK_NULL_HANDLE;
  }
  VkResult r;
  if (!rt->modules[id]) {
    VkShaderModuleCreateInfo smci = {
      .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
      .codeSize = spv->size, .pCode = spv->code };
    if ((r = vkCreateShaderModule (rt->d->dev, &smci, NULL, &rt->modules[id])) != VK_SUCCESS) {
      fail_vk (rt, r, "vkCreateShaderModule");
      return VK_NULL_HANDLE;
    }
  }
  VkSpecializationMapEntry entry = { .constantID = 0, .offset = 0, .size = 4 };
  VkSpecializationInfo si = {
    .mapEntryCount = 1, .pMapEntries = &entry, .dataSize = 4, .pData = &spec };
  VkComputePipelineCreateInfo cpci = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = rt->modules[id],
      .pName = "main", .pSpecializationInfo = spec ? &si : NULL },
    .layout = rt->layout };
  r = vkCreateComputePipelines (rt->d->dev, rt->cache, 1, &cpci, NULL,
      &slots[j].pipe);
  if (r != VK_SUCCESS) {
    slots[j].pipe = VK_NULL_HANDLE;
    ll_vk_runtime_fail (rt, g_error_new (LLAVA_ERROR, LLAVA_ERROR_DEVICE,
            "Vulkan: creating pipeline %s failed (VkResult %d)", spv->name, (int) r));
    return VK_NULL_HANDLE;
  }
  slots[j].spec = spec;
  return slots[j].pipe;
}

static gboolean
ensure_recording (LlVkRuntime *rt)
{
  if (rt->recording)
    return TRUE;
  VkCommandBufferBeginInfo bi = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
  VkResult r = vkBeginCommandBuffer (rt->cmd, &bi);
  if (r != VK_SUCCESS) {
    fail_vk (rt, r, "vkBeginCommandBuffer");
    return FALSE;
  }
  if (rt->profile) {
    vkCmdResetQueryPool (rt->cmd, rt->queries, 0, MAX_QUERIES);
    rt->n_queries = 0;
    g_ptr_array_set_size (rt->query_ops, 0);
  }
  rt->recording = TRUE;
  rt->n_recorded = 0;
  return TRUE;
}

static VkDescriptorSet
alloc_set (LlVkRuntime *rt)
{
  VkDescriptorSetAllocateInfo dsai = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorSetCount = 1, .pSetLayouts = &rt->set_layout };
  VkDescriptorSet set = VK_NULL_HANDLE;
  while (TRUE) {
    if (rt->desc_pool_cur == rt->desc_pools->len) {
      VkDescriptorPoolSize ps = {
        .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .descriptorCount = POOL_SETS * LL_VK_MAX_BINDINGS };
      VkDescriptorPoolCreateInfo dpci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = POOL_SETS, .poolSizeCount = 1, .pPoolSizes = &ps };
      VkDescriptorPool pool;
      VkResult r = vkCreateDescriptorPool (rt->d->dev, &dpci, NULL, &pool);
      if (r != VK_SUCCESS) {
        fail_vk (rt, r, "vkCreateDescriptorPool");
        return VK_NULL_HANDLE;
      }
      g_ptr_array_add (rt->desc_pools, pool);
    }
    dsai.descriptorPool = g_ptr_array_index (rt->desc_pools, rt->desc_pool_cur);
    VkResult r = vkAllocateDescriptorSets (rt->d->dev, &dsai, &set);
    if (r == VK_SUCCESS)
      return set;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) {
      fail_vk (rt, r, "vkAllocateDescriptorSets");
      return VK_NULL_HANDLE;
    }
    rt->desc_pool_cur++;
  }
}

/* Barrier if any buffer has a hazard with the current generation, then
 * marks the accesses.  bufs/writes: n entries. */
static void
track (LlVkRuntime *rt, LlVkBuffer *const *bufs, const gboolean *writes, guint n)
{
  gboolean need = FALSE;
  for (guint i = 0; i < n; i++) {
    if (bufs[i] == &rt->dummy)
      continue;
    if (bufs[i]->gen_write == rt->gen)
      need = TRUE;              /* RAW, WAW */
    if (writes[i] && bufs[i]->gen_read == rt->gen)
      need = TRUE;              /* WAR */
  }
  if (need) {
    VkMemoryBarrier mb = {
      .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
      .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT
          | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT };
    VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT
        | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier (rt->cmd, st, st, 0, 1, &mb, 0, NULL, 0, NULL);
    rt->gen++;
  }
  for (guint i = 0; i < n; i++) {
    if (bufs[i] == &rt->dummy)
      continue;
    if (writes[i])
      bufs[i]->gen_write = rt->gen;
    else
      bufs[i]->gen_read = rt->gen;
  }
}

void
ll_vk_dispatch (LlVkRuntime *rt, const char *op, LlSpvId id, guint32 spec,
    const LlVkBind *binds, guint n_binds, const void *pc, gsize pc_size,
    guint32 gx, guint32 gy, guint32 gz)
{
  if (rt->error || gx == 0 || gy == 0 || gz == 0)
    return;
  const guint32 *maxc = rt->d->caps.max_workgroup_count;
  if (gx > maxc[0] || gy > maxc[1] || gz > maxc[2]) {
    ll_vk_runtime_fail (rt, g_error_new (LLAVA_ERROR, LLAVA_ERROR_UNSUPPORTED,
            "%s: %u×%u×%u workgroups exceed the device limit %u×%u×%u", op,
            gx, gy, gz, maxc[0], maxc[1], maxc[2]));
    return;
  }
  g_assert (n_binds <= LL_VK_MAX_BINDINGS && pc_size <= 128);
  VkPipeline pipe = get_pipeline (rt, id, spec);
  if (!pipe || !ensure_recording (rt))
    return;
  VkDescriptorSet set = alloc_set (rt);
  if (!set)
    return;

  VkDescriptorBufferInfo infos[LL_VK_MAX_BINDINGS];
  VkWriteDescriptorSet writes[LL_VK_MAX_BINDINGS];
  LlVkBuffer *bufs[LL_VK_MAX_BINDINGS];
  gboolean wr[LL_VK_MAX_BINDINGS];
  for (guint i = 0; i < LL_VK_MAX_BINDINGS; i++) {
    /* unused bindings get the dummy so every descriptor is valid */
    LlVkBuffer *b = i < n_binds && binds[i].buf ? binds[i].buf : &rt->dummy;
    bufs[i] = b;
    wr[i] = i < n_binds && binds[i].write;
    infos[i] = (VkDescriptorBufferInfo) { b->buf, 0, VK_WHOLE_SIZE };
    writes[i] = (VkWriteDescriptorSet) {
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
      .dstBinding = i, .descriptorCount = 1,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .pBufferInfo = &infos[i] };
  }
  vkUpdateDescriptorSets (rt->d->dev, LL_VK_MAX_BINDINGS, writes, 0, NULL);

  track (rt, bufs, wr, LL_VK_MAX_BINDINGS);

  vkCmdBindPipeline (rt->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
  vkCmdBindDescriptorSets (rt->cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
      rt->layout, 0, 1, &set, 0, NULL);
  if (pc_size)
    vkCmdPushConstants (rt->cmd, rt->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
        (guint32) pc_size, pc);
  gboolean timed = rt->profile && rt->n_queries + 2 <= MAX_QUERIES;
  if (timed)
    vkCmdWriteTimestamp (rt->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
        rt->queries, rt->n_queries);
  vkCmdDispatch (rt->cmd, gx, gy, gz);
  if (timed) {
    vkCmdWriteTimestamp (rt->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
        rt->queries, rt->n_queries + 1);
    rt->n_queries += 2;
    g_ptr_array_add (rt->query_ops, (gpointer) op);
  } else if (rt->profile) {
    rt->untimed++;
  }
  rt->n_recorded++;
}

void
ll_vk_copy (LlVkRuntime *rt, LlVkBuffer *dst, VkDeviceSize dst_off,
    LlVkBuffer *src, VkDeviceSize src_off, VkDeviceSize size)
{
  if (rt->error || size == 0 || !ensure_recording (rt))
    return;
  LlVkBuffer *bufs[2] = { src, dst };
  gboolean wr[2] = { FALSE, TRUE };
  track (rt, bufs, wr, 2);
  VkBufferCopy region = { src_off, dst_off, size };
  vkCmdCopyBuffer (rt->cmd, src->buf, dst->buf, 1, &region);
}

static void
collect_profile (LlVkRuntime *rt)
{
  if (!rt->profile || rt->n_queries == 0)
    return;
  guint64 *ts = g_new (guint64, rt->n_queries);
  VkResult r = vkGetQueryPoolResults (rt->d->dev, rt->queries, 0,
      rt->n_queries, rt->n_queries * sizeof (guint64), ts, sizeof (guint64),
      VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  if (r == VK_SUCCESS) {
    for (guint i = 0; i < rt->query_ops->len; i++) {
      const char *op = g_ptr_array_index (rt->query_ops, i);
      ProfTotal *t = g_hash_table_lookup (rt->totals, op);
      if (!t) {
        t = g_new0 (ProfTotal, 1);
        g_hash_table_insert (rt->totals, (gpointer) op, t);
      }
      guint64 d = ts[2 * i + 1] > ts[2 * i] ? ts[2 * i + 1] - ts[2 * i] : 0;
      t->ns += (guint64) (d * (double) rt->d->caps.timestamp_period);
      t->count++;
    }
  }
  g_free (ts);
}

void
ll_vk_runtime_flush (LlVkRuntime *rt)
{
  VkDevice dev = rt->d->dev;
  if (rt->recording) {
    rt->recording = FALSE;
    VkResult r = vkEndCommandBuffer (rt->cmd);
    if (r == VK_SUCCESS) {
      VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1, .pCommandBuffers = &rt->cmd };
      r = vkQueueSubmit (rt->d->queue, 1, &si, rt->fence);
      if (r == VK_SUCCESS)
        r = vkWaitForFences (dev, 1, &rt->fence, VK_TRUE, G_MAXUINT64);
      if (r != VK_SUCCESS)
        fail_vk (rt, r, "submitting the command buffer");
      else
        collect_profile (rt);
    } else {
      fail_vk (rt, r, "vkEndCommandBuffer");
    }
    vkResetFences (dev, 1, &rt->fence);
    vkResetCommandBuffer (rt->cmd, 0);
    for (guint i = 0; i < rt->desc_pools->len; i++)
      vkResetDescriptorPool (dev, g_ptr_array_index (rt->desc_pools, i), 0);
    rt->desc_pool_cur = 0;
    rt->gen++;                  /* everything before is complete */
  }
}

gboolean
ll_vk_runtime_sync (LlVkRuntime *rt, GError **err)
{
  ll_vk_runtime_flush (rt);
  if (rt->error) {
    /* report once, then the backend is usable again */
    g_propagate_error (err, rt->error);
    rt->error = NULL;
    return FALSE;
  }
  return TRUE;
}
