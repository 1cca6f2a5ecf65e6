"""weft plugins in Python.

A plugin is a WebAssembly component built with componentize-py against weft's WIT package
(``wit/since_v0.3.0``, whose hook points take and return nothing). This module hides the
generated bindings behind a ``Hook`` base class shaped like MMCV's: one method per hook point,
each a no-op by default, lent a ``RunState`` whose reads are valid during the call; an
exception fails the call through ``runner.fail`` with its traceback (weft reports it and
applies the plugin's ``on_error``). weft calls only the methods a subclass overrides, and applies MMCV's fallback
itself: overriding ``after_iter`` but not ``after_train_iter`` gets ``after_iter`` calls after
train and val iterations alike (``s.point()`` says which).

    import weft_plugin as weft

    class MyHook(weft.Hook):
        TYPE_NAME = "MyHook"

        def __init__(self, config):
            self.a = config["a"]

        def before_run(self, s):
            weft.info(f"a = {self.a}, {s.max_iters()} iterations planned")

    Hooks = weft.export_hook(MyHook)   # componentize-py looks for `Hooks` in the app module

Build: ``componentize-py -d <wit dir> -w hook componentize -p <dir of weft_plugin.py> my_hook -o my_hook.wasm``.
"""

import json
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import ranks, runner, types

HookPoint = types.HookPoint
LogLevel = types.LogLevel
Phase = types.Phase


class RunState:
    """The runner's state during one hook call: its reads are ``runner``'s functions, valid
    only until the hook method returns (the values are MMCV's counters at that point)."""

    __slots__ = ()
    point = staticmethod(runner.point)
    mode = staticmethod(runner.mode)
    epoch = staticmethod(runner.epoch)
    iter = staticmethod(runner.iter)
    inner_iter = staticmethod(runner.inner_iter)
    max_epochs = staticmethod(runner.max_epochs)
    max_iters = staticmethod(runner.max_iters)
    data_loader_len = staticmethod(runner.data_loader_len)
    num_groups = staticmethod(runner.num_groups)
    lr = staticmethod(runner.lr)
    momentum = staticmethod(runner.momentum)
    output = staticmethod(runner.output)
    outputs = staticmethod(runner.outputs)
    metric = staticmethod(runner.metric)
    metrics = staticmethod(runner.metrics)
    grad_norm = staticmethod(runner.grad_norm)
    param_stats = staticmethod(runner.param_stats)


# One instance serves every call: it holds nothing.
_STATE = RunState()

log = runner.log
log_scalar = runner.log_scalar
set_lr = runner.set_lr
set_momentum = runner.set_momentum
request_stop = runner.request_stop
request_checkpoint = runner.request_checkpoint
request_eval = runner.request_eval
scale_grads = runner.scale_grads
skip_step = runner.skip_step


def rank() -> int:
    """This process's rank in a data-parallel run (0 to ``world_size() - 1``; rank 0 writes
    the run's files). A run of one process is rank 0 of 1."""
    return ranks.rank()


def world_size() -> int:
    """The number of ranks."""
    return ranks.world_size()


def local_rank() -> int:
    """The rank among this machine's ranks (which GPU it trains on)."""
    return ranks.local_rank()


def info(message: str) -> None:
    """A line at INFO in the run log, under the plugin's name."""
    runner.log(LogLevel.INFO, message)


def warn(message: str) -> None:
    """A line at WARNING."""
    runner.log(LogLevel.WARNING, message)


