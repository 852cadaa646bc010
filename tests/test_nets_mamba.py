"""gendiff.nets.mamba: shapes, causality, and the reference initialisation."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.nets.mamba import MambaBlock, MambaLM


def test_block_shapes_and_parameter_shapes():
    x = jax.random.normal(jax.random.key(0), (2, 9, 32))
    block = MambaBlock(d_state=8)
    params = block.init(jax.random.key(1), x)
    assert block.apply(params, x).shape == x.shape
    p = params["params"]
    d_inner, dt_rank = 64, 2  # expand 2, ceil(32 / 16)
    assert p["in_proj"]["kernel"].shape == (32, 2 * d_inner)
    assert p["conv1d"]["kernel"].shape == (4, 1, d_inner)  # depthwise
    assert p["x_proj"]["kernel"].shape == (d_inner, dt_rank + 2 * 8)
    assert p["dt_proj"]["kernel"].shape == (dt_rank, d_inner)
    assert p["out_proj"]["kernel"].shape == (d_inner, 32)


def test_initialisation_of_A_D_and_the_step():
    block = MambaBlock(d_state=6)
    p = block.init(jax.random.key(2), jnp.zeros((1, 3, 256)))["params"]
    np.testing.assert_allclose(-np.exp(p["A_log"]), -np.tile(np.arange(1, 7), (512, 1)), rtol=1e-6)
    np.testing.assert_array_equal(p["D"], 1.0)
    dt = jax.nn.softplus(p["dt_bias"])  # the initial steps, 512 of them
    assert float(dt.min()) >= 1e-3 * (1 - 1e-5) and float(dt.max()) <= 1e-1 * (1 + 1e-5)
    # log dt is uniform on [log 1e-3, log 1e-1]: mean log 1e-2, sd 2 log(10) / sqrt(12).
    log_dt = np.log(np.asarray(dt))
    assert abs(log_dt.mean() - math.log(1e-2)) < 0.15
    assert abs(log_dt.std() - 2 * math.log(10) / math.sqrt(12)) < 0.15
    bound = 16**-0.5  # dt_rank = 256 / 16
    w = np.asarray(p["dt_proj"]["kernel"])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound


def test_lm_is_causal_and_scan_methods_agree():
    lm = MambaLM(vocab_size=7, d_model=16, num_layers=2, d_state=4)
    tokens = jax.random.randint(jax.random.key(3), (2, 12), 0, 7)
    params = lm.init(jax.random.key(4), tokens)
    logits = lm.apply(params, tokens)
    assert logits.shape == (2, 12, 7)
    changed = tokens.at[:, 8].set((tokens[:, 8] + 1) % 7)
    logits2 = lm.apply(params, changed)
    np.testing.assert_allclose(logits[:, :8], logits2[:, :8], atol=1e-5)
    assert not np.allclose(logits[:, 8:], logits2[:, 8:], atol=1e-4)
    seq = MambaLM(vocab_size=7, d_model=16, num_layers=2, d_state=4, scan_method="sequential")
    np.testing.assert_allclose(seq.apply(params, tokens), logits, atol=1e-4)
