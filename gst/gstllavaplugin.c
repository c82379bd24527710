/* gstllavaplugin.c — the `llava` plugin: element llavainterleave. */
#include "gstllavainterleave.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  return GST_ELEMENT_REGISTER (llavainterleave, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, llava,
    "LLaVA-Interleave vision-language model on Vulkan: video in, text out",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
