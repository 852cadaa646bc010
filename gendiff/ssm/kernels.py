"""The two views of a discrete linear SSM: recurrence and convolution.

The recurrence h_k = Abar h_{k-1} + Bbar u_k, y_k = C h_k with h_{-1} = 0 unrolls to
y_k = sum_{j <= k} C Abar^j Bbar u_{k-j}, i.e. a causal convolution of u with the kernel
K = (C Bbar, C Abar Bbar, ..., C Abar^{L-1} Bbar). For example
y_2 = C (Abar^2 Bbar u_0 + Abar Bbar u_1 + Bbar u_2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def kernel_naive(Abar: jax.Array, Bbar: jax.Array, C: jax.Array, L: int) -> jax.Array:
    """K_l = C Abar^l Bbar for l = 0..L-1, by scanning x_l = Abar^l Bbar.

    Args:
      Abar: discrete state matrix (N, N).
      Bbar: discrete input vector (N,).
      C: output vector (N,).
      L: kernel length.

    Returns:
      K of shape (L,).

    Example:
      >>> kernel_naive(0.5 * jnp.eye(1), jnp.ones(1), jnp.ones(1), 3).tolist()
      [1.0, 0.5, 0.25]
    """

    def step(x, _):
        return Abar @ x, C @ x  # x_{l+1} = Abar x_l, K_l = C x_l

    _, K = jax.lax.scan(step, Bbar, None, length=L)
    return K


def kernel_vandermonde(Lambda_bar: jax.Array, Bbar: jax.Array, C: jax.Array, L: int) -> jax.Array:
    """K_l = sum_n C_n Bbar_n Lambda_bar_n^l for a diagonal Abar = diag(Lambda_bar).

    This is the product of the vector C * Bbar with the Vandermonde matrix V[n, l] =
    Lambda_bar_n^l. With complex Lambda_bar the kernel is complex; for a real system written in
    conjugate pairs, keep one of each pair and take 2 Re K.

    Args:
      Lambda_bar: diagonal of Abar, shape (N,), real or complex.
      Bbar: shape (N,).
      C: shape (N,).
      L: kernel length.

    Returns:
      K of shape (L,).

    Example:
      >>> kernel_vandermonde(jnp.array([0.5]), jnp.ones(1), jnp.ones(1), 3).tolist()
      [1.0, 0.5, 0.25]
    """
    V = Lambda_bar[:, None] ** jnp.arange(L)[None, :]  # V[n, l] = Lambda_n^l
    return (C * Bbar) @ V


def scan_ssm(Abar: jax.Array, Bbar: jax.Array, C: jax.Array, u: jax.Array) -> jax.Array:
    """Recurrent mode: h_k = Abar h_{k-1} + Bbar u_k, y_k = C h_k, h_{-1} = 0.

    Args:
      Abar: (N, N).
      Bbar: (N,).
      C: (N,).
      u: input sequence (L,).

    Returns:
      y of shape (L,).

    Example:
      >>> scan_ssm(0.5 * jnp.eye(1), jnp.ones(1), jnp.ones(1), jnp.ones(3)).tolist()
      [1.0, 1.5, 1.75]
    """

    def step(h, u_k):
        h = Abar @ h + Bbar * u_k
        return h, C @ h

    h0 = jnp.zeros(Abar.shape[0], jnp.result_type(Abar, Bbar, u))
    _, y = jax.lax.scan(step, h0, u)
    return y


def causal_conv(u: jax.Array, K: jax.Array) -> jax.Array:
    """y_k = sum_{j <= k} K_j u_{k-j} along the first (length) axis, via FFT.

    Both sequences are zero-padded to 2L so that the circular FFT convolution equals the
    linear one on the first L outputs.

    Args:
      u: input of shape (L,) or (L, d) (channels last).
      K: kernel of shape (L,) (shared by all channels) or of u's shape (one per channel).

    Returns:
      y with u's shape (real if u and K are real).

    Example:
      >>> y = causal_conv(jnp.ones(3), jnp.array([1.0, 0.5, 0.25]))
      >>> [round(float(v), 4) for v in y]
      [1.0, 1.5, 1.75]
    """
    L = u.shape[0]
    if K.shape[0] != L:
        raise ValueError(f"K must have length L = {L} on its first axis, got shape {K.shape}")
    K = K.reshape(K.shape + (1,) * (u.ndim - K.ndim))
    if jnp.iscomplexobj(u) or jnp.iscomplexobj(K):
        y = jnp.fft.ifft(jnp.fft.fft(u, 2 * L, axis=0) * jnp.fft.fft(K, 2 * L, axis=0), axis=0)
    else:
        y = jnp.fft.irfft(
            jnp.fft.rfft(u, 2 * L, axis=0) * jnp.fft.rfft(K, 2 * L, axis=0), 2 * L, axis=0
        )
    return y[:L]
