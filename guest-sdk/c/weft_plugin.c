// The C SDK: the `hooks` exports wit-bindgen expects, on top of the plugin's weft_* functions
// (weak defaults below), plus logging, requests, run-state reads and a small JSON reader.

#include "weft_plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char fail_message[2048];

int weft_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fail_message, sizeof fail_message, fmt, ap);
  va_end(ap);
  return -1;
}

// ---- what the plugin defined ----

// Everything but the type name and init is optional: declared weak here, a function the
// plugin does not define has a null address. That tells the SDK which points to list; weft
// then calls only those, and applies MMCV's specific-to-generic fallback itself.
#define OPTIONAL __attribute__((weak))
OPTIONAL size_t weft_points(weft_point_t *out);
OPTIONAL char *weft_save_state(void);
OPTIONAL int weft_load_state(const char *state);
#define HOOK_POINT(name) OPTIONAL int weft_##name(weft_state_t s);
// @generated weak-definitions: from wit/ by `make sdk-tables`; do not edit
HOOK_POINT(before_run)
HOOK_POINT(after_run)
HOOK_POINT(before_train_epoch)
HOOK_POINT(after_train_epoch)
HOOK_POINT(before_val_epoch)
HOOK_POINT(after_val_epoch)
HOOK_POINT(before_train_iter)
HOOK_POINT(after_train_iter)
HOOK_POINT(before_val_iter)
HOOK_POINT(after_val_iter)
HOOK_POINT(before_epoch)
HOOK_POINT(after_epoch)
HOOK_POINT(after_backward)
HOOK_POINT(before_iter)
HOOK_POINT(after_iter)
// @end weak-definitions

typedef int (*point_fn)(weft_state_t);

// The plugin's function for each WIT hook point, in the enum's order.
static point_fn defined(weft_point_t p) {
  switch (p) {
    // @generated defined: from wit/ by `make sdk-tables`; do not edit
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_RUN: return weft_before_run;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_RUN: return weft_after_run;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_TRAIN_EPOCH: return weft_before_train_epoch;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_TRAIN_EPOCH: return weft_after_train_epoch;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_VAL_EPOCH: return weft_before_val_epoch;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_VAL_EPOCH: return weft_after_val_epoch;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_TRAIN_ITER: return weft_before_train_iter;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_TRAIN_ITER: return weft_after_train_iter;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_VAL_ITER: return weft_before_val_iter;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_VAL_ITER: return weft_after_val_iter;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_EPOCH: return weft_before_epoch;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_EPOCH: return weft_after_epoch;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_BACKWARD: return weft_after_backward;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_BEFORE_ITER: return weft_before_iter;
    case WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_ITER: return weft_after_iter;
    // @end defined
    default: return NULL;
  }
}

// ---- the exports ----

static bool finish(int rc, hook_string_t *err) {
  if (rc == 0) return true;
  hook_string_dup(err, fail_message[0] ? fail_message : "the plugin failed");
  fail_message[0] = 0;
  return false;
}

void exports_weft_plugin_hooks_type_name(hook_string_t *ret) { hook_string_dup(ret, weft_type_name()); }

bool exports_weft_plugin_hooks_init(hook_string_t *config_json,
                                    exports_weft_plugin_hooks_list_hook_point_t *ret,
                                    hook_string_t *err) {
  char *json = malloc(config_json->len + 1);
  memcpy(json, config_json->ptr, config_json->len);
  json[config_json->len] = 0;
  hook_string_free(config_json);  // arguments belong to the callee
  int rc = weft_init(json);
  free(json);
  if (rc != 0) return finish(rc, err);
  weft_point_t points[WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_ITER + 1];
  size_t n = 0;
  if (weft_points) {
    n = weft_points(points);
  } else {
    for (weft_point_t p = 0; p <= WEFT_PLUGIN_TYPES_HOOK_POINT_AFTER_ITER; ++p)
      if (defined(p)) points[n++] = p;
  }
  ret->ptr = malloc(n ? n : 1);
  memcpy(ret->ptr, points, n);
  ret->len = n;
  return true;
}

