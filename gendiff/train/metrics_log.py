"""Training metrics as JSON lines: one object per logged step."""

import json
import os
from typing import Any


def append_metrics(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Appends one JSON object (a line) to ``path``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
        >>> append_metrics(path, {"step": 1, "loss": 0.5})
        >>> read_metrics(path)
        [{'step': 1, 'loss': 0.5}]
    """
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads a metrics file, one record per step sorted by step.

    A run resumed from a checkpoint repeats the steps logged after that
    checkpoint; the later record of a repeated step wins.

    Args:
        path: a file written by :func:`append_metrics` (records need a ``"step"``).

    Returns:
        The records, or ``[]`` if the file does not exist.

    Example:
        >>> import os, tempfile
        >>> from gendiff.train import append_metrics, read_metrics
        >>> workdir = tempfile.mkdtemp()
        >>> path = os.path.join(workdir, "metrics.jsonl")
        >>> for record in ({"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.5}, {"step": 2, "loss": 0.4}):
        ...     append_metrics(path, record)  # step 2 logged again after a resume
        >>> read_metrics(path)
        [{'step': 1, 'loss': 0.9}, {'step': 2, 'loss': 0.4}]
        >>> read_metrics(os.path.join(workdir, "missing.jsonl"))
        []
    """
    if not os.path.exists(path):
        return []
    by_step = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                by_step[record["step"]] = record
    return [by_step[step] for step in sorted(by_step)]