class Hook:
    """A training hook. Override what you need; the defaults do nothing, and weft routes a
    specific point you do not override to the generic one you do, as MMCV's ``Hook`` does."""

    TYPE_NAME = None

    def __init__(self, config: dict):
        self.config = config

    def points(self):
        """The points weft should call. The default lists the methods this subclass
        overrides, so weft never calls a point that would do nothing (each call crosses into
        the sandbox)."""
        return [p for p in HookPoint if getattr(type(self), _method(p)) is not getattr(Hook, _method(p))]

    # @generated hook-methods: from wit/ by `make sdk-tables`; do not edit
    def before_run(self, s):
        """Once, before anything else."""

    def after_run(self, s):
        """Once, at the end (also after an early stop)."""

    def before_train_epoch(self, s):
        """Before a train epoch (epoch-based runner)."""

    def after_train_epoch(self, s):
        """After a train epoch (epoch-based runner)."""

    def before_val_epoch(self, s):
        """Before a val epoch (epoch-based runner)."""

    def after_val_epoch(self, s):
        """After a val epoch (epoch-based runner)."""

    def before_train_iter(self, s):
        """Before a train iteration."""

    def after_train_iter(self, s):
        """After a train iteration's forward pass (the optimizer steps here, at priority 40)."""

    def before_val_iter(self, s):
        """Before a val iteration."""

    def after_val_iter(self, s):
        """After a val iteration."""

    def before_epoch(self, s):
        """Once after `before-run` in the iteration-based runner (as in MMCV); else the fallback of `before-train-epoch` and `before-val-epoch`."""

    def after_epoch(self, s):
        """Once before `after-run` in the iteration-based runner; else the fallback of `after-train-epoch` and `after-val-epoch`."""

    def after_backward(self, s):
        """Gradients are ready; clipping and the optimizer step have not happened yet."""

    def before_iter(self, s):
        """MMCV's generic iteration point: called before train and val iterations alike for a hook that does not list `before-train-iter` or `before-val-iter` itself."""

    def after_iter(self, s):
        """The generic fallback of `after-train-iter` and `after-val-iter`."""
    # @end hook-methods

    def save_state(self):
        """Text to keep in checkpoints (JSON is usual), or None."""
        return None

    def load_state(self, state: str):
        pass


def _method(point) -> str:
    # HookPoint.BEFORE_TRAIN_ITER -> "before_train_iter"
    return point.name.lower()


def _message(e: BaseException) -> str:
    # The message first (weft shows it), then the traceback for the details.
    return f"{type(e).__name__}: {e}\n{traceback.format_exc()}"


def _error(e: BaseException) -> Err:
    return Err(_message(e))


def export_hook(cls):
    """The class componentize-py exports for the `hooks` interface, driving one instance
    of ``cls``. Assign it to ``Hooks`` in the app module."""
    state = {"hook": None}

    def call(method_name):
        # `runner.fail` does not return: weft stops the guest there.
        hook = state["hook"]
        if hook is None:
            runner.fail("the hook was called before init")
        try:
            getattr(hook, method_name)(_STATE)
        except Exception as e:
            runner.fail(_message(e))

    class Hooks(exports.Hooks):
        def type_name(self) -> str:
            return cls.TYPE_NAME or cls.__name__

        def init(self, config_json: str):
            try:
                hook = cls(json.loads(config_json))
                state["hook"] = hook
                return list(hook.points())
            except Exception as e:
                raise _error(e)

        def save_state(self):
            try:
                return state["hook"].save_state()
            except Exception as e:
                raise _error(e)

        def load_state(self, text: str):
            try:
                state["hook"].load_state(text)
            except Exception as e:
                raise _error(e)

        # One method per hook point (an abstract method of the generated protocol each).
        # @generated exports: from wit/ by `make sdk-tables`; do not edit
        def before_run(self):
            call("before_run")

        def after_run(self):
            call("after_run")

        def before_train_epoch(self):
            call("before_train_epoch")

        def after_train_epoch(self):
            call("after_train_epoch")

        def before_val_epoch(self):
            call("before_val_epoch")

        def after_val_epoch(self):
            call("after_val_epoch")

        def before_train_iter(self):
            call("before_train_iter")

        def after_train_iter(self):
            call("after_train_iter")

        def before_val_iter(self):
            call("before_val_iter")

        def after_val_iter(self):
            call("after_val_iter")

        def before_epoch(self):
            call("before_epoch")

        def after_epoch(self):
            call("after_epoch")

        def after_backward(self):
            call("after_backward")

        def before_iter(self):
            call("before_iter")

        def after_iter(self):
            call("after_iter")
        # @end exports

    return Hooks
