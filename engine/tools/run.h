/* run.h — llava-run's parsed command line and its sub-commands. */
#pragma once

#include <glib.h>

typedef struct {
  char *model;             /* --model DIR */
  gboolean inspect;        /* --inspect */
  char *tokenize;          /* --tokenize=TEXT (may be "") */
  char *detokenize;        /* --detokenize=1,2,3 */
  gboolean json;           /* --json */
  char **frames;           /* --frames F (repeated, in order) */
  char *prompt;            /* --prompt TEXT */
  char *system;            /* --system TEXT */
  int max_new_tokens;      /* --max-new-tokens N */
  char *precision;         /* --precision f32|f16|q8_0|auto */
  int device;              /* --device N (-1 auto) */
  double temperature;      /* --temperature */
  int top_k;               /* --top-k */
  double top_p;            /* --top-p */
  gint64 seed;             /* --seed */
  char *dump_tensors;      /* --dump-tensors OUT.safetensors */
  char *teacher_force;     /* --teacher-force=1,2,3 */
  gboolean reference;      /* --reference: plain C backend instead of Vulkan */
} LlavaRunArgs;

/* Each returns the process exit status (0 ok, 1 error printed to stderr). */
int llava_run_inspect (const LlavaRunArgs *a);
int llava_run_tokenize (const LlavaRunArgs *a);
int llava_run_detokenize (const LlavaRunArgs *a);
int llava_run_generate (const LlavaRunArgs *a);

/* "1,2,3" → ids; FALSE with an error for anything else ("" is zero ids). */
gboolean llava_run_parse_ids (const char *s, GArray *ids, GError **err);
