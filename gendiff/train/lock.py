"""One run per working directory: an advisory lock held for the whole run."""

from __future__ import annotations

import fcntl
import os
import time

LOCK_FILE = ".lock"


class WorkdirInUse(RuntimeError):
    """Another live process holds the working directory's lock.

    Example:
        >>> import tempfile
        >>> from gendiff.train import WorkdirInUse, WorkdirLock
        >>> issubclass(WorkdirInUse, RuntimeError)
        True
        >>> with tempfile.TemporaryDirectory() as workdir, WorkdirLock(workdir):
        ...     WorkdirLock(workdir).acquire()  # a second run in the same directory
        Traceback (most recent call last):
        gendiff.train.lock.WorkdirInUse: The working directory ... is in use by another run (pid ...
    """


class WorkdirLock:
    """Exclusive ``flock`` on ``workdir/.lock`` (held by process 0 of a run).

    The lock dies with its process, so a killed run never leaves a stale lock behind. The
    file records the holder's pid and start time for the error message of the next
    process that tries.

    Example:
        >>> import tempfile
        >>> workdir = tempfile.mkdtemp()
        >>> with WorkdirLock(workdir):
        ...     try:
        ...         WorkdirLock(workdir).acquire()
        ...     except WorkdirInUse as e:
        ...         print("refused")
        refused
    """

    def __init__(self, workdir: str | os.PathLike):
        self.path = os.path.join(os.path.abspath(workdir), LOCK_FILE)
        self._fd: int | None = None

    def acquire(self) -> "WorkdirLock":
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise WorkdirInUse(
                f"The working directory {os.path.dirname(self.path)} is in use by another run "
                f"({holder}). Two runs in one directory would interleave their checkpoints: "
                "wait for it to finish, stop it, or choose another --workdir."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "WorkdirLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
