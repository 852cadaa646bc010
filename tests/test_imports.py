"""Importing the library and the experiments leaves JAX's backend alone, so that a multi-host run
can still call ``jax.distributed.initialize`` after its imports (a module-level ``jnp`` constant
once made every experiment refuse ``--config.distributed.initialize=True``)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
import importlib, pkgutil
import experiments, gendiff
for package in (gendiff, experiments):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.endswith("conftest"):
            importlib.import_module(module.name)
from jax._src import xla_bridge
assert not xla_bridge._backends, "an import initialised the XLA backend"
print("imported", len(list(pkgutil.walk_packages(gendiff.__path__))), "gendiff modules")
"""


def test_imports_do_not_initialise_the_backend():
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "imported" in proc.stdout
