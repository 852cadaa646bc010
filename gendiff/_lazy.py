"""Names of a package loaded on first use (PEP 562), so importing it stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose name ``n`` lives in its
    submodule ``exports[n]``; a loaded name is kept in ``namespace`` (the package's globals).

    Example:
        >>> namespace = {}
        >>> getattr_, dir_ = lazy_exports("gendiff.eval", {"write_json": "io"}, namespace)
        >>> getattr_("write_json").__name__, "write_json" in namespace, dir_()
        ('write_json', True, ['write_json'])
    """

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports} - {n for n in namespace if n.startswith("__")})

    return __getattr__, __dir__
