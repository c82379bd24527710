/* llava-run — the engine from the command line.
 *
 *   llava-run --model DIR --inspect [--json]
 *   llava-run --model DIR --tokenize=TEXT --json
 *   llava-run --model DIR --detokenize=1,2,3 --json
 *   llava-run --model DIR --frames a.png --frames b.png --prompt "…" [--json]
 *
 * Every option also takes the --name=value form, which is how a value that
 * starts with '-', is empty or holds newlines is passed.  Text options are
 * parsed as raw bytes (G_OPTION_ARG_FILENAME) rather than converted from the
 * locale, so UTF-8 text works under any locale; the engine rejects invalid
 * UTF-8 itself.
 */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gboolean
llava_run_parse_ids (const char *s, GArray *ids, GError **err)
{
  const char *p = s;
  while (*p == ' ')
    p++;
  if (*p == '\0')
    return TRUE;
  for (;;) {
    char *end;
    gint64 v = g_ascii_strtoll (p, &end, 10);
    if (end == p || v < 0 || v > G_MAXINT32) {
      g_set_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "not a list of token ids: \"%s\"", s);
      return FALSE;
    }
    gint32 id = (gint32) v;
    g_array_append_val (ids, id);
    p = end;
    while (*p == ' ')
      p++;
    if (*p == '\0')
      return TRUE;
    if (*p != ',') {
      g_set_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "not a list of token ids: \"%s\"", s);
      return FALSE;
    }
    p++;
  }
}

int
main (int argc, char **argv)
{
  LlavaRunArgs a = {
    .max_new_tokens = 128, .device = -1, .top_p = 1.0, .temperature = 0.0,
  };
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &a.model, "Model directory (llava-hf layout)", "DIR"},
    {"inspect", 0, 0, G_OPTION_ARG_NONE, &a.inspect, "Describe the model: architecture, sizes, dtypes, memory", NULL},
    {"tokenize", 0, 0, G_OPTION_ARG_FILENAME, &a.tokenize, "Print the token ids of TEXT", "TEXT"},
    {"detokenize", 0, 0, G_OPTION_ARG_STRING, &a.detokenize, "Print the text of comma-separated ids", "IDS"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &a.json, "Print JSON", NULL},
    {"frames", 'f', 0, G_OPTION_ARG_FILENAME_ARRAY, &a.frames, "A frame (PNG or JPEG); repeat once per frame, in order", "FILE"},
    {"prompt", 'p', 0, G_OPTION_ARG_FILENAME, &a.prompt, "The question about the frames", "TEXT"},
    {"system", 0, 0, G_OPTION_ARG_FILENAME, &a.system, "System prompt (selects the LLaVA-NeXT template)", "TEXT"},
    {"max-new-tokens", 'n', 0, G_OPTION_ARG_INT, &a.max_new_tokens, "Most tokens to generate (default 128)", "N"},
    {"precision", 0, 0, G_OPTION_ARG_STRING, &a.precision, "Weight precision: auto, f32, f16 or q8_0", "P"},
    {"device", 'd', 0, G_OPTION_ARG_INT, &a.device, "Vulkan device index (default: best device)", "N"},
    {"temperature", 0, 0, G_OPTION_ARG_DOUBLE, &a.temperature, "Sampling temperature (0 = greedy)", "T"},
    {"top-k", 0, 0, G_OPTION_ARG_INT, &a.top_k, "Sample from the K most likely tokens (0 = off)", "K"},
    {"top-p", 0, 0, G_OPTION_ARG_DOUBLE, &a.top_p, "Nucleus sampling threshold (1 = off)", "P"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &a.seed, "Sampling seed", "S"},
    {"dump-tensors", 0, 0, G_OPTION_ARG_FILENAME, &a.dump_tensors, "Write intermediate fp32 tensors to a safetensors file", "OUT"},
    {"teacher-force", 0, 0, G_OPTION_ARG_STRING, &a.teacher_force, "Feed these ids instead of sampling", "IDS"},
    {"reference", 0, 0, G_OPTION_ARG_NONE, &a.reference, "Run on the plain C reference backend instead of Vulkan", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- LLaVA-Interleave on Vulkan");
  g_autoptr (GError) err = NULL;
  int rc;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "llava-run: %s\n", err->message);
    return 2;
  }
  if (argc > 1) {
    fprintf (stderr, "llava-run: unexpected argument \"%s\" (values that start with '-' need --name=value)\n", argv[1]);
    return 2;
  }
  if (!a.model) {
    fprintf (stderr, "llava-run: --model DIR is required (see --help)\n");
    return 2;
  }

  if (a.inspect)
    rc = llava_run_inspect (&a);
  else if (a.tokenize)
    rc = llava_run_tokenize (&a);
  else if (a.detokenize)
    rc = llava_run_detokenize (&a);
  else if (a.frames || a.prompt)
    rc = llava_run_generate (&a);
  else {
    fprintf (stderr, "llava-run: nothing to do: give --inspect, --tokenize, --detokenize or --frames/--prompt\n");
    rc = 2;
  }

  g_free (a.model);
  g_free (a.tokenize);
  g_free (a.detokenize);
  g_strfreev (a.frames);
  g_free (a.prompt);
  g_free (a.system);
  g_free (a.precision);
  g_free (a.dump_tensors);
  g_free (a.teacher_force);
  return rc;
}
