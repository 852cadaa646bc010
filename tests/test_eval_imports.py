"""The math layer imports no Flax, optax, orbax, matplotlib, TFDS or grain (each module checked
in a fresh interpreter), and gendiff.eval loads its heavy parts only when they are used."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("flax", "optax", "orbax", "matplotlib", "tensorflow", "tensorflow_datasets", "grain")
LIGHT_MODULES = (
    "gendiff",
    "gendiff.metrics",
    "gendiff.samplers",
    "gendiff.sde",
    "gendiff.ddpm",
    "gendiff.ddim",
    "gendiff.ssm",
)
# Statements run in a fresh interpreter, then the heavy packages it may hold.
CASES = [(f"import {name}", ()) for name in LIGHT_MODULES] + [
    # The scorer and the writer need no network library; the PNG writers load matplotlib
    # only to draw.
    (
        "from gendiff.eval import NUM_SAMPLES, SampleScorer, save_image_grid, write_json",
        (),
    ),
    # The feature classifier is a Flax network trained through gendiff.train (orbax), but
    # draws no PNG.
    ("from gendiff.eval import load_or_train", ("flax", "optax", "orbax")),
]

CHECK = """
import sys
{statement}
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}) - set({allowed!r}))
print(",".join(heavy))
"""


def test_imports_pull_in_no_heavy_packages():
    failures = []
    env = {**os.environ, "PYTHONPATH": ROOT}
    for statement, allowed in CASES:
        script = CHECK.format(statement=statement, heavy=HEAVY, allowed=allowed)
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if out.returncode != 0:
            failures.append(f"{statement!r} failed:\n{out.stderr[-2000:]}")
        elif out.stdout.strip():
            failures.append(f"{statement!r} imported {out.stdout.strip()}")
    assert not failures, "\n".join(failures)
