// NullHookC: the C SDK's NullHook (tests/guests/null_hook), subscribed to after_train_iter
// and doing nothing there. The `plugins` bench times a call into it beside the Rust one:
// the cost of a hook call itself through this SDK. Built by benches/plugins.sh with
// guest-sdk/c/build.sh.

#include "weft_plugin.h"

const char *weft_type_name(void) { return "NullHookC"; }

int weft_init(const char *config) {
  (void)config;
  return 0;
}

int weft_after_train_iter(weft_state_t s) {
  (void)s;
  return 0;
}
