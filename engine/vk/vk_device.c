/* vk_device.c — Vulkan instance, device choice and probed caps (buffers
 * and their memory: vk_memory.c). */
#include "vk_private.h"
#include "llava.h"

#include <stdlib.h>
#include <string.h>

#define VK_FAIL(err, res, what) \
  g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE, "Vulkan: %s failed (VkResult %d)", \
      what, (int) (res))

static int
device_type_rank (VkPhysicalDeviceType t)
{
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

static const char *
device_type_name (VkPhysicalDeviceType t)
{
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

static gboolean
has_extension (VkPhysicalDevice p, const char *name)
{
  guint32 n = 0;
  gboolean found = FALSE;
  vkEnumerateDeviceExtensionProperties (p, NULL, &n, NULL);
  VkExtensionProperties *ext = g_new0 (VkExtensionProperties, n);
  vkEnumerateDeviceExtensionProperties (p, NULL, &n, ext);
  for (guint32 i = 0; i < n && !found; i++)
    found = strcmp (ext[i].extensionName, name) == 0;
  g_free (ext);
  return found;
}

static void
probe_caps (LlVkDevice *d)
{
  LlVkCaps *c = &d->caps;
  VkPhysicalDeviceSubgroupProperties sub = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
  VkPhysicalDeviceMaintenance3Properties m3 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
    .pNext = &sub };
  VkPhysicalDeviceProperties2 props = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3 };
  vkGetPhysicalDeviceProperties2 (d->phys, &props);
  const VkPhysicalDeviceLimits *l = &props.properties.limits;

  VkPhysicalDeviceVulkan12Features f12 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES };
  VkPhysicalDeviceVulkan11Features f11 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
    .pNext = &f12 };
  VkPhysicalDeviceFeatures2 feats = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11 };
  vkGetPhysicalDeviceFeatures2 (d->phys, &feats);

  g_strlcpy (c->name, props.properties.deviceName, sizeof c->name);
  c->type = props.properties.deviceType;
  c->vendor_id = props.properties.vendorID;
  c->api_version = props.properties.apiVersion;
  c->shader_fp16 = f12.shaderFloat16;
  c->shader_int8 = f12.shaderInt8;
  c->storage_16bit = f11.storageBuffer16BitAccess;
  c->storage_8bit = f12.storageBuffer8BitAccess;
  c->push_descriptor = has_extension (d->phys, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  c->subgroup_size = sub.subgroupSize;
  c->max_storage_buffer_range = l->maxStorageBufferRange;
  c->max_allocation_size = m3.maxMemoryAllocationSize;
  c->max_shared_memory = l->maxComputeSharedMemorySize;
  c->max_workgroup_invocations = l->maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; i++)
    c->max_workgroup_count[i] = l->maxComputeWorkGroupCount[i];
  c->max_push_constants = l->maxPushConstantsSize;
  c->min_storage_offset_align = (guint32) l->minStorageBufferOffsetAlignment;
  c->timestamp_period = l->timestampPeriod;

  guint32 nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (d->phys, &nq, NULL);
  VkQueueFamilyProperties *q = g_new0 (VkQueueFamilyProperties, nq);
  vkGetPhysicalDeviceQueueFamilyProperties (d->phys, &nq, q);
  c->timestamps = l->timestampComputeAndGraphics
      || q[d->queue_family].timestampValidBits > 0;
  g_free (q);

  /* Unified memory (lavapipe, integrated GPUs): tensors are mapped and
   * written directly, no staging copy.  LLAVA_VK_FORCE_STAGING=1 takes the
   * discrete-GPU path anyway (so it is tested on lavapipe too). */
  vkGetPhysicalDeviceMemoryProperties (d->phys, &d->mem);
  const char *force = g_getenv ("LLAVA_VK_FORCE_STAGING");
  gboolean uma_type = c->type == VK_PHYSICAL_DEVICE_TYPE_CPU
      || c->type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  c->unified_memory = FALSE;
  if (uma_type && !(force && strcmp (force, "1") == 0)) {
    VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
        | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (guint32 i = 0; i < d->mem.memoryTypeCount; i++)
      if ((d->mem.memoryTypes[i].propertyFlags & want) == want)
        c->unified_memory = TRUE;
  }
}

