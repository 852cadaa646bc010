"""Test-suite settings shared by the unit tests (tests/conftest.py) and the docstring examples
(gendiff/conftest.py). Not part of the public API."""

from __future__ import annotations

import os

import jax


def use_persistent_compilation_cache() -> str:
    """Turns on JAX's persistent compilation cache for every program, and exports the settings
    as environment variables so that subprocesses (CLI runs, multi-process runs) share it.

    The directory is ``$JAX_COMPILATION_CACHE_DIR`` (default ``~/.cache/gendiff-tests/jax``).
    Every program is cached: the suite compiles thousands of small ones, each a few tenths of
    a second, and an entry is a few kB.

    Returns:
      The cache directory.
    """
    cache_dir = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "gendiff-tests", "jax"
    )
    settings = {
        "jax_compilation_cache_dir": cache_dir,
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    for name, value in settings.items():
        os.environ[name.upper()] = str(value)  # inherited by subprocesses
        jax.config.update(name, value)
    return cache_dir
