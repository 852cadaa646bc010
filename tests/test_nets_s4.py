"""gendiff.nets.s4: convolution mode equals the recurrence, ZOH closed form, causality."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.nets.s4 import S4DConv, S4DLayer, S4DPLRConv, S4Model, diagonal_system
from gendiff.ssm import discretize, scan_ssm


@pytest.mark.parametrize(
    "lambda_init, discretization", [("lin", "zoh"), ("lin", "bilinear"), ("real", "zoh")]
)
def test_convolution_equals_recurrence(lambda_init, discretization):
    H, L, N = 3, 20, 4
    layer = S4DLayer(d_state=N, lambda_init=lambda_init, discretization=discretization)
    u = jax.random.normal(jax.random.key(0), (2, L, H))
    params = layer.init(jax.random.key(1), u)
    params["params"]["ssm"]["D"] = jnp.array([0.5, -1.0, 2.0])
    p = dict(params["params"]["ssm"])
    D = p.pop("D")
    y_conv = S4DConv(N, lambda_init, discretization).apply({"params": params["params"]["ssm"]}, u)

    Lam_bar, Bbar, C = diagonal_system(**p, discretization=discretization)
    is_complex = lambda_init == "lin"
    assert jnp.iscomplexobj(Lam_bar) == is_complex
    y_rec = np.zeros((2, L, H))
    for b in range(2):
        for h in range(H):
            y = scan_ssm(jnp.diag(Lam_bar[h]), Bbar[h], C[h], u[b, :, h].astype(Lam_bar.dtype))
            y = 2.0 * y.real if is_complex else y
            y_rec[b, :, h] = np.asarray(y) + D[h] * np.asarray(u[b, :, h])
    np.testing.assert_allclose(y_conv, y_rec, atol=1e-5)


def test_dplr_convolution_equals_dense_recurrence():
    H, L, N = 2, 24, 6
    conv = S4DPLRConv(d_state=N)
    u = jax.random.normal(jax.random.key(5), (2, L, H))
    params = conv.init(jax.random.key(6), u)["params"]
    # Perturb the HiPPO initialisation so that the channels differ and the system is complex.
    keys = jax.random.split(jax.random.key(7), 3)
    for key, name in zip(keys, ("P", "B", "im_lambda")):
        params[name] = params[name] + 0.3 * jax.random.normal(key, params[name].shape)
    params["D"] = jnp.array([0.5, -1.0])
    y_conv = conv.apply({"params": params}, u)

    cplx = lambda x: np.asarray(x[..., 0]) + 1j * np.asarray(x[..., 1])
    Lam = -np.exp(np.asarray(params["log_neg_re_lambda"])) + 1j * np.asarray(params["im_lambda"])
    P, B, C = cplx(params["P"]), cplx(params["B"]), cplx(params["C"])
    y_rec = np.zeros((2, L, H))
    for h in range(H):
        A = jnp.asarray(np.diag(Lam[h]) - np.outer(P[h], P[h].conj()), jnp.complex64)
        Abar, Bbar = discretize(A, jnp.asarray(B[h], jnp.complex64), jnp.exp(params["log_dt"][h]))
        for b in range(2):
            y = scan_ssm(Abar, Bbar, jnp.asarray(C[h], jnp.complex64), u[b, :, h].astype(A.dtype))
            y_rec[b, :, h] = np.asarray(y.real) + params["D"][h] * np.asarray(u[b, :, h])
    np.testing.assert_allclose(y_conv, y_rec, atol=1e-5 * np.max(np.abs(y_rec)))


def test_dplr_initial_system_is_hippo_legs():
    # At initialisation A = diag(Lambda) - P P^* is HiPPO-LegS in the unitary eigenbasis: its
    # eigenvalues are those of the LegS matrix, -1, ..., -N.
    params = S4DPLRConv(d_state=5).init(jax.random.key(8), jnp.zeros((1, 4, 2)))["params"]
    Lam = -np.exp(np.asarray(params["log_neg_re_lambda"][1])) + 1j * np.asarray(
        params["im_lambda"][1]
    )
    P = np.asarray(params["P"][1, :, 0]) + 1j * np.asarray(params["P"][1, :, 1])
    eig = np.linalg.eigvals(np.diag(Lam) - np.outer(P, P.conj()))
    np.testing.assert_allclose(np.sort(eig.real), -np.arange(5, 0, -1), atol=1e-4)
    np.testing.assert_allclose(eig.imag, 0.0, atol=1e-4)


def test_zoh_gives_exponential_of_the_diagonal():
    p = S4DConv(d_state=5, lambda_init="lin").init(jax.random.key(2), jnp.zeros((1, 4, 2)))
    p = {k: v for k, v in p["params"].items() if k != "D"}
    Lam_bar, Bbar, _ = diagonal_system(**p, discretization="zoh")
    delta = np.exp(np.asarray(p["log_dt"]))[:, None]
    Lam = -np.exp(np.asarray(p["log_neg_re_lambda"])) + 1j * np.asarray(p["im_lambda"])
    np.testing.assert_allclose(Lam[0], -0.5 + 1j * np.pi * np.arange(5), atol=1e-6)  # S4D-Lin
    np.testing.assert_allclose(Lam_bar, np.exp(delta * Lam), atol=1e-5)
    np.testing.assert_allclose(Bbar, (np.exp(delta * Lam) - 1) / Lam, atol=1e-5)  # B = 1
    assert 1e-3 <= delta.min() and delta.max() <= 1e-1


def test_model_is_causal():
    model = S4Model(vocab_size=6, d_model=8, num_layers=2, d_state=4)
    tokens = jax.random.randint(jax.random.key(3), (2, 16), 0, 6)
    params = model.init(jax.random.key(4), tokens)
    logits = model.apply(params, tokens)
    assert logits.shape == (2, 16, 6)
    logits2 = model.apply(params, tokens.at[:, 10].set((tokens[:, 10] + 1) % 6))
    np.testing.assert_allclose(logits[:, :10], logits2[:, :10], atol=1e-5)
    assert not np.allclose(logits[:, 10:], logits2[:, 10:], atol=1e-4)


def test_unknown_names_are_rejected():
    u = jnp.zeros((1, 4, 2))
    with pytest.raises(ValueError, match="lambda_init"):
        S4DLayer(lambda_init="legs").init(jax.random.key(0), u)
    with pytest.raises(ValueError, match="discretization"):
        S4DLayer(discretization="euler").init(jax.random.key(0), u)