bool exports_weft_plugin_hooks_save_state(hook_option_string_t *ret, hook_string_t *err) {
  // NULL means "no state", unless the plugin called weft_fail first: then the save fails
  // (a checkpoint without the state would resume wrongly without a word).
  fail_message[0] = 0;
  char *state = weft_save_state ? weft_save_state() : NULL;
  if (!state && fail_message[0]) return finish(-1, err);
  ret->is_some = state != NULL;
  if (state) {
    hook_string_dup(&ret->val, state);
    free(state);
  }
  return true;
}

bool exports_weft_plugin_hooks_load_state(hook_string_t *state, hook_string_t *err) {
  char *text = malloc(state->len + 1);
  memcpy(text, state->ptr, state->len);
  text[state->len] = 0;
  hook_string_free(state);
  int rc = weft_load_state ? weft_load_state(text) : 0;
  free(text);
  return finish(rc, err);
}

// The failure of a hook point's call: `runner.fail` with the message weft_fail recorded. It
// does not return (weft stops the guest there); the trap is a backstop.
static void fail_call(void) {
  const char *m = fail_message[0] ? fail_message : "the plugin failed";
  hook_string_t s = {(uint8_t *)m, strlen(m)};
  weft_plugin_runner_fail(&s);
  __builtin_trap();
}

// One export per point, taking and returning nothing (weft:plugin@0.3.0). weft calls only
// the points init listed, so a point's function is defined whenever its export is called;
// the check keeps a stray call harmless. The plugin's function gets a null weft_state_t: the
// run state is read through the runner's functions, valid during the call.
#define POINT(name)                                            \
  void exports_weft_plugin_hooks_##name(void) {                \
    if (weft_##name && weft_##name(NULL) != 0) fail_call();    \
  }
// @generated exports: from wit/ by `make sdk-tables`; do not edit
POINT(before_run)
POINT(after_run)
POINT(before_train_epoch)
POINT(after_train_epoch)
POINT(before_val_epoch)
POINT(after_val_epoch)
POINT(before_train_iter)
POINT(after_train_iter)
POINT(before_val_iter)
POINT(after_val_iter)
POINT(before_epoch)
POINT(after_epoch)
POINT(after_backward)
POINT(before_iter)
POINT(after_iter)
// @end exports

// ---- logging and requests ----

static void vlog(weft_plugin_runner_log_level_t level, const char *fmt, va_list ap) {
  char buf[4096];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  hook_string_t s = {(uint8_t *)buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1};
  weft_plugin_runner_log(level, &s);
}

void weft_info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(WEFT_PLUGIN_TYPES_LOG_LEVEL_INFO, fmt, ap);
  va_end(ap);
}

void weft_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(WEFT_PLUGIN_TYPES_LOG_LEVEL_WARNING, fmt, ap);
  va_end(ap);
}

static hook_string_t borrowed(const char *s) {
  hook_string_t out = {(uint8_t *)s, strlen(s)};
  return out;
}

void weft_log_scalar(const char *name, double value) {
  hook_string_t s = borrowed(name);
  weft_plugin_runner_log_scalar(&s, value);
}
uint32_t weft_rank(void) { return weft_plugin_ranks_rank(); }
uint32_t weft_world_size(void) { return weft_plugin_ranks_world_size(); }
uint32_t weft_local_rank(void) { return weft_plugin_ranks_local_rank(); }

void weft_set_lr(uint32_t group, double lr) { weft_plugin_runner_set_lr(group, lr); }
void weft_set_momentum(uint32_t group, double m) { weft_plugin_runner_set_momentum(group, m); }
void weft_request_stop(const char *reason) {
  hook_string_t s = borrowed(reason);
  weft_plugin_runner_request_stop(&s);
}
void weft_request_checkpoint(void) { weft_plugin_runner_request_checkpoint(); }
void weft_request_eval(void) { weft_plugin_runner_request_eval(); }
void weft_scale_grads(double factor) { weft_plugin_runner_scale_grads(factor); }
void weft_skip_step(void) { weft_plugin_runner_skip_step(); }

// ---- run state ----

uint64_t weft_epoch(weft_state_t s) { return weft_plugin_runner_epoch(); }
uint64_t weft_iter(weft_state_t s) { return weft_plugin_runner_iter(); }
uint64_t weft_inner_iter(weft_state_t s) { return weft_plugin_runner_inner_iter(); }
uint64_t weft_max_iters(weft_state_t s) { return weft_plugin_runner_max_iters(); }
uint32_t weft_num_groups(weft_state_t s) { return weft_plugin_runner_num_groups(); }

