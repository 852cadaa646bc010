"""gendiff: generative models in JAX, from divergences and GANs to diffusion, flows and S4.

Subpackages load on first use, so ``import gendiff`` is cheap and ``gendiff.metrics`` does not
pull in Flax or optax::

  pure math      paths, ddpm, ddim, score, sde, samplers, flow_matching, guidance, distill,
                 divergences, gan, vae, ssl, classic, ssm, metrics, attention, distributions,
                 parameterization, sampling
  networks       nets
  training       train
  data           data
  evaluation     eval

Example:
  >>> import gendiff
  >>> gendiff.divergences.kl_divergence(jnp.array([0.3, 0.7]), jnp.array([0.7, 0.3]))
  Array(0.33891..., dtype=float32)
  >>> isinstance(gendiff.__version__, str)
  True
"""

from __future__ import annotations

import importlib
import importlib.metadata

SUBMODULES = (
    "attention",
    "classic",
    "data",
    "ddim",
    "ddpm",
    "distill",
    "distributions",
    "divergences",
    "eval",
    "flow_matching",
    "gan",
    "guidance",
    "metrics",
    "nets",
    "parameterization",
    "paths",
    "samplers",
    "sampling",
    "score",
    "sde",
    "ssl",
    "ssm",
    "train",
    "vae",
)

try:
    __version__ = importlib.metadata.version("gendiff")
except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = ["SUBMODULES", "__version__", *SUBMODULES]


def __getattr__(name: str):
    if name in SUBMODULES:
        module = importlib.import_module(f"gendiff.{name}")
        globals()[name] = module
        return module
    raise AttributeError(
        f"module 'gendiff' has no attribute {name!r}; its subpackages are {', '.join(SUBMODULES)}"
    )


def __dir__() -> list[str]:
    return sorted(__all__)
