"""Experiments on 2 processes x 2 devices give the per-step losses of 1 process x 4 devices.

Each configuration runs the experiment's own command line in fresh processes (the device
count and the process group are fixed when JAX starts), the two processes talking over a
localhost coordinator with gloo collectives. Process 1 runs with umask 077, so a file it
created outside the (collectively written) checkpoints would show mode 0o600.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600

RUNS = {
    "ddpm": [
        "--preset=toy2d",
        "--config.num_steps=12",
        "--config.checkpoint_every=6",
        "--config.optim.warmup_steps=2",
        "--config.diffusion.num_diffusion_steps=25",
        "--config.eval.num_samples=256",
        "--config.eval.sample_batch=256",
        "--config.model.hidden=32",
        "--config.model.depth=2",
    ],
    "knowledge_distillation": [
        "--config.num_steps=8",
        "--config.checkpoint_every=8",
        "--config.optim.warmup_steps=2",
        "--config.num_student_seeds=1",
        "--config.student_train_examples=64",
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(module, workdir, devices, *extra, umask=0o022):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    command = [sys.executable, "-m", f"experiments.{module}", f"--workdir={workdir}"]
    command += [*RUNS[module], "--config.log_every=1", "--config.progress=False", *extra]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: os.umask(umask),
    )


def _wait(procs):
    try:
        for proc in procs:
            _, stderr = proc.communicate(timeout=TIMEOUT_S)
            assert proc.returncode == 0, stderr[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _losses(workdir: Path) -> dict[str, list[float]]:
    """Per-step losses of every network the run trained, by its metrics file."""
    out = {}
    for path in sorted(workdir.rglob("metrics.jsonl")):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        steps = [r["step"] for r in records]
        assert steps == sorted(set(steps)), f"{path}: steps logged more than once: {steps}"
        out[str(path.relative_to(workdir))] = [r["loss"] for r in records]
    return out


@pytest.mark.parametrize("module", sorted(RUNS))
def test_two_processes_match_one_process_per_step(module, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _wait([_start(module, one, 4)])
    address = f"localhost:{_free_port()}"
    dist = [
        "--config.distributed.initialize=True",
        f"--config.distributed.coordinator_address={address}",
        "--config.distributed.num_processes=2",
    ]
    _wait(
        [
            _start(module, two, 2, *dist, f"--config.distributed.process_id={i}",
                   umask=0o022 if i == 0 else 0o077)
            for i in range(2)
        ]
    )
    reference, losses = _losses(one), _losses(two)
    assert reference and sorted(losses) == sorted(reference)
    for name, want in reference.items():
        assert len(losses[name]) == len(want) >= 8, name
        assert losses[name] == pytest.approx(want, rel=1e-5), name
    for path in two.rglob("*"):
        if path.is_file() and "checkpoints" not in path.relative_to(two).parts:
            assert path.stat().st_mode & 0o777 == 0o644, f"{path} was written by process 1"
    assert (two / "metrics.json").exists()
