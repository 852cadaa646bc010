"""Discretisation of the continuous SSM h'(t) = A h(t) + B u(t) with step size delta.

Each method gives (Abar, Bbar) for the recurrence h_k = Abar h_{k-1} + Bbar u_k.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import expm

DISCRETIZATIONS = ("zoh", "bilinear", "euler")


def discretize(
    A: jax.Array, B: jax.Array, delta: float | jax.Array, method: str = "bilinear"
) -> tuple[jax.Array, jax.Array]:
    """Discretises (A, B) with step ``delta``.

    - ``'zoh'`` (zero-order hold, u constant over the step; exact for such inputs):
      Abar = expm(delta A), Bbar = A^{-1} (expm(delta A) - I) B. Bbar is read off the
      exponential of the block matrix delta [[A, B], [0, 0]] (Van Loan), which equals the
      formula for invertible A and stays defined when A is singular.
    - ``'bilinear'`` (Tustin / trapezoid rule, used by S4):
      Abar = (I - delta/2 A)^{-1} (I + delta/2 A), Bbar = (I - delta/2 A)^{-1} delta B.
    - ``'euler'`` (forward Euler, the lecture notes' version): Abar = I + delta A, Bbar = delta B.

    Args:
      A: state matrix of shape (N, N).
      B: input matrix of shape (N,) or (N, M).
      delta: positive scalar step size.
      method: one of 'zoh', 'bilinear', 'euler'.

    Returns:
      (Abar, Bbar) with the shapes of A and B.

    Example:
      >>> Abar, Bbar = discretize(-jnp.eye(1), jnp.ones(1), 0.5, "euler")
      >>> Abar.tolist(), Bbar.tolist()
      ([[0.5]], [0.5])
    """
    if method not in DISCRETIZATIONS:
        raise ValueError(f"unknown discretization {method!r}; expected one of {DISCRETIZATIONS}")
    A = jnp.asarray(A)
    B = jnp.asarray(B)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square (N, N) matrix, got shape {A.shape}")
    if B.ndim not in (1, 2) or B.shape[0] != A.shape[0]:
        raise ValueError(f"B must have shape (N,) or (N, M) with N = {A.shape[0]}, got {B.shape}")
    N = A.shape[0]
    eye = jnp.eye(N, dtype=A.dtype)
    B2 = B.reshape(N, -1)
    if method == "zoh":
        # expm(delta [[A, B], [0, 0]]) = [[expm(delta A), A^{-1}(expm(delta A) - I) B], [0, I]]
        M = B2.shape[1]
        top = jnp.concatenate([A, B2], axis=1)
        block = jnp.concatenate([top, jnp.zeros((M, N + M), A.dtype)], axis=0)
        E = expm(delta * block)
        Abar, Bbar = E[:N, :N], E[:N, N:]
    elif method == "bilinear":
        left = eye - (delta / 2.0) * A  # I - delta/2 A
        Abar = jnp.linalg.solve(left, eye + (delta / 2.0) * A)
        Bbar = jnp.linalg.solve(left, delta * B2)
    else:
        Abar = eye + delta * A
        Bbar = delta * B2
    return Abar, Bbar.reshape(B.shape)
