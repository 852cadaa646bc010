"""Traced programs kept on disk across runs (``jax.export``), so a later run skips tracing.

JAX's persistent compilation cache saves the XLA compilation of a program, but every run still
traces the Python function and lowers it to StableHLO before it can even look the program up:
for the U-Net's training step on a CPU that is two to three seconds of every start.
:class:`ExportCache` stores the lowered program itself (``jax.export``) under a name that the
caller vouches for (its *fingerprint*), so a run with the same fingerprint loads it and never
traces the function. The compilation of the loaded program still goes through the persistent
compilation cache.

The fingerprint is a promise: equal fingerprints must mean the same function, including every
constant it closes over. Argument shapes, dtypes, shardings and pytree structure, the versions
of jax and jaxlib, the devices and JAX's numerics flags are added to it here.

Both a first run (which exports the program) and a later one (which loads it) run the exported
program, so they compute the same thing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jaxlib
import numpy as np
from jax import export

from gendiff.eval.io import write_bytes

_SUFFIX = ".jaxexport"


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _environment() -> str:
    devices = jax.devices()
    flags = (
        "jax_enable_x64",
        "jax_default_matmul_precision",
        "jax_default_prng_impl",
        "jax_threefry_partitionable",
    )
    return repr(
        (
            jax.__version__,
            jaxlib.__version__,
            jax.default_backend(),
            len(devices),
            sorted({d.device_kind for d in devices}),
            [(f, getattr(jax.config, f, None)) for f in flags],
        )
    )


class ExportCache:
    """A directory of exported programs, looked up by ``fingerprint`` and the arguments' types.

    Args:
        directory: where the programs are written (created if missing; only process 0 writes).
        fingerprint: a string that determines the functions this cache will be asked to jit,
            e.g. a hash of the source code, the config and the in-memory data of a run.

    Example:
        >>> import tempfile
        >>> cache = ExportCache(tempfile.mkdtemp(), fingerprint="square-v1")
        >>> f = cache.jit(lambda x: {"y": x**2}, name="square")
        >>> f(jnp.arange(3.0))["y"].tolist()  # exported and written on the first call
        [0.0, 1.0, 4.0]
        >>> g = ExportCache(cache.directory, "square-v1").jit(lambda x: None, name="square")
        >>> g(jnp.arange(3.0))["y"].tolist()  # loaded: the new function is never traced
        [0.0, 1.0, 4.0]
    """

    def __init__(self, directory: str | os.PathLike, fingerprint: str):
        if not isinstance(fingerprint, str) or not fingerprint:
            raise ValueError(f"fingerprint must be a non-empty string, got {fingerprint!r}.")
        self.directory = os.fspath(directory)
        self.fingerprint = fingerprint

    def jit(
        self,
        fun: Callable,
        *,
        name: str,
        in_shardings: Sequence[Any] | None = None,
        out_shardings: Any = None,
        donate_argnums: int | Sequence[int] = (),
    ) -> Callable:
        """Like ``jax.jit(fun, ...)``, through an exported program stored in :attr:`directory`.

        Args:
            fun: a function of positional pytree arguments (PRNG key arrays allowed) returning
                a pytree of arrays.
            name: the program's name, part of its file name and its key.
            in_shardings: one ``jax.sharding.Sharding`` (or None) per positional argument,
                applied to all of that argument's leaves.
            out_shardings: one sharding (or None) for every output leaf.
            donate_argnums: positional arguments whose buffers may be reused for the outputs.

        Returns:
            A function with ``fun``'s signature. In a multi-process run it is plain
            ``jax.jit`` (the program files are not shared between hosts).
        """
        donate = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
        exported = _Exported(self, fun, name, in_shardings, out_shardings, donate)
        return exported._plain_jit(None) if jax.process_count() > 1 else exported

    def memoize(self, fun: Callable, *, name: str, max_bytes: int = 64 << 20) -> Callable:
        """``jax.jit(fun)`` whose results are kept on disk, keyed by the arguments' *values*.

        For a pure function of small arguments whose result a run needs first thing, such as
        a network's initial parameters (a function of the seed): a later run with the same
        fingerprint and arguments reads the result instead of loading and running a program.
        Results over ``max_bytes`` are not kept.

        Example:
            >>> import tempfile
            >>> cache = ExportCache(tempfile.mkdtemp(), fingerprint="normal-v1")
            >>> draw = lambda key: jax.random.normal(key, (3,))
            >>> first = cache.memoize(draw, name="draw")(jax.random.key(0))
            >>> again = cache.memoize(lambda key: None, name="draw")(jax.random.key(0))
            >>> bool((first == again).all())
            True
        """
        jitted = jax.jit(fun)

        def memoized(*args):
            leaves, in_tree = jax.tree.flatten(args)
            raw = [np.asarray(jax.random.key_data(x) if _is_key(x) else x) for x in leaves]
            digest = hashlib.sha256(str(in_tree).encode())
            for x, leaf in zip(raw, leaves):
                digest.update(f"{x.shape}{x.dtype}{leaf.dtype}".encode())
                digest.update(np.ascontiguousarray(x).data)
            path = self.path(name, digest.hexdigest(), suffix=".result")
            try:
                with open(path, "rb") as f:
                    out_tree, values = pickle.load(f)
                # device_put, not jnp.asarray: no conversion program per leaf shape.
                return jax.tree.unflatten(out_tree, jax.device_put(values))
            except FileNotFoundError:
                pass
            except Exception as e:
                warnings.warn(f"Ignoring the unreadable result {path} ({e!r}); recomputing.")
            out = jitted(*args)
            values, out_tree = jax.tree.flatten(out)
            if (
                jax.process_count() == 1
                and sum(v.nbytes for v in values) <= max_bytes
                and not any(_is_key(v) for v in values)
            ):
                write_bytes(path, pickle.dumps((out_tree, [np.asarray(v) for v in values])))
            return out

        return memoized

    def path(self, name: str, signature: str, suffix: str = _SUFFIX) -> str:
        """The file of program (or result) ``name`` for arguments of ``signature``."""
        digest = hashlib.sha256(
            "\n".join((self.fingerprint, name, signature, _environment())).encode()
        ).hexdigest()[:32]
        return os.path.join(self.directory, f"{name}-{digest}{suffix}")


class _Exported:
    """The callable of :meth:`ExportCache.jit`: one loaded program per argument signature."""

    def __init__(self, cache, fun, name, in_shardings, out_shardings, donate):
        self.cache, self.fun, self.name = cache, fun, name
        self.in_shardings, self.out_shardings, self.donate = in_shardings, out_shardings, donate
        self._programs: dict[tuple, Callable] = {}

    def __call__(self, *args):
        leaves, in_tree = jax.tree.flatten(args)
        types = tuple((x.shape, x.dtype, getattr(x, "weak_type", False)) for x in leaves)
        program = self._programs.get((in_tree, types))
        if program is None:
            program = self._programs[(in_tree, types)] = self._program(args, leaves, in_tree)
        return program(leaves)

    def _leaf_in_shardings(self, arg_of_leaf):
        if self.in_shardings is None:
            return [None] * len(arg_of_leaf)
        return [self.in_shardings[i] for i in arg_of_leaf]

    def _program(self, args, leaves, in_tree) -> Callable:
        keys = [str(jax.random.key_impl(x)) if _is_key(x) else None for x in leaves]
        arg_of_leaf = np.repeat(np.arange(len(args)), [len(jax.tree.leaves(a)) for a in args])
        arg_of_leaf = arg_of_leaf.tolist()
        signature = repr(
            (
                str(in_tree),
                [(x.shape, str(x.dtype), getattr(x, "weak_type", False), k)
                 for x, k in zip(leaves, keys)],
                [repr(s) for s in self._leaf_in_shardings(arg_of_leaf)],
                repr(self.out_shardings),
                self.donate,
            )
        )  # fmt: skip
        path = self.cache.path(self.name, signature)
        loaded = _read(path)
        if loaded is None:
            try:
                loaded = self._export(leaves, in_tree, keys, arg_of_leaf)
            except Exception as e:  # e.g. a host callback, which jax.export cannot serialize
                warnings.warn(
                    f"{self.name} cannot be exported ({type(e).__name__}: {e}); it is traced "
                    "at every run instead."
                )
                plain = self._plain_jit(arg_of_leaf)
                return lambda leaves: plain(*jax.tree.unflatten(in_tree, leaves))
            _write(path, loaded)
        exported, out_tree, out_keys = loaded
        leaf_shardings = self._leaf_in_shardings(arg_of_leaf)
        shardings = {}
        if any(s is not None for s in leaf_shardings):
            shardings["in_shardings"] = tuple(leaf_shardings)
        if self.out_shardings is not None:
            shardings["out_shardings"] = self.out_shardings
        donate = tuple(i for i, a in enumerate(arg_of_leaf) if a in self.donate)

        def program(*raw):
            return exported.call(*raw)

        program.__name__ = program.__qualname__ = self.name  # its name in logs and caches
        compiled = jax.jit(program, donate_argnums=donate, **shardings)

        def call(leaves):
            out = compiled(*(jax.random.key_data(x) if k else x for x, k in zip(leaves, keys)))
            out = [jax.random.wrap_key_data(x, impl=k) if k else x for x, k in zip(out, out_keys)]
            return jax.tree.unflatten(out_tree, out)

        return call

    def _plain_jit(self, arg_of_leaf) -> Callable:
        shardings = {}
        if self.in_shardings is not None:
            shardings["in_shardings"] = tuple(self.in_shardings)
        if self.out_shardings is not None:
            shardings["out_shardings"] = self.out_shardings
        return jax.jit(self.fun, donate_argnums=self.donate, **shardings)

    def _export(self, leaves, in_tree, keys, arg_of_leaf):
        found = {}

        def flat_fun(*raw):
            args = [
                jax.random.wrap_key_data(x, impl=k) if k is not None else x
                for x, k in zip(raw, keys)
            ]
            out = self.fun(*jax.tree.unflatten(in_tree, args))
            out_leaves, found["tree"] = jax.tree.flatten(out)
            found["keys"] = [
                str(jax.random.key_impl(x)) if _is_key(x) else None for x in out_leaves
            ]
            return [jax.random.key_data(x) if _is_key(x) else x for x in out_leaves]

        specs = []
        for x, k, s in zip(leaves, keys, self._leaf_in_shardings(arg_of_leaf)):
            raw = jax.random.key_data(x) if k is not None else x
            specs.append(jax.ShapeDtypeStruct(raw.shape, raw.dtype, sharding=s))
        shardings = {}
        if any(s is not None for s in self._leaf_in_shardings(arg_of_leaf)):
            shardings["in_shardings"] = tuple(self._leaf_in_shardings(arg_of_leaf))
        if self.out_shardings is not None:
            shardings["out_shardings"] = self.out_shardings
        exported = export.export(jax.jit(flat_fun, **shardings))(*specs)
        return exported, found["tree"], found["keys"]


def _read(path: str):
    """(exported, out_tree, out_keys) from ``path``; None if missing, or damaged (warned)."""
    try:
        with open(path, "rb") as f:
            blob = pickle.load(f)
        return export.deserialize(blob["exported"]), blob["out_tree"], blob["out_keys"]
    except FileNotFoundError:
        return None
    except Exception as e:  # a damaged or foreign file: export again and replace it
        warnings.warn(f"Ignoring the unreadable exported program {path} ({e!r}); re-exporting.")
        return None


def _write(path: str, loaded) -> None:
    exported, out_tree, out_keys = loaded
    blob = {"exported": exported.serialize(), "out_tree": out_tree, "out_keys": out_keys}
    write_bytes(path, pickle.dumps(blob))  # atomically, on process 0
