// The seed's MyHook(a, b) in C: MMCV's example custom hook, implementing before_run,
// after_run, before_epoch, after_epoch, before_iter and after_iter (weft calls only the
// points a plugin defines). It does exactly what the Rust example does, so the two give the
// same trace of calls and requests.

#include <inttypes.h>
#include <stdio.h>

#include "weft_plugin.h"

static long long a;
static char b[256];
static uint64_t iters_seen;

const char *weft_type_name(void) { return "MyHook"; }

int weft_init(const char *config) {
  static const char *const known[] = {"a", "b", NULL};
  char unknown[256];
  if (weft_json_unknown_key(config, known, unknown, sizeof unknown))
    return weft_fail("unknown key %s", unknown);
  double value;
  if (!weft_json_number(config, "a", &value)) return weft_fail("`a` must be a number");
  a = (long long)value;
  if (!weft_json_string(config, "b", b, sizeof b)) return weft_fail("`b` must be a string");
  return 0;
}

int weft_before_run(weft_state_t s) {
  weft_info("MyHook(a=%lld, b=%s) before_run: %" PRIu64 " iterations planned", a, b, weft_max_iters(s));
  return 0;
}

int weft_after_run(weft_state_t s) {
  weft_info("after_run at iter %" PRIu64 " after %" PRIu64 " iterations seen", weft_iter(s), iters_seen);
  return 0;
}

int weft_before_epoch(weft_state_t s) {
  weft_info("before_epoch %" PRIu64 " (%s)", weft_epoch(s) + 1, weft_mode(s));
  return 0;
}

int weft_after_epoch(weft_state_t s) {
  weft_info("after_epoch %" PRIu64 " (%s)", weft_epoch(s) + 1, weft_mode(s));
  return 0;
}

int weft_before_iter(weft_state_t s) {
  (void)s;
  ++iters_seen;
  return 0;
}

int weft_after_iter(weft_state_t s) {
  // `a` scales a value that shows up in the logs next to the loss, under a name from `b`.
  double loss;
  if (weft_output(s, "loss", &loss)) {
    char name[300];
    snprintf(name, sizeof name, "%s_scaled_loss", b);
    weft_log_scalar(name, loss * (double)a);
  }
  return 0;
}
