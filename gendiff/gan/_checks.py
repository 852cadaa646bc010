"""Input checks shared by the GAN losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def as_outputs(name: str, x) -> jax.Array:
    """`x` as a floating array with a batch axis."""
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{name} must have a batch axis, shape (batch, ...), got a scalar.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def check_pair(real, fake) -> tuple[jax.Array, jax.Array]:
    """Checks that real and fake discriminator outputs differ only in their batch size."""
    real, fake = as_outputs("real_outputs", real), as_outputs("fake_outputs", fake)
    if np.shape(real)[1:] != np.shape(fake)[1:]:
        raise ValueError(
            "real_outputs and fake_outputs must have the same shape after the batch axis, got "
            f"real {np.shape(real)} and fake {np.shape(fake)}."
        )
    return real, fake
