// {{type}}: a weft hook. Build it with `./build.sh`, then list `{{name}}.wasm` in a config's
// `custom_imports` and `{ type = "{{type}}" }` in its `custom_hooks`.

#include <inttypes.h>

#include "weft_plugin.h"

// Report the loss every `interval` training iterations.
static double interval = 50;

const char *weft_type_name(void) { return "{{type}}"; }

int weft_init(const char *config) {
  static const char *const known[] = {"interval", NULL};
  char unknown[256];
  if (weft_json_unknown_key(config, known, unknown, sizeof unknown))
    return weft_fail("unknown key %s", unknown);
  if (weft_json_has(config, "interval") && !weft_json_number(config, "interval", &interval))
    return weft_fail("interval must be a number");
  if (interval < 1) return weft_fail("interval must be at least 1");
  return 0;
}

// weft calls only the points a plugin defines.
int weft_before_run(weft_state_t s) {
  weft_info("{{type}} ready: %" PRIu64 " iterations planned", weft_max_iters(s));
  return 0;
}

int weft_after_train_iter(weft_state_t s) {
  uint64_t iter = weft_iter(s) + 1;
  double loss;
  if (iter % (uint64_t)interval == 0 && weft_output(s, "loss", &loss))
    weft_info("iteration %" PRIu64 ": loss %.4f", iter, loss);
  return 0;
}
