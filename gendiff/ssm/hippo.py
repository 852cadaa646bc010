"""HiPPO-LegS state matrices (Gu et al. 2020), the initialisation of S4-style SSMs.

The continuous system h'(t) = A h(t) + B u(t) with the LegS matrices keeps h(t) equal to the
coefficients of u's projection onto scaled Legendre polynomials. With the standard signs A is
lower triangular with diagonal -(n + 1), so every eigenvalue is negative and the state decays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def hippo_legs(
    N: int, signed: bool = True, dtype: jnp.dtype = jnp.float32
) -> tuple[jax.Array, jax.Array]:
    """The HiPPO-LegS matrices (A, B) of state size N.

    With ``signed=True`` (the standard convention):
      A[n, k] = -sqrt(2n + 1) sqrt(2k + 1)  for n > k,
      A[n, n] = -(n + 1),
      A[n, k] = 0                           for n < k,
      B[n]    = sqrt(2n + 1).

    ``signed=False`` returns the lecture notes' variant, -A, which has positive eigenvalues
    n + 1: the continuous system then grows without bound. It is kept for comparison only.

    Args:
      N: state size, at least 1.
      signed: use the standard (stable) signs; False gives the notes' unsigned matrix.
      dtype: dtype of the returned arrays.

    Returns:
      A of shape (N, N) and B of shape (N,).

    Example:
      >>> A, B = hippo_legs(2)
      >>> A.tolist(), B.tolist()  # doctest: +ELLIPSIS
      ([[-1.0, 0.0], [-1.73..., -2.0]], [1.0, 1.73...])
    """
    if not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"hippo_legs expects an integer state size N >= 1, got {N!r}")
    root = np.sqrt(2.0 * np.arange(N) + 1.0)  # sqrt(2n + 1)
    A = np.tril(np.outer(root, root), k=-1) + np.diag(np.arange(N) + 1.0)
    sign = -1.0 if signed else 1.0
    A = sign * A + 0.0  # + 0.0 turns the -0.0 entries above the diagonal into 0.0
    return jnp.asarray(A, dtype=dtype), jnp.asarray(root, dtype=dtype)
