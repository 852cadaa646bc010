"""Tests of the NPLR HiPPO-LegS and the Cauchy/Woodbury kernel against the dense computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.ssm import causal_conv, discretize, hippo_legs, kernel_naive, scan_ssm
from gendiff.ssm.dplr import kernel_dplr, nplr_legs


def _rel_err(actual, expected):
    """max |actual - expected| / max |expected|."""
    expected = np.asarray(expected)
    return float(np.max(np.abs(np.asarray(actual) - expected)) / np.max(np.abs(expected)))


@pytest.mark.parametrize("N", [1, 8, 64])
def test_nplr_reconstructs_hippo_legs(N):
    Lambda, P, Q, B, V = nplr_legs(N)
    A, B_legs = hippo_legs(N)
    V = np.asarray(V, np.complex128)
    np.testing.assert_allclose(V.conj().T @ V, np.eye(N), atol=1e-5)  # V unitary
    np.testing.assert_allclose(np.real(Lambda), -0.5, rtol=1e-6)  # Lambda = -1/2 + i omega
    A_rec = V @ (np.diag(Lambda) - np.outer(P, np.conj(Q))) @ V.conj().T
    assert _rel_err(A_rec, A) < 1e-4  # measured 4e-7 at N = 64
    assert np.max(np.abs(A_rec.imag)) < 1e-4
    assert _rel_err(V @ np.asarray(B), B_legs) < 1e-4  # B~ = V* B


def _legs_kernels(N, L, step):
    """(DPLR kernel, dense kernel_naive) of HiPPO-LegS with a random C, in the current precision."""
    real = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    C = jnp.asarray(np.random.default_rng(N + L).standard_normal(N), real)
    Lambda, P, Q, B, V = nplr_legs(N, jnp.complex128 if real == jnp.float64 else jnp.complex64)
    K = kernel_dplr(Lambda, P, Q, B, C @ V, step, L)  # C in the eigenbasis: C V
    Abar, Bbar = discretize(*hippo_legs(N, dtype=real), step, "bilinear")
    return K, kernel_naive(Abar, Bbar, C, L)


# Odd and even L (even L puts the root of unity z = -1 on the grid).
@pytest.mark.parametrize(
    "N, L, step", [(8, 16, 0.1), (16, 63, 0.01), (32, 100, 0.1), (64, 256, 0.01)]
)
def test_kernel_dplr_matches_dense_kernel_float32(N, L, step):
    K, K_dense = _legs_kernels(N, L, step)
    assert K.dtype == jnp.complex64
    assert _rel_err(K.real, K_dense) < 1e-4  # measured <= 5e-6
    assert np.max(np.abs(K.imag)) < 1e-4 * np.max(np.abs(K_dense))  # real system, real kernel


@pytest.mark.parametrize("N, L", [(8, 17), (64, 256)])
def test_kernel_dplr_matches_dense_kernel_float64(N, L):
    with jax.enable_x64(True):
        K, K_dense = _legs_kernels(N, L, 0.1)
        assert K.dtype == jnp.complex128
        assert _rel_err(K.real, K_dense) < 1e-12  # measured <= 3e-14


def test_kernel_dplr_rank_two_complex_system():
    # A generic complex DPLR matrix of rank-2 correction: the Woodbury step with a 2 x 2 solve.
    N, r, L, step = 6, 2, 21, 0.3
    rng = np.random.default_rng(0)
    cplx = lambda *shape: rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    Lambda = -np.exp(rng.standard_normal(N)) + 3j * rng.standard_normal(N)
    P, Q = 0.5 * cplx(r, N), 0.5 * cplx(r, N)
    B, C = cplx(N), cplx(N)
    with jax.enable_x64(True):
        K = kernel_dplr(Lambda, P, Q, B, C, step, L)
        A = np.diag(Lambda) - P.T @ Q.conj()  # diag(Lambda) - sum_j P_j Q_j^*
        Abar, Bbar = discretize(jnp.asarray(A), jnp.asarray(B), step, "bilinear")
        K_dense = kernel_naive(Abar, Bbar, jnp.asarray(C), L)
    assert _rel_err(K, K_dense) < 1e-12


def test_recurrent_equals_convolutional_with_dplr_kernel():
    N, L, step = 16, 128, 0.05
    rng = np.random.default_rng(3)
    C = jnp.asarray(rng.standard_normal(N), jnp.float32)
    u = jnp.asarray(rng.standard_normal(L), jnp.float32)
    Lambda, P, Q, B, V = nplr_legs(N)
    K = kernel_dplr(Lambda, P, Q, B, C @ V, step, L).real
    Abar, Bbar = discretize(*hippo_legs(N), step, "bilinear")
    y_rec = scan_ssm(Abar, Bbar, C, u)
    y_conv = causal_conv(u, K)
    assert _rel_err(y_conv, y_rec) < 1e-5


def test_kernel_dplr_rejects_bad_shapes():
    Lambda, P, Q, B, V = nplr_legs(4)
    with pytest.raises(ValueError, match=r"\(N,\) or \(r, N\)"):
        kernel_dplr(Lambda, P[:3], Q, B, B, 0.1, 8)
    with pytest.raises(ValueError, match="shape \\(N,\\)"):
        kernel_dplr(Lambda, P, Q, B[:3], B, 0.1, 8)
    with pytest.raises(ValueError, match="positive integer"):
        kernel_dplr(Lambda, P, Q, B, B, 0.1, 0)
