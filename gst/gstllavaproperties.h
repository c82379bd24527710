/* gstllavaproperties.h — the properties of llavainterleave (and the enum
 * types they use, declared in gstllavainterleave.h). */
#pragma once

#include "gstllavainterleave.h"

G_BEGIN_DECLS

/* Installs every property with its blurb, range and default, and the
 * get/set functions (class_init). */
void gst_llava_interleave_install_properties (GObjectClass *gobject_class);
/* Every property to its default (instance init). */
void gst_llava_interleave_set_defaults (GstLlavaInterleave *self);

G_END_DECLS
