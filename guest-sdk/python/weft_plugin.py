"""weft plugins in Python.

A plugin is a WebAssembly component built with componentize-py against weft's WIT package
(``wit/since_v0.1.0``). This module hides the generated bindings behind a ``Hook`` base class
shaped like MMCV's: every method has a default, the specific points fall back to the generic
ones (``before_train_epoch`` calls ``before_epoch``, ...), and exceptions become the error
result of the call (weft reports them with the traceback) instead of trapping the component.

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
from wit_world.imports import runner, types

HookPoint = types.HookPoint
LogLevel = types.LogLevel
Phase = types.Phase
RunState = runner.RunState

log = runner.log
log_scalar = runner.log_scalar
set_lr = runner.set_lr
set_momentum = runner.set_momentum
request_stop = runner.request_stop
request_checkpoint = runner.request_checkpoint
request_eval = runner.request_eval
scale_grads = runner.scale_grads
skip_step = runner.skip_step


def info(message: str) -> None:
    """A line at INFO in the run log, under the plugin's name."""
    runner.log(LogLevel.INFO, message)


def warn(message: str) -> None:
    """A line at WARNING."""
    runner.log(LogLevel.WARNING, message)


class Hook:
    """A training hook. Override what you need; the defaults do nothing, and the specific
    points call the generic ones as MMCV's ``Hook`` does."""

    TYPE_NAME = None

    def __init__(self, config: dict):
        self.config = config

    def points(self):
        """The points weft should call. The default lists the methods this subclass
        overrides, so weft never calls a point that would do nothing (each call crosses into
        the sandbox); weft itself routes the specific points to the generic ones."""
        return [p for p in HookPoint if getattr(type(self), _method(p)) is not getattr(Hook, _method(p))]

    def before_run(self, s):
        pass

    def after_run(self, s):
        pass

    def before_epoch(self, s):
        pass

    def after_epoch(self, s):
        pass

    def before_iter(self, s):
        pass

    def after_iter(self, s):
        pass

    def before_train_epoch(self, s):
        self.before_epoch(s)

    def after_train_epoch(self, s):
        self.after_epoch(s)

    def before_val_epoch(self, s):
        self.before_epoch(s)

    def after_val_epoch(self, s):
        self.after_epoch(s)

    def before_train_iter(self, s):
        self.before_iter(s)

    def after_train_iter(self, s):
        self.after_iter(s)

    def before_val_iter(self, s):
        self.before_iter(s)

    def after_val_iter(self, s):
        self.after_iter(s)

    def after_backward(self, s):
        pass

    def save_state(self):
        """Text to keep in checkpoints (JSON is usual), or None."""
        return None

    def load_state(self, state: str):
        pass


def _method(point) -> str:
    # HookPoint.BEFORE_TRAIN_ITER -> "before_train_iter"
    return point.name.lower()


def _error(e: BaseException) -> Err:
    # The message first (weft shows it), then the traceback for the details.
    return Err(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")


def export_hook(cls):
    """The class componentize-py exports for the `hooks` interface, driving one instance
    of ``cls``. Assign it to ``Hooks`` in the app module."""
    state = {"hook": None}

    def call(method_name, s):
        hook = state["hook"]
        if hook is None:
            raise Err("the hook was called before init")
        try:
            getattr(hook, method_name)(s)
        except Err:
            raise
        except Exception as e:
            raise _error(e)

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
        def before_run(self, s):
            call("before_run", s)

        def after_run(self, s):
            call("after_run", s)

        def before_train_epoch(self, s):
            call("before_train_epoch", s)

        def after_train_epoch(self, s):
            call("after_train_epoch", s)

        def before_val_epoch(self, s):
            call("before_val_epoch", s)

        def after_val_epoch(self, s):
            call("after_val_epoch", s)

        def before_train_iter(self, s):
            call("before_train_iter", s)

        def after_train_iter(self, s):
            call("after_train_iter", s)

        def before_val_iter(self, s):
            call("before_val_iter", s)

        def after_val_iter(self, s):
            call("after_val_iter", s)

        def before_epoch(self, s):
            call("before_epoch", s)

        def after_epoch(self, s):
            call("after_epoch", s)

        def after_backward(self, s):
            call("after_backward", s)

        def before_iter(self, s):
            call("before_iter", s)

        def after_iter(self, s):
            call("after_iter", s)

    return Hooks
