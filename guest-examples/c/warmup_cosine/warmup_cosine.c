// A custom LR policy as a hook, in C: linear warmup, then cosine annealing, per iteration,
// as MMCV's CosineAnnealingLrUpdaterHook with warmup = "linear" and by_epoch = false. It
// does exactly what the Rust example does, bit for bit (build with -ffp-contract=off, as
// build.sh does, so no multiply-add is fused).

#include <stdio.h>
#include <stdlib.h>

#include "weft_plugin.h"

#define PI 3.141592653589793
#define MAX_GROUPS 64

static double warmup_iters, warmup_ratio = 0.1, min_lr_ratio, min_lr;
static bool has_min_lr_ratio, has_min_lr;
// The base lr of every group: the state a resumed run needs (MMCV's initial_lr).
static double base_lr[MAX_GROUPS];
static size_t groups;

// Cosine on [0, pi] from + - * / only, so every language computes the same bits (libm cos
// differs between languages in the last place): reflect into [0, pi/2], then the Taylor
// series to x^22 by Horner's rule, its coefficients (-1)^k / (2k)! built by division.
static double portable_cos(double x) {
  double y = x, sign = 1.0;
  if (x > PI / 2.0) {
    y = PI - x;
    sign = -1.0;
  }
  double coef[12];
  coef[0] = 1.0;
  for (int k = 1; k < 12; ++k) coef[k] = -coef[k - 1] / ((double)(2 * k - 1) * (double)(2 * k));
  double y2 = y * y, r = coef[11];
  for (int k = 10; k >= 0; --k) r = r * y2 + coef[k];
  return sign * r;
}

// MMCV's annealing_cos, with its operations in its order.
static double annealing_cos(double start, double end, double factor) {
  double cos_out = portable_cos(PI * factor) + 1.0;
  return end + 0.5 * (start - end) * cos_out;
}

const char *weft_type_name(void) { return "WarmupCosineLrHook"; }

int weft_init(const char *config) {
  static const char *const known[] = {"warmup_iters", "warmup_ratio", "min_lr_ratio", "min_lr", NULL};
  char unknown[256];
  if (weft_json_unknown_key(config, known, unknown, sizeof unknown))
    return weft_fail("unknown key %s", unknown);
  if (weft_json_has(config, "warmup_iters") && !weft_json_number(config, "warmup_iters", &warmup_iters))
    return weft_fail("warmup_iters must be a number");
  if (weft_json_has(config, "warmup_ratio") && !weft_json_number(config, "warmup_ratio", &warmup_ratio))
    return weft_fail("warmup_ratio must be a number");
  has_min_lr_ratio = weft_json_number(config, "min_lr_ratio", &min_lr_ratio);
  has_min_lr = weft_json_number(config, "min_lr", &min_lr);
  if (has_min_lr && has_min_lr_ratio) return weft_fail("set only one of min_lr and min_lr_ratio");
  if (!(warmup_ratio > 0.0 && warmup_ratio <= 1.0))
    return weft_fail("warmup_ratio must be in (0, 1], got %g", warmup_ratio);
  return 0;
}

static double target(double base) {
  if (has_min_lr) return min_lr;
  if (has_min_lr_ratio) return base * min_lr_ratio;
  return 0.0;
}

int weft_before_run(weft_state_t s) {
  if (weft_num_groups(s) > MAX_GROUPS) return weft_fail("more than %d parameter groups", MAX_GROUPS);
  // A resumed run already has its base lr from the checkpoint.
  if (groups == 0) groups = weft_lr(s, base_lr, MAX_GROUPS);
  return 0;
}

int weft_before_train_iter(weft_state_t s) {
  double iter = (double)weft_iter(s), max = (double)weft_max_iters(s);
  for (size_t g = 0; g < groups; ++g) {
    double regular = annealing_cos(base_lr[g], target(base_lr[g]), iter / max);
    double lr = regular;
    if (iter < warmup_iters) {
      double k = (1.0 - iter / warmup_iters) * (1.0 - warmup_ratio);
      lr = regular * (1.0 - k);
    }
    weft_set_lr((uint32_t)g, lr);
  }
  return 0;
}

char *weft_save_state(void) {
  // %.17g prints every double so that reading it back gives the same bits.
  size_t cap = 32 + groups * 26;
  char *out = malloc(cap);
  size_t n = (size_t)snprintf(out, cap, "{\"base_lr\":[");
  for (size_t g = 0; g < groups; ++g)
    n += (size_t)snprintf(out + n, cap - n, "%s%.17g", g ? "," : "", base_lr[g]);
  snprintf(out + n, cap - n, "]}");
  return out;
}

int weft_load_state(const char *state) {
  if (!weft_json_numbers(state, "base_lr", base_lr, MAX_GROUPS, &groups))
    return weft_fail("bad saved state: %s", state);
  return 0;
}
