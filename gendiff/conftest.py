"""The names every docstring example may use without importing them: ``jax``, ``jnp``, ``np``,
a PRNG ``key``, and a toy noise-prediction ``model_fn(x_t, t, **cond)``.

``pytest`` runs the examples of every module (``--doctest-modules``, see pyproject.toml), with the
persistent compilation cache of the unit tests.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff._testing import use_persistent_compilation_cache

use_persistent_compilation_cache()


def _toy_model_fn(x_t, t, **cond):
    """A fixed noise prediction, eps_hat = x_t / 2: any function of (x_t, t) serves an example."""
    del t, cond
    return 0.5 * x_t


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(jax=jax, jnp=jnp, np=np, key=jax.random.key(0), model_fn=_toy_model_fn)
