"""gendiff.nets.s4: convolution mode equals the recurrence, ZOH closed form, causality."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.nets.s4 import S4DConv, S4DLayer, S4Model, diagonal_system
from gendiff.ssm import scan_ssm


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