LlVkDevice *
ll_vk_device_new (int device_index, GError **err)
{
  LlVkDevice *d = g_new0 (LlVkDevice, 1);
  VkResult r;

  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "gst-llava", .pEngineName = "llava-engine",
    .apiVersion = VK_API_VERSION_1_2 };
  VkInstanceCreateInfo ici = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app };
  r = vkCreateInstance (&ici, NULL, &d->instance);
  if (r != VK_SUCCESS) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan: no instance (VkResult %d): is a Vulkan driver installed "
        "(mesa-vulkan-drivers for lavapipe)?", (int) r);
    goto fail;
  }

  guint32 n = 0;
  vkEnumeratePhysicalDevices (d->instance, &n, NULL);
  if (n == 0) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan: no physical device found (install mesa-vulkan-drivers for "
        "the lavapipe CPU device)");
    goto fail;
  }
  VkPhysicalDevice *devs = g_new0 (VkPhysicalDevice, n);
  vkEnumeratePhysicalDevices (d->instance, &n, devs);

  const char *env = g_getenv ("LLAVA_VK_DEVICE");
  if (device_index < 0 && env && *env) {
    char *end = NULL;
    long v = strtol (env, &end, 10);
    if (*end != '\0' || v < 0) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
          "LLAVA_VK_DEVICE=\"%s\" is not a device index", env);
      g_free (devs);
      goto fail;
    }
    device_index = (int) v;
  }
  if (device_index >= 0) {
    if ((guint32) device_index >= n) {
      g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
          "Vulkan device index %d out of range (%u devices)", device_index, n);
      g_free (devs);
      goto fail;
    }
    d->phys = devs[device_index];
  } else {
    int best = -1;
    for (guint32 i = 0; i < n; i++) {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties (devs[i], &p);
      if (p.apiVersion < VK_API_VERSION_1_2)
        continue;
      if (device_type_rank (p.deviceType) > best) {
        best = device_type_rank (p.deviceType);
        d->phys = devs[i];
      }
    }
  }
  g_free (devs);
  if (!d->phys) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan: no device supports Vulkan 1.2");
    goto fail;
  }
  VkPhysicalDeviceProperties p0;
  vkGetPhysicalDeviceProperties (d->phys, &p0);
  if (p0.apiVersion < VK_API_VERSION_1_2) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan device \"%s\" supports only Vulkan %u.%u; 1.2 is needed",
        p0.deviceName, VK_API_VERSION_MAJOR (p0.apiVersion),
        VK_API_VERSION_MINOR (p0.apiVersion));
    goto fail;
  }

  guint32 nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (d->phys, &nq, NULL);
  VkQueueFamilyProperties *qf = g_new0 (VkQueueFamilyProperties, nq);
  vkGetPhysicalDeviceQueueFamilyProperties (d->phys, &nq, qf);
  d->queue_family = G_MAXUINT32;
  for (guint32 i = 0; i < nq && d->queue_family == G_MAXUINT32; i++)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
      d->queue_family = i;
  g_free (qf);
  if (d->queue_family == G_MAXUINT32) {
    g_set_error (err, LLAVA_ERROR, LLAVA_ERROR_DEVICE,
        "Vulkan device \"%s\" has no compute queue", p0.deviceName);
    goto fail;
  }

  probe_caps (d);

  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = d->queue_family, .queueCount = 1,
    .pQueuePriorities = &prio };
  /* The kernels read f16 and int8 through 32-bit words and compute in fp32,
   * so no optional feature is required. */
  VkDeviceCreateInfo dci = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci };
  r = vkCreateDevice (d->phys, &dci, NULL, &d->dev);
  if (r != VK_SUCCESS) {
    VK_FAIL (err, r, "vkCreateDevice");
    goto fail;
  }
  vkGetDeviceQueue (d->dev, d->queue_family, 0, &d->queue);
  d->memory = ll_vk_memory_new (d);
  d->describe = g_strdup_printf ("%s, %s", d->caps.name,
      device_type_name (d->caps.type));
  return d;

fail:
  ll_vk_device_free (d);
  return NULL;
}

void
ll_vk_device_free (LlVkDevice *d)
{
  if (!d)
    return;
  ll_vk_memory_free (d, d->memory);
  if (d->dev)
    vkDestroyDevice (d->dev, NULL);
  if (d->instance)
    vkDestroyInstance (d->instance, NULL);
  g_free (d->describe);
  g_free (d);
}
