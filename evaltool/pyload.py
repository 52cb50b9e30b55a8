"""Python functions named on the command line, for models and scorers alike:
`module:function` (a module of the current folder included) or `path/to/file.py:function`.
Whatever goes wrong importing one is an EvaltoolError of one line naming it."""

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaltool.errors import EvaltoolError


def load_function(target: str, what: str) -> Callable[..., Any]:
    """The callable named by `module:function` or `file.py:function`; `what` names it in
    errors ("python model", "python scorer")."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise EvaltoolError(f"{what} {target!r}: expected module:function or file.py:function")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None or not path.is_file():
                raise EvaltoolError(f"{what} {target!r}: no file {module_name}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # a module of the current folder
            module = importlib.import_module(module_name)
    except EvaltoolError:
        raise
    except BaseException as exc:  # whatever its code raises or calls (SystemExit included)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise EvaltoolError(
            f"{what} {target!r} does not import: {type(exc).__name__}: {exc}"
        ) from exc
    function = getattr(module, attr, None)
    if not callable(function):
        raise EvaltoolError(f"{what} {target!r}: {module_name} has no function {attr}")
    return function
