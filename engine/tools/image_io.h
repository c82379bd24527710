/* image_io.h — PNG / JPEG files to RGB8 pixels (llava-run and tests). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Loads a PNG or JPEG (chosen by the file's magic bytes) as packed RGB8
 * [height, width * 3]; g_free the result.  Errors name the file. */
guint8 *llava_image_io_load_rgb (const char *path, guint *width,
    guint *height, GError **err);

G_END_DECLS
