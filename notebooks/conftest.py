"""The notebooks run under pytest (nbmake) in quick mode: fewer steps and smaller sizes, the same
cells and checks. Each notebook reads ``GENDIFF_QUICK`` in its first cell; the kernels inherit this
process's environment, the persistent compilation cache included."""

import os

from gendiff._testing import use_persistent_compilation_cache

os.environ.setdefault("GENDIFF_QUICK", "1")
use_persistent_compilation_cache()

# The py:percent twins are the reviewable text of the notebooks, not modules to import.
collect_ignore_glob = ["*.py"]
