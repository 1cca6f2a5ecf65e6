// weft plugins in C (and Zig, which links this SDK): implement `weft_type_name`, `weft_init`
// and the hook points you need. weft calls only the points you define (or list with
// weft_points), and a specific point you leave out falls back to the generic one, as in MMCV
// (before a train epoch, weft_before_epoch runs unless you define weft_before_train_epoch).
//
//   const char *weft_type_name(void) { return "MyHook"; }
//   int weft_init(const char *config_json) { ...; return 0; }
//   int weft_before_run(weft_state_t s) { weft_info("%llu iterations planned", ...); return 0; }
//
// A hook function returns 0, or calls weft_fail("why") and returns -1: the call then fails
// with that message (weft applies the plugin's on_error policy).
//
// Build: `wit-bindgen c --world hook <wit dir> --out-dir gen`, then compile this file with
// gen/hook.c, gen/hook_component_type.o and the plugin for wasm32-wasi as a reactor, and
// turn the module into a component with `weft plugin componentize`: build.sh next to this
// file does all of it (`build.sh my_hook my_hook.wasm`).

#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hook.h"

// What a hook function is lent: a token for the call in progress (weft:plugin@0.3.0 reads
// the run state through the runner's functions, valid only during a call, so it carries
// nothing; the reads below take it to show where they may be used).
typedef struct weft_state *weft_state_t;
typedef weft_plugin_types_hook_point_t weft_point_t;

// What the plugin provides.
const char *weft_type_name(void);
int weft_init(const char *config_json);
// Optional (defaults: the points defined, no state).
size_t weft_points(weft_point_t *out);  // fills at most 15; returns how many
char *weft_save_state(void);            // malloc'd text; NULL: none (after weft_fail: an error)
int weft_load_state(const char *state);

// @generated declarations: from wit/ by `make sdk-tables`; do not edit
// Once, before anything else.
int weft_before_run(weft_state_t s);
// Once, at the end (also after an early stop).
int weft_after_run(weft_state_t s);
// Before a train epoch (epoch-based runner).
int weft_before_train_epoch(weft_state_t s);
// After a train epoch (epoch-based runner).
int weft_after_train_epoch(weft_state_t s);
// Before a val epoch (epoch-based runner).
int weft_before_val_epoch(weft_state_t s);
// After a val epoch (epoch-based runner).
int weft_after_val_epoch(weft_state_t s);
// Before a train iteration.
int weft_before_train_iter(weft_state_t s);
// After a train iteration's forward pass (the optimizer steps here, at priority 40).
int weft_after_train_iter(weft_state_t s);
// Before a val iteration.
int weft_before_val_iter(weft_state_t s);
// After a val iteration.
int weft_after_val_iter(weft_state_t s);
// Once after `before-run` in the iteration-based runner (as in MMCV); else the
// fallback of `before-train-epoch` and `before-val-epoch`.
int weft_before_epoch(weft_state_t s);
// Once before `after-run` in the iteration-based runner; else the fallback of
// `after-train-epoch` and `after-val-epoch`.
int weft_after_epoch(weft_state_t s);
// Gradients are ready; clipping and the optimizer step have not happened yet.
int weft_after_backward(weft_state_t s);
// MMCV's generic iteration point: called before train and val iterations alike for a
// hook that does not list `before-train-iter` or `before-val-iter` itself.
int weft_before_iter(weft_state_t s);
// The generic fallback of `after-train-iter` and `after-val-iter`.
int weft_after_iter(weft_state_t s);
// @end declarations

// Failing a call: a printf-style message; returns -1 for `return weft_fail(...)`.
int weft_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Where this process stands in a data-parallel run (`ranks`, since weft:plugin@0.2.0): its rank
// (0 to world size - 1; rank 0 writes the run's files), the number of ranks, and its rank
// among this machine's ranks. A run of one process is rank 0 of 1.
uint32_t weft_rank(void);
uint32_t weft_world_size(void);
uint32_t weft_local_rank(void);

// Logging, under the plugin's name.
void weft_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void weft_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Requests (validated by weft and applied when the call returns).
void weft_log_scalar(const char *name, double value);
void weft_set_lr(uint32_t group, double lr);
void weft_set_momentum(uint32_t group, double momentum);
void weft_request_stop(const char *reason);
void weft_request_checkpoint(void);
void weft_request_eval(void);
void weft_scale_grads(double factor);
void weft_skip_step(void);

// Reading the run state.
uint64_t weft_epoch(weft_state_t s);
uint64_t weft_iter(weft_state_t s);
uint64_t weft_inner_iter(weft_state_t s);
uint64_t weft_max_iters(weft_state_t s);
const char *weft_mode(weft_state_t s);  // "train", "val" or "none"
uint32_t weft_num_groups(weft_state_t s);
size_t weft_lr(weft_state_t s, double *out, size_t cap);  // the lr of each group
bool weft_output(weft_state_t s, const char *name, double *value);
bool weft_metric(weft_state_t s, const char *name, double *value);

// The config table: top-level keys of a JSON object. Numbers, strings and booleans.
bool weft_json_number(const char *json, const char *key, double *out);
bool weft_json_string(const char *json, const char *key, char *buf, size_t cap);
bool weft_json_has(const char *json, const char *key);
// An array of numbers: at most `cap` into `out`, their count into `n`.
bool weft_json_numbers(const char *json, const char *key, double *out, size_t cap, size_t *n);
// The first key not in `known` (NULL-terminated), copied into `buf`; false if none.
bool weft_json_unknown_key(const char *json, const char *const *known, char *buf, size_t cap);

#endif
