"""weft optimizer constructors in Python.

An optimizer constructor is a WebAssembly component of the ``optimizer-constructor`` world
of weft's WIT package (``wit/since_v0.3.0``, whose constructor world is 0.1.0's): weft hands
it the optimizer table, the model's modules and its parameter entries once per run, and it
answers with the parameter groups (MMCV's ``OptimizerConstructor``). This module hides the generated bindings behind a
``Constructor`` base class: the optimizer table arrives parsed, options are plain keyword
arguments, and exceptions become the error result of ``build`` (weft reports them) instead of
trapping the component.

    import weft_constructor as weft

    class OneGroup(weft.Constructor):
        TYPE_NAME = "OneGroupConstructor"

        def build(self, optimizer, modules, params):
            weft.info(f"{len(params)} parameter entries")
            return [weft.group(weft.trained(params), lr=optimizer["lr"])]

    Constructors = weft.export_constructor(OneGroup)   # componentize-py looks for `Constructors`

Build: ``componentize-py -d <wit dir> -w optimizer-constructor componentize
-p <dir of weft_constructor.py> -p <dir of the plugin> my_constructor -o my_constructor.wasm``.
"""

import json
import traceback

import wit_world
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

LogLevel = types.LogLevel
ModuleInfo = types.ModuleInfo
ParamInfo = types.ParamInfo
ParamGroup = types.ParamGroup


def log(level: LogLevel, message: str) -> None:
    """A line in the run log at ``level``, under the plugin's name."""
    wit_world.log(level, message)


def debug(message: str) -> None:
    wit_world.log(LogLevel.DEBUG, message)


def info(message: str) -> None:
    wit_world.log(LogLevel.INFO, message)


def warn(message: str) -> None:
    wit_world.log(LogLevel.WARNING, message)


class Error(Exception):
    """An error for the user (bad config, unsupported model): weft shows the message alone,
    without the traceback that other exceptions carry."""


def attrs(module: ModuleInfo) -> dict:
    """A module's constructor attributes (``in_channels``, ``groups``, ...)."""
    return json.loads(module.attrs_json) if module.attrs_json else {}


def tensor(params, i: int) -> int:
    """The entry that stands for entry ``i``'s tensor: a shared parameter's later names
    point at its first entry, the only one weft accepts in a group."""
    alias = params[i].alias_of
    return i if alias is None else alias


def trained(params) -> list:
    """Every tensor that needs a group: first entries that require grad."""
    return [i for i, p in enumerate(params) if p.alias_of is None and p.requires_grad]


def group(params, **options) -> ParamGroup:
    """A parameter group; ``options`` are ``torch.optim`` names (``lr=0.1,
    weight_decay=1e-4``), in the order given."""
    # The WIT wants u32 indices and f64 values; ints passed as options would not convert.
    return ParamGroup(
        params=[int(i) for i in params],
        options=[(name, float(value)) for name, value in options.items()],
    )


def check_keys(table: dict, allowed, where: str) -> None:
    """Raises ``Error`` for keys of ``table`` outside ``allowed`` (a typo should fail the
    run, not be ignored)."""
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise Error(f"unknown key{'s' if len(unknown) > 1 else ''} in {where}: "
                    f"{', '.join(unknown)} (expected {', '.join(sorted(allowed))})")


def number(table: dict, key: str, where: str, default=None):
    """A numeric entry as float: ``default`` when absent or null, ``Error`` when neither
    a number nor (without a default) present. JSON booleans are not numbers here, though
    Python's ``bool`` is an ``int``."""
    value = table.get(key)
    if value is None:
        if default is None:
            raise Error(f"{where}: missing `{key}`")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Error(f"{where}.{key}: expected a number, got {json.dumps(value)}")
    return float(value)


class Constructor:
    """An optimizer constructor. weft makes one instance per ``build`` call."""

    TYPE_NAME = None

    def build(self, optimizer: dict, modules: list, params: list) -> list:
        """The parameter groups, as ``ParamGroup``s (see ``group``). ``optimizer`` is the
        optimizer table without ``type`` and ``constructor``; ``params`` lists every entry in
        MMCV's ``add_params`` order. Put every index of ``trained(params)`` in exactly one
        group."""
        raise NotImplementedError(f"{type(self).__name__}.build")


def _error(e: BaseException) -> Err:
    if isinstance(e, Error):
        return Err(str(e))
    # The message first (weft shows it), then the traceback for the details.
    return Err(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")


def export_constructor(cls):
    """The class componentize-py exports for the `constructors` interface, calling
    ``cls``. Assign it to ``Constructors`` in the app module."""

    class Constructors(exports.Constructors):
        def type_name(self) -> str:
            return cls.TYPE_NAME or cls.__name__

        def build(self, optimizer_json, modules, params):
            try:
                optimizer = json.loads(optimizer_json)
                if not isinstance(optimizer, dict):
                    raise Error(f"the optimizer config is not a table: {optimizer_json}")
                groups = cls().build(optimizer, list(modules), list(params))
                return list(groups)
            except Err:
                raise
            except Exception as e:
                raise _error(e)

    return Constructors
