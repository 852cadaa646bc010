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
# Statements run in a fresh interpreter, then the heavy packages it may hold. The light ones
# share one interpreter (what they import together is what each imports, unioned); when it
# fails, each runs alone to name the culprit.
LIGHT = [f"import {name}" for name in LIGHT_MODULES] + [
    # The scorer and the writer need no network library; the PNG writers load matplotlib
    # only to draw.
    "from gendiff.eval import NUM_SAMPLES, SampleScorer, save_image_grid, write_json",
]
CASES = [
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


def _failure(statement, allowed=()):
    """None, or what importing ``statement`` in a fresh interpreter did wrong."""
    script = CHECK.format(statement=statement, heavy=HEAVY, allowed=allowed)
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        return f"{statement!r} failed:\n{out.stderr[-2000:]}"
    if out.stdout.strip():
        return f"{statement!r} imported {out.stdout.strip()}"
    return None


def test_imports_pull_in_no_heavy_packages():
    failures = []
    if _failure("\n".join(LIGHT)):
        failures += [f for f in map(_failure, LIGHT) if f] or ["the light imports together"]
    failures += [f for f in (_failure(*case) for case in CASES) if f]
    assert not failures, "\n".join(failures)
