/* gstllavaworker.h — the queue of windows between the streaming thread of
 * llavainterleave and its inference thread, and that thread. */
#pragma once

#include "gstllavainterleave.h"

G_BEGIN_DECLS

typedef enum {
  GST_LLAVA_ITEM_WINDOW,        /* infer, then push text (or a gap) */
  GST_LLAVA_ITEM_GAP,           /* push a GAP event on text_src */
} GstLlavaItemKind;

/* One entry of the worker queue.  Settings are copied when the window is
 * queued, so a prompt changed in PLAYING applies from the next window. */
typedef struct {
  GstLlavaItemKind kind;
  GstClockTime start, duration; /* the window's (or the gap's) time */
  LlavaWindow *window;          /* WINDOW: sampled frames (ImageRef payloads) */
  GstClockTime running_time;    /* of start, for applications */
  gint64 queued_at;             /* g_get_monotonic_time () when complete */
  gchar *prompt, *system_prompt;
  guint max_new_tokens, top_k;
  gfloat temperature, top_p;
  guint64 seed;
} GstLlavaWorkItem;

void gst_llava_work_item_free (GstLlavaWorkItem *item);

/* A preprocessed frame shared by overlapping windows (sampler payload). */
typedef struct {
  gint ref;
  LlavaImage *image;
} GstLlavaImageRef;

gpointer gst_llava_image_ref (gpointer ref);
void gst_llava_image_unref (gpointer ref);

/* The queue as the streaming thread sees it (self->lock taken inside,
 * except _locked). */
void gst_llava_queue_clear_locked (GstLlavaInterleave *self);
/* Waits until the worker has emptied the queue and is idle; FALSE when
 * flushing cut the wait short. */
gboolean gst_llava_queue_wait_idle (GstLlavaInterleave *self);
/* A GAP for text_src, in stream order (merged with a queued one). */
void gst_llava_queue_gap (GstLlavaInterleave *self, GstClockTime start,
    GstClockTime dur);
/* Hands a closed window to the worker (takes w).  Live: dropped and counted
 * when max-pending-windows wait (unless force, for EOS); file: waits for
 * room.  GST_FLOW_FLUSHING when flushing. */
GstFlowReturn gst_llava_queue_window (GstLlavaInterleave *self,
    LlavaWindow *w, gboolean force);

/* Thread function; data is the element.  Runs until self->stopping. */
gpointer gst_llava_worker_run (gpointer data);

G_END_DECLS
