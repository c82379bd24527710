/* model-run-common.h — helpers shared by the whole-model tests. */
#pragma once

#include <glib.h>

#include "llava.h"
#include "model/safetensors.h"

G_BEGIN_DECLS

/* Loads `dir`; context 0 = default.  NULL + error when it fails. */
LlavaModel *load_model (const char *dir, LlavaPrecision precision,
    gboolean reference, guint context_size, GError **err);
/* Skips the current test when err says there is no Vulkan device; fails
 * it for any other error. */
void skip_no_device (GError *err);

/* Frees n images and the array holding them. */
void free_images (LlavaImage **img, guint n);

/* Collects the dump callback's tensors (logits_steps rows appended). */
typedef struct _Dumps Dumps;
Dumps *dumps_new (void);
void dumps_free (Dumps *d);
void dumps_add (const char *name, const float *data, const gint64 *shape,
    guint nd, gpointer user_data);
const float *dumps_get (Dumps *d, const char *name, gsize *n);
/* max |dump - ref| over n values (the sizes must match) */
float dumps_max_abs (Dumps *d, const char *name, const float *ref, gsize n);
/* per row of `cols`: |a-b| <= tol·(1+|b|) everywhere, or cosine >= cos_min */
void dumps_assert_close_rows (Dumps *d, const char *name, const float *ref,
    gsize n, gsize cols, float tol, double cos_min);
/* the argmax of row r (of `cols`) equals ref's for every r < rows with
 * margins == NULL or margins[r] >= threshold; returns the rows checked */
guint dumps_assert_top1 (Dumps *d, const char *name, const float *ref,
    gsize cols, guint rows, GArray *margins, float threshold);

/* case.json helpers */
char *golden_case_string (const char *path, const char *member);
/* the golden top-2 logit margin of each greedy step (floats) */
GArray *golden_margins (void);
/* steps before the first golden top-2 margin below `threshold` */
guint golden_exact_prefix (GArray *gen, float threshold);

G_END_DECLS
