"""The one file writer: atomic (temporary file, then rename) and done by process 0 only.

Every file the library and the experiments produce outside checkpoints (metrics.json,
feature-classifier caches, PNGs) goes through :func:`write_atomically`, so a reader never
sees a half-written file and a multi-host job never has N processes racing on one path.
Checkpoints are orbax's business: every process takes part in saving them. "Process 0" is
``jax.process_index() == 0``, the test of ``gendiff.train.is_main_process`` (not imported here,
so that writing a file does not load the training stack).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from typing import IO, Any

import jax


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> bool:
    """Writes a file atomically, on process 0 only.

    ``write(f)`` fills a temporary binary file in the directory of ``path``, which is then
    flushed, synced and renamed onto ``path`` (``os.replace``, atomic on POSIX). If
    ``write`` raises, the temporary file is removed, an existing ``path`` is left as it was,
    and the exception propagates. Parent directories are created; the file gets the
    permissions ``open`` would give it (0o666 less the umask).

    Args:
      path: the destination file.
      write: called with the open temporary file (mode 'wb').

    Returns:
      True if this process wrote the file, False on processes other than 0 (which do
      nothing, not even call ``write``).

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "hello.txt")
      >>> write_atomically(path, lambda f: f.write(b"hello"))
      True
      >>> open(path, "rb").read()
      b'hello'
    """
    if jax.process_index() != 0:
        return False
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    # A unique name in the same directory (same file system, so the rename is atomic). Not
    # tempfile.mkstemp: its files are 0o600 whatever the umask.
    tmp_path = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    )
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    return True


def write_bytes(path: str | os.PathLike, data: bytes) -> bool:
    """Writes ``data`` to ``path`` atomically on process 0 (see :func:`write_atomically`).

    Example:
      >>> import os, tempfile
      >>> write_bytes(os.path.join(tempfile.mkdtemp(), "params.msgpack"), b"\\x80")
      True
    """
    return write_atomically(path, lambda f: f.write(data))


def write_json(path: str | os.PathLike, obj: Any) -> bool:
    """Writes ``obj`` as indented JSON with sorted keys, atomically on process 0.

    The object is serialised before the file is opened, so an object JSON cannot encode
    raises without touching ``path``.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
      >>> write_json(path, {"fd_digits": 8.7, "fd_digits_floor": 2.7})
      True
    """
    data = (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    return write_bytes(path, data)
