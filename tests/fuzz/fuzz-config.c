/* fuzz-config — libFuzzer target for config.json, preprocessor_config.json
 * and generation_config.json parsing: every input is either accepted with
 * consistent derived values or rejected with a GError. */
#include "model/model.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  LlavaConfig cfg;
  GError *err = NULL;

  if (llava_config_parse (&cfg, (const char *) data, (gssize) size, "config.json", &err)) {
    /* invariants the model graphs rely on */
    g_assert (cfg.t_heads % cfg.t_kv_heads == 0);
    g_assert (cfg.t_head_dim * cfg.t_heads == cfg.t_hidden);
    g_assert (cfg.v_layers_used <= cfg.v_layers);
    g_assert (cfg.tokens_per_image >= 1);
    g_assert ((guint64) cfg.t_hidden * cfg.t_vocab <= (G_GUINT64_CONSTANT (1) << 40));
    if (!llava_config_parse_preprocessor (&cfg, (const char *) data, (gssize) size,
            "preprocessor_config.json", &err))
      g_clear_error (&err);
    if (!llava_config_parse_generation (&cfg, (const char *) data, (gssize) size,
            "generation_config.json", &err))
      g_clear_error (&err);
    g_assert (cfg.n_eos_ids <= G_N_ELEMENTS (cfg.eos_ids));
    llava_config_clear (&cfg);
  } else {
    g_assert (err != NULL);
    g_clear_error (&err);
  }
  return 0;
}
