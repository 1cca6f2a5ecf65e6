"""The seed's MyHook(a, b) in Python: MMCV's example custom hook, implementing before_run,
after_run, before_epoch, after_epoch, before_iter and after_iter. It does exactly what the
Rust example does, so the two give the same trace of calls and requests."""

import weft_plugin as weft
from weft_plugin import HookPoint, Phase


def mode(s):
    return {Phase.TRAIN: "train", Phase.VAL: "val"}.get(s.mode(), "none")


class MyHook(weft.Hook):
    TYPE_NAME = "MyHook"

    def __init__(self, config):
        unknown = set(config) - {"a", "b"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        self.a = int(config["a"])
        self.b = str(config["b"])
        self.iters_seen = 0

    def points(self):
        return [HookPoint.BEFORE_RUN, HookPoint.AFTER_RUN, HookPoint.BEFORE_EPOCH,
                HookPoint.AFTER_EPOCH, HookPoint.BEFORE_ITER, HookPoint.AFTER_ITER]

    def before_run(self, s):
        weft.info(f"MyHook(a={self.a}, b={self.b}) before_run: {s.max_iters()} iterations planned")

    def after_run(self, s):
        weft.info(f"after_run at iter {s.iter()} after {self.iters_seen} iterations seen")

    def before_epoch(self, s):
        weft.info(f"before_epoch {s.epoch() + 1} ({mode(s)})")

    def after_epoch(self, s):
        weft.info(f"after_epoch {s.epoch() + 1} ({mode(s)})")

    def before_iter(self, s):
        self.iters_seen += 1

    def after_iter(self, s):
        # `a` scales a value that shows up in the logs next to the loss, under a name from `b`.
        loss = s.output("loss")
        if loss is not None:
            weft.log_scalar(f"{self.b}_scaled_loss", loss * self.a)


Hooks = weft.export_hook(MyHook)