const char *weft_mode(weft_state_t s) {
  switch (weft_plugin_runner_mode()) {
    case WEFT_PLUGIN_TYPES_PHASE_TRAIN: return "train";
    case WEFT_PLUGIN_TYPES_PHASE_VAL: return "val";
    default: return "none";
  }
}

size_t weft_lr(weft_state_t s, double *out, size_t cap) {
  hook_list_f64_t lr;
  weft_plugin_runner_lr(&lr);
  size_t n = lr.len < cap ? lr.len : cap;
  memcpy(out, lr.ptr, n * sizeof(double));
  hook_list_f64_free(&lr);
  return n;
}

bool weft_output(weft_state_t s, const char *name, double *value) {
  hook_string_t n = borrowed(name);
  return weft_plugin_runner_output(&n, value);
}

bool weft_metric(weft_state_t s, const char *name, double *value) {
  hook_string_t n = borrowed(name);
  return weft_plugin_runner_metric(&n, value);
}

// ---- a JSON reader for flat config objects ----

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') ++p;
  return p;
}

// Past a string starting at the opening quote; copies its content if `buf`.
static const char *read_string(const char *p, char *buf, size_t cap) {
  size_t n = 0;
  for (++p; *p && *p != '"'; ++p) {
    char c = *p;
    if (c == '\\' && p[1]) {
      ++p;
      c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
    }
    if (buf && n + 1 < cap) buf[n++] = c;
  }
  if (buf && cap) buf[n] = 0;
  return *p ? p + 1 : p;
}

// Past any value (nested objects and arrays included).
static const char *skip_value(const char *p) {
  p = skip_ws(p);
  if (*p == '"') return read_string(p, NULL, 0);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; *p; ++p) {
      if (*p == '"') {
        p = read_string(p, NULL, 0) - 1;
      } else if (*p == '{' || *p == '[') {
        ++depth;
      } else if ((*p == '}' || *p == ']') && --depth == 0) {
        return p + 1;
      }
    }
    return p;
  }
  while (*p && *p != ',' && *p != '}') ++p;
  return p;
}

// The value of top-level key `want`; or, with `known`, the value of the first key not in it
// (its name copied into `unknown`); NULL if there is none or the text is not an object.
static const char *find(const char *json, const char *want, const char *const *known, char *unknown, size_t cap) {
  const char *p = skip_ws(json);
  if (*p != '{') return NULL;
  ++p;
  for (;;) {
    p = skip_ws(p);
    if (*p != '"') return NULL;
    char key[256];
    p = skip_ws(read_string(p, key, sizeof key));
    if (*p != ':') return NULL;
    const char *value = skip_ws(p + 1);
    if (want && strcmp(key, want) == 0) return value;
    if (known) {
      bool ok = false;
      for (const char *const *k = known; *k; ++k) ok = ok || strcmp(*k, key) == 0;
      if (!ok) {
        snprintf(unknown, cap, "%s", key);
        return value;
      }
    }
    p = skip_ws(skip_value(value));
    if (*p != ',') return NULL;
    ++p;
  }
}

bool weft_json_number(const char *json, const char *key, double *out) {
  const char *v = find(json, key, NULL, NULL, 0);
  if (!v || !(*v == '-' || (*v >= '0' && *v <= '9'))) return false;
  *out = strtod(v, NULL);
  return true;
}

bool weft_json_has(const char *json, const char *key) {
  return find(json, key, NULL, NULL, 0) != NULL;
}

bool weft_json_numbers(const char *json, const char *key, double *out, size_t cap, size_t *n) {
  const char *p = find(json, key, NULL, NULL, 0);
  if (!p || *p != '[') return false;
  *n = 0;
  for (p = skip_ws(p + 1); *p != ']'; p = skip_ws(p)) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || *n == cap) return false;
    out[(*n)++] = v;
    p = skip_ws(end);
    if (*p == ',') ++p;
    else if (*p != ']') return false;
  }
  return true;
}

bool weft_json_string(const char *json, const char *key, char *buf, size_t cap) {
  const char *v = find(json, key, NULL, NULL, 0);
  if (!v || *v != '"') return false;
  read_string(v, buf, cap);
  return true;
}

bool weft_json_unknown_key(const char *json, const char *const *known, char *buf, size_t cap) {
  return find(json, NULL, known, buf, cap) != NULL;
}
