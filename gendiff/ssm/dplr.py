"""S4's normal-plus-low-rank (NPLR) HiPPO-LegS and its convolution kernel (Gu et al. 2022).

HiPPO-LegS is not normal, but adding a rank-one term makes it so. With P_n = sqrt(n + 1/2),
  A + P P^T = -1/2 I + S,   S skew-symmetric (S[n, k] = -S[k, n] = -P_n P_k for n > k),
and S = V diag(i omega) V* with V unitary, so
  A = V (Lambda - P~ Q~*) V*,   Lambda = -1/2 + i omega,   P~ = Q~ = V* P.

In this eigenbasis the length-L kernel K_l = C Abar^l Bbar of the bilinear discretisation is
read off its generating function at the L-th roots of unity z_k = exp(-2 pi i k / L):
  K^(z) = sum_{l < L} K_l z^l = C~ (I - Abar z)^{-1} Bbar,   C~ = C (I - Abar^L)   (z^L = 1),
which is the DFT of K, so K = IFFT(K^(z_k)). With A = Lambda - P Q* and s = step/2 (1 + z),
  (I - Abar z)^{-1} Bbar = step (D(z)^{-1} + s P Q*)^{-1} B,   D(z) = diag(1 / ((1 - z) - s Lambda)),
and the Woodbury identity reduces the inverse to the diagonal D(z) and an r x r solve:
  K^(z) = step [C~ D B - s C~ D P (I + s Q* D P)^{-1} Q* D B].
Every product x D y = sum_n x_n y_n / ((1 - z) - s Lambda_n) is a Cauchy kernel
(s^{-1} sum_n x_n y_n / (g - Lambda_n) with g = 2/step (1 - z)/(1 + z)); written with s in the
numerator it stays finite at z = -1, a root of unity for even L.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.ssm.discretize import discretize
from gendiff.ssm.hippo import hippo_legs


def nplr_legs(
    N: int, dtype: jnp.dtype = jnp.complex64
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """The NPLR form A = V (diag(Lambda) - P Q*) V* of HiPPO-LegS, and B in the same basis.

    The decomposition is computed in float64 from :func:`gendiff.ssm.hippo_legs`.

    Args:
      N: state size, at least 1.
      dtype: complex dtype of the returned arrays.

    Returns:
      (Lambda, P, Q, B, V): Lambda (N,) with real parts -1/2; P = Q = V* sqrt(n + 1/2) of
      shape (N,) (rank one); B = V* B_legs (N,); V (N, N) unitary.

    Example:
      >>> Lambda, P, Q, B, V = nplr_legs(4)
      >>> A = V @ (jnp.diag(Lambda) - jnp.outer(P, Q.conj())) @ V.conj().T
      >>> bool(jnp.allclose(A.real, hippo_legs(4)[0], atol=1e-5))
      True
    """
    with jax.enable_x64(True), jax.ensure_compile_time_eval():  # concrete even under jit
        A, B = (np.asarray(x) for x in hippo_legs(N, dtype=jnp.float64))
    P = np.sqrt(np.arange(N) + 0.5)  # A + P P^T = -1/2 I + S
    S = A + np.outer(P, P) + 0.5 * np.eye(N)
    S = 0.5 * (S - S.T)  # exactly skew-symmetric (removes rounding in the sum above)
    omega, V = np.linalg.eigh(-1j * S)  # -i S is Hermitian: -i S = V diag(omega) V*
    Lambda = -0.5 + 1j * omega  # V diag(Lambda) V* = -1/2 I + S
    Vh = V.conj().T
    P_t, B_t = Vh @ P, Vh @ B  # P~ = V* P, B~ = V* B
    return tuple(jnp.asarray(x, dtype) for x in (Lambda, P_t, P_t, B_t, V))


@functools.partial(jax.jit, static_argnames="L")
def kernel_dplr(
    Lambda: jax.Array,
    P: jax.Array,
    Q: jax.Array,
    B: jax.Array,
    C: jax.Array,
    step: float | jax.Array,
    L: int,
) -> jax.Array:
    """K_l = C Abar^l Bbar, l < L, for A = diag(Lambda) - P Q* discretised bilinearly.

    Evaluates the generating function at the L-th roots of unity with Cauchy kernels and the
    Woodbury identity (module docstring), then takes the inverse FFT. C~ = C (I - Abar^L) is
    formed once from the dense Abar (O(N^3 log L)); S4 learns C~ directly instead.

    All vectors are in the basis where the normal part is diagonal: for A = V (...) V* pass
    V* B and C V. The kernel is complex; it is real up to rounding when the system in the
    original basis is real.

    Args:
      Lambda: (N,) diagonal of the normal part (real parts should be negative).
      P: (N,) or (r, N) low-rank factor(s).
      Q: P's shape; A = diag(Lambda) - sum_j P[j] Q[j]^*.
      B: (N,) input vector.
      C: (N,) output vector.
      step: positive step size of the bilinear discretisation.
      L: kernel length.

    Returns:
      K of shape (L,), complex.

    Example:
      >>> Lambda, P, Q, B, V = nplr_legs(4)
      >>> C = jnp.ones(4) @ V  # C = (1, 1, 1, 1) in the original basis
      >>> K = kernel_dplr(Lambda, P, Q, B, C, 0.1, 8)
      >>> K.shape
      (8,)
    """
    Lambda, P, Q, B, C = (jnp.asarray(x) for x in (Lambda, P, Q, B, C))
    N = Lambda.shape[0]
    if Lambda.ndim != 1 or B.shape != (N,) or C.shape != (N,):
        raise ValueError(
            f"Lambda, B and C must have shape (N,), got {Lambda.shape}, {B.shape}, {C.shape}"
        )
    P, Q = (x.reshape(1, -1) if x.ndim == 1 else x for x in (P, Q))
    if P.ndim != 2 or P.shape[1] != N or Q.shape != P.shape:
        raise ValueError(f"P and Q must have shape (N,) or (r, N) with N = {N}, got {P.shape}")
    if not isinstance(L, (int, np.integer)) or L < 1:
        raise ValueError(f"kernel length L must be a positive integer, got {L!r}")
    dtype = jnp.result_type(Lambda, P, Q, B, C, jnp.complex64)
    Lambda, P, Q, B, C = (x.astype(dtype) for x in (Lambda, P, Q, B, C))
    r = P.shape[0]
    # C~ = C (I - Abar^L) from the dense Abar of A = diag(Lambda) - P^T conj(Q).
    A = jnp.diag(Lambda) - P.T @ Q.conj()
    Abar, _ = discretize(A, B, step, "bilinear")
    C_t = C - C @ jnp.linalg.matrix_power(Abar, L)
    z = jnp.exp(-2j * jnp.pi * jnp.arange(L) / L).astype(dtype)  # roots of unity z_k
    s = (step / 2.0) * (1.0 + z)  # (L,)
    den = (1.0 - z)[:, None] - s[:, None] * Lambda  # (L, N): diagonal of D(z)^{-1}
    left = jnp.concatenate([C_t[None], Q.conj()], axis=0)  # rows C~, Q*_j      (1 + r, N)
    right = jnp.concatenate([B[None], P], axis=0)  # rows B, P_j                 (1 + r, N)
    M = jnp.einsum("an,bn,kn->kab", left, right, 1.0 / den)  # Cauchy kernels x D(z) y
    k00, k01, k10, k11 = M[:, 0, 0], M[:, 0, 1:], M[:, 1:, 0], M[:, 1:, 1:]
    inner = jnp.eye(r, dtype=dtype) + s[:, None, None] * k11  # I + s Q* D P   (L, r, r)
    correction = jnp.einsum("kj,kj->k", k01, jnp.linalg.solve(inner, k10[..., None])[..., 0])
    K_hat = step * (k00 - s * correction)  # K^(z_k)
    return jnp.fft.ifft(K_hat)  # K^(z_k) = sum_l K_l z_k^l is the DFT of K
