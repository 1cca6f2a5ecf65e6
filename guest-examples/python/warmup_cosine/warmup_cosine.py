"""A custom LR policy as a hook, in Python: linear warmup, then cosine annealing, per
iteration, as MMCV's ``CosineAnnealingLrUpdaterHook`` with ``warmup = "linear"`` and
``by_epoch = false``. It does exactly what the Rust example does, bit for bit."""

import json

import weft_plugin as weft
from weft_plugin import HookPoint

PI = 3.141592653589793


def portable_cos(x):
    """Cosine on [0, pi] from + - * / only, so every language computes the same bits (libm
    cos differs in the last place between languages): reflect into [0, pi/2], then the
    Taylor series to x^22 by Horner's rule, its coefficients (-1)^k / (2k)! built by division."""
    if x > PI / 2.0:
        y, sign = PI - x, -1.0
    else:
        y, sign = x, 1.0
    coef = [1.0]
    for k in range(1, 12):
        coef.append(-coef[k - 1] / (float(2 * k - 1) * float(2 * k)))
    y2 = y * y
    r = coef[11]
    for k in range(10, -1, -1):
        r = r * y2 + coef[k]
    return sign * r


def annealing_cos(start, end, factor):
    """MMCV's ``annealing_cos``, with its operations in its order."""
    cos_out = portable_cos(PI * factor) + 1.0
    return end + 0.5 * (start - end) * cos_out


class WarmupCosine(weft.Hook):
    TYPE_NAME = "WarmupCosineLrHook"

    def __init__(self, config):
        unknown = set(config) - {"warmup_iters", "warmup_ratio", "min_lr_ratio", "min_lr"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        self.warmup_iters = int(config.get("warmup_iters", 0))
        self.warmup_ratio = float(config.get("warmup_ratio", 0.1))
        self.min_lr_ratio = config.get("min_lr_ratio")
        self.min_lr = config.get("min_lr")
        if self.min_lr is not None and self.min_lr_ratio is not None:
            raise ValueError("set only one of min_lr and min_lr_ratio")
        if not 0.0 < self.warmup_ratio <= 1.0:
            raise ValueError(f"warmup_ratio must be in (0, 1], got {self.warmup_ratio}")
        # The base lr of every group: the state a resumed run needs (MMCV's `initial_lr`).
        self.base_lr = []

    def points(self):
        return [HookPoint.BEFORE_RUN, HookPoint.BEFORE_TRAIN_ITER]

    def target(self, base):
        if self.min_lr is not None:
            return float(self.min_lr)
        if self.min_lr_ratio is not None:
            return base * float(self.min_lr_ratio)
        return 0.0

    def before_run(self, s):
        # A resumed run already has its base lr from the checkpoint.
        if not self.base_lr:
            self.base_lr = list(s.lr())

    def before_train_iter(self, s):
        it, max_iters = s.iter(), s.max_iters()
        for g, base in enumerate(self.base_lr):
            regular = annealing_cos(base, self.target(base), float(it) / float(max_iters))
            if it >= self.warmup_iters:
                lr = regular
            else:
                k = (1.0 - float(it) / float(self.warmup_iters)) * (1.0 - self.warmup_ratio)
                lr = regular * (1.0 - k)
            weft.set_lr(g, lr)

    def save_state(self):
        return json.dumps({"base_lr": self.base_lr})

    def load_state(self, state):
        self.base_lr = [float(v) for v in json.loads(state)["base_lr"]]


Hooks = weft.export_hook(WarmupCosine)
