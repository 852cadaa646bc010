"""Training gives the same result on 1 device, 4 devices, and 2 processes x 2 devices.

The device count and the process group are fixed when JAX starts, so each
configuration runs tests/_train_script.py in its own process (all at once, with
timeouts so that a hang fails instead of blocking).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("_train_script.py")
TIMEOUT_S = 300

# Runs of 1, 2 and 4 devices and of 2 processes (about 80 s on a 2-core CPU): .ci/run runs
# them after the default suite.
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(workdir: Path, devices: int, *extra: str, umask: int = 0o022) -> subprocess.Popen:
    """Runs the script; files it creates get mode 0o666 & ~umask, which tells writers apart."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--workdir", str(workdir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: os.umask(umask),
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("distributed")
    address = f"localhost:{_free_port()}"
    procs = {
        "one_device": [_start(root / "one", 1)],
        "four_devices": [_start(root / "four", 4)],
        "two_processes": [
            _start(
                root / "multi",
                2,
                "--coordinator",
                address,
                "--num-processes",
                "2",
                "--process-id",
                str(i),
                umask=0o022 if i == 0 else 0o077,  # process 1's files would be 0o600
            )
            for i in range(2)
        ],
    }
    out: dict = {"workdirs": {"two_processes": str(root / "multi")}}
    try:
        for name, group in procs.items():
            out[name] = []
            for proc in group:
                stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
                assert proc.returncode == 0, f"{name} failed:\n{stderr[-3000:]}"
                out[name].append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for group in procs.values():
            for proc in group:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return out


def test_device_count_invariance(results):
    (one,), (four,) = results["one_device"], results["four_devices"]
    assert (one["devices"], four["devices"]) == (1, 4)
    assert one["step"] == four["step"] == 20
    assert four["loss"] == pytest.approx(one["loss"], rel=1e-5)
    assert four["w1_sum"] == pytest.approx(one["w1_sum"], rel=1e-5)


def test_two_processes_match_single_process(results):
    (one,), pair = results["one_device"], results["two_processes"]
    for result in pair:
        assert (result["processes"], result["devices"], result["step"]) == (2, 4, 20)
        assert result["loss"] == pytest.approx(one["loss"], rel=1e-5)
        assert result["w1_sum"] == pytest.approx(one["w1_sum"], rel=1e-5)
    assert pair[0] == pair[1]


def test_only_process_zero_writes_files(results, tmp_path_factory):
    root = Path(results["workdirs"]["two_processes"])
    records = [json.loads(line) for line in (root / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]  # written once, not once per process
    # Outside the checkpoints (which orbax writes collectively), no file has process 1's mode.
    for path in root.rglob("*"):
        if path.is_file() and "checkpoints" not in path.relative_to(root).parts:
            assert path.stat().st_mode & 0o777 == 0o644, path


def _run(workdir: Path, devices: int, num_steps: int) -> dict:
    proc = _start(workdir, devices, "--num-steps", str(num_steps))
    stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("first, second", [(4, 1), (1, 4)])
def test_resume_on_another_device_count(tmp_path, results, first, second):
    """Checkpointed at step 10 on `first` devices, finished on `second`: the same run."""
    (straight,) = results["one_device"]
    half = _run(tmp_path, first, 10)
    assert (half["step"], half["devices"]) == (10, first)
    resumed = _run(tmp_path, second, 20)
    assert (resumed["step"], resumed["devices"]) == (20, second)
    for field in ("loss", "w1_sum", "ema_sum"):
        assert resumed[field] == pytest.approx(straight[field], rel=1e-6), field
