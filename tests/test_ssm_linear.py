"""Tests of the linear SSM pieces: HiPPO-LegS, discretisation, kernels and both SSM views."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.ssm import (
    causal_conv,
    discretize,
    hippo_legs,
    kernel_naive,
    kernel_vandermonde,
    scan_ssm,
)


def test_hippo_legs_values_n3():
    A, B = hippo_legs(3)
    s3, s5, s15 = np.sqrt(3.0), np.sqrt(5.0), np.sqrt(15.0)
    expected = -np.array([[1.0, 0.0, 0.0], [s3, 2.0, 0.0], [s5, s15, 3.0]])
    np.testing.assert_allclose(A, expected, rtol=1e-6)
    np.testing.assert_allclose(B, [1.0, s3, s5], rtol=1e-6)
    A_unsigned, B_unsigned = hippo_legs(3, signed=False)
    np.testing.assert_allclose(A_unsigned, -expected, rtol=1e-6)
    np.testing.assert_allclose(B_unsigned, B, rtol=1e-6)


def test_hippo_legs_rejects_bad_size():
    with pytest.raises(ValueError, match="N >= 1"):
        hippo_legs(0)


def test_hippo_legs_eigenvalue_signs():
    eig_signed = np.linalg.eigvals(np.asarray(hippo_legs(8)[0], np.float64))
    eig_unsigned = np.linalg.eigvals(np.asarray(hippo_legs(8, signed=False)[0], np.float64))
    assert np.all(eig_signed.real < 0)
    assert np.all(eig_unsigned.real > 0)
    np.testing.assert_allclose(np.sort(eig_signed.real), -np.arange(8, 0, -1), rtol=1e-5)


def test_hippo_legs_unsigned_state_blows_up_signed_stays_bounded():
    N, delta, steps = 4, 0.1, 400
    u = jnp.ones(steps)

    def state_norms(signed):
        Abar, Bbar = discretize(*hippo_legs(N, signed=signed), delta, "bilinear")

        def step(h, u_k):
            h = Abar @ h + Bbar * u_k
            return h, jnp.linalg.norm(h)

        return np.asarray(jax.lax.scan(step, jnp.zeros(N), u)[1])

    signed, unsigned = state_norms(True), state_norms(False)
    # Signed: the state converges to the fixed point -A^{-1} B u, so late norms stop changing.
    assert np.all(np.isfinite(signed)) and signed.max() < 10.0
    np.testing.assert_allclose(signed[-1], signed[-50], rtol=1e-4)
    # Unsigned: the top eigenvalue of Abar is (1 + 0.2)/(1 - 0.2) = 1.5 > 1, geometric growth.
    assert unsigned[100] > 1e6 * unsigned[10]
    assert not np.all(np.isfinite(unsigned)) or unsigned[-1] > 1e30


def test_discretize_zoh_is_exact_for_diagonal_a_and_constant_input():
    a = jnp.array([-0.5, -1.0, -3.0])
    b = jnp.array([1.0, 2.0, -1.0])
    h0 = jnp.array([0.3, -0.2, 1.0])
    u, delta = 0.7, 0.25
    Abar, Bbar = discretize(jnp.diag(a), b, delta, "zoh")
    # h(delta) = e^{a delta} h0 + (e^{a delta} - 1)/a b u solves h' = a h + b u, u constant.
    exact = jnp.exp(a * delta) * h0 + (jnp.exp(a * delta) - 1.0) / a * b * u
    np.testing.assert_allclose(Abar @ h0 + Bbar * u, exact, rtol=1e-5)
    # Also matches the textbook formula A^{-1}(expm(delta A) - I) B for a full matrix.
    A, B = hippo_legs(4)
    Abar, Bbar = discretize(A, B, delta, "zoh")
    formula = jnp.linalg.solve(A, (jax.scipy.linalg.expm(delta * A) - jnp.eye(4)) @ B)
    np.testing.assert_allclose(Bbar, formula, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method, order", [("bilinear", 3), ("euler", 2)])
def test_discretize_local_error_order_against_zoh(method, order):
    A, B = hippo_legs(3)
    h = jnp.array([0.5, -1.0, 0.25])

    def one_step_error(delta):
        Ab, Bb = discretize(A, B, delta, method)
        Az, Bz = discretize(A, B, delta, "zoh")
        return float(jnp.linalg.norm((Ab - Az) @ h + (Bb - Bz) * 1.0))

    errs = np.array([one_step_error(d) for d in (0.04, 0.02, 0.01)])
    ratios = errs[:-1] / errs[1:]  # halving delta divides a O(delta^p) error by 2^p
    np.testing.assert_allclose(ratios, 2.0**order, rtol=0.15)


def test_discretize_bilinear_matches_formula_and_rejects_unknown():
    A, B = hippo_legs(3)
    Abar, Bbar = discretize(A, B, 0.1, "bilinear")
    eye, A64 = np.eye(3), np.asarray(A, np.float64)
    inv = np.linalg.inv(eye - 0.05 * A64)
    np.testing.assert_allclose(Abar, inv @ (eye + 0.05 * A64), rtol=1e-5)
    np.testing.assert_allclose(Bbar, inv @ (0.1 * np.asarray(B, np.float64)), rtol=1e-5)
    with pytest.raises(ValueError, match="zoh"):
        discretize(A, B, 0.1, "rk4")
    with pytest.raises(ValueError, match="B must have shape"):
        discretize(A, jnp.ones(4), 0.1, "zoh")


def _random_stable_ssm(key, N):
    k1, k2, k3 = jax.random.split(key, 3)
    M = jax.random.normal(k1, (N, N)) / np.sqrt(N)
    A = M - (jnp.max(jnp.abs(jnp.linalg.eigvals(M))) + 0.5) * jnp.eye(N)  # spectrum in Re < 0
    return A, jax.random.normal(k2, (N,)), jax.random.normal(k3, (N,))


@pytest.mark.parametrize("source", ["random", "hippo"])
def test_recurrent_equals_convolution(source):
    N, L = 8, 200
    key_ssm, key_u = jax.random.split(jax.random.PRNGKey(0))
    if source == "random":
        A, B, C = _random_stable_ssm(key_ssm, N)
    else:
        A, B = hippo_legs(N)
        C = jax.random.normal(key_ssm, (N,))
    Abar, Bbar = discretize(A, B, 0.05, "bilinear")
    u = jax.random.normal(key_u, (L,))
    y_rec = scan_ssm(Abar, Bbar, C, u)
    y_conv = causal_conv(u, kernel_naive(Abar, Bbar, C, L))
    scale = float(jnp.max(jnp.abs(y_rec)))
    np.testing.assert_allclose(y_conv, y_rec, atol=1e-5 * scale, rtol=1e-5)


def test_causal_conv_matches_direct_sum_per_channel():
    L, d = 9, 3
    u = jax.random.normal(jax.random.PRNGKey(1), (L, d))
    K = jax.random.normal(jax.random.PRNGKey(2), (L, d))
    un, Kn = np.asarray(u, np.float64), np.asarray(K, np.float64)
    direct = np.array(
        [[sum(Kn[j, c] * un[k - j, c] for j in range(k + 1)) for c in range(d)] for k in range(L)]
    )
    np.testing.assert_allclose(causal_conv(u, K), direct, atol=1e-5)
    np.testing.assert_allclose(
        causal_conv(u, K[:, 0]), causal_conv(u, jnp.tile(K[:, :1], (1, d))), atol=1e-6
    )


def test_vandermonde_equals_naive_for_diagonal_complex_abar():
    N, L = 6, 40
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(3), 4)
    radius = jax.random.uniform(k1, (N,), minval=0.5, maxval=0.98)
    angle = jax.random.uniform(k2, (N,), minval=-np.pi, maxval=np.pi)
    Lambda_bar = radius * jnp.exp(1j * angle)
    Bbar = jax.random.normal(k3, (N,)) + 0j
    C = jax.random.normal(k4, (N,)) + 1j * jax.random.normal(k1, (N,))
    K_naive = kernel_naive(jnp.diag(Lambda_bar), Bbar, C, L)
    K_vand = kernel_vandermonde(Lambda_bar, Bbar, C, L)
    np.testing.assert_allclose(K_vand, K_naive, atol=1e-5)
    # Complex kernel, complex recurrence: both views still agree.
    u = jax.random.normal(k2, (L,))
    np.testing.assert_allclose(
        causal_conv(u, K_vand), scan_ssm(jnp.diag(Lambda_bar), Bbar, C, u), atol=1e-5
    )


def test_worked_example_y2():
    A, B, C = _random_stable_ssm(jax.random.PRNGKey(4), 3)
    Abar, Bbar = discretize(A, B, 0.1, "zoh")
    u = jnp.array([0.7, -1.3, 2.0])
    # y_2 = C (Abar^2 Bbar u_0 + Abar Bbar u_1 + Bbar u_2)
    y2 = C @ (Abar @ Abar @ Bbar * u[0] + Abar @ Bbar * u[1] + Bbar * u[2])
    np.testing.assert_allclose(scan_ssm(Abar, Bbar, C, u)[2], y2, rtol=1e-5)
    np.testing.assert_allclose(causal_conv(u, kernel_naive(Abar, Bbar, C, 3))[2], y2, rtol=1e-5)
