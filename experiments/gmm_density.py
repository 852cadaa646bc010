"""A Gaussian mixture as a generative model of images: EM, exact test bits/dim, samples.

  python -m experiments.gmm_density                    # the 8x8 digits, seconds

The classic baseline of the model families (notes F3; :func:`gendiff.classic.gmm_em`). Images
are discrete (17 levels on the digits) and a mixture is a density, so the mixture is fitted to
``num_copies`` uniformly dequantised copies of every training image
(:func:`gendiff.sde.dequantize`), and its test bits/dim is the dequantisation bound
-log p(x + u) - D log(2 delta) on -log P(x) (:func:`gendiff.sde.discrete_nll_bound`, one u per
test image): the unit of the DDPM's variational bound and the VAEs' IWAE bound. The number of
components is the candidate of ``num_components`` with the best bound on a validation part of
the training split; the mixture with that number is then fitted to the whole split. Samples are
draws of the mixture clipped to [-1, 1], scored like every experiment's
(:func:`experiments.common.sample_quality`).

Workdir: samples.png, samples.npy, metrics.json (test_bpd, val_bpd_k{K} per candidate,
num_components, num_steps (EM iterations of the final fit), train_s, the sample-quality
figures, sample_s_per_1000, wall_s).
"""

from __future__ import annotations

import functools
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import gmm_density as configs
from gendiff import classic, sde


def fit_mixture(
    key: jax.Array, x: jax.Array, num_components: int, config
) -> tuple[classic.GMMParams, int]:
    """The best of ``config.num_restarts`` EM fits (k-means++ starts, vmapped) by training
    log-likelihood, and the number of EM iterations it ran.

    Example:
      >>> x = jnp.concatenate([jnp.zeros((50, 2)) - 3, jnp.zeros((50, 2)) + 3])
      >>> x = x + 0.1 * jax.random.normal(key, x.shape)
      >>> c = configs.get_config("cpu")
      >>> params, iterations = fit_mixture(key, x, 2, c)
      >>> sorted(np.round(np.asarray(params.means[:, 0])).tolist())
      [-3.0, 3.0]
    """
    fit = functools.partial(
        classic.gmm_em,
        num_components=num_components,
        covariance_type=config.covariance_type,
        num_iters=config.num_iters,
        reg_covar=config.reg_covar,
    )
    keys = jax.random.split(key, config.num_restarts)
    results = jax.jit(jax.vmap(lambda k: fit(k, x)))(keys)
    best = int(jnp.argmax(results.lower_bound))
    return jax.tree.map(lambda leaf: leaf[best], results.params), int(results.num_iters[best])


def test_bits_per_dim(key, params, x, num_levels: int, covariance_type: str) -> float:
    """Mean dequantisation bound on -log P(x), in bits per dimension, of flat images ``x``."""
    dims = x.shape[1]
    y = sde.dequantize(key, jnp.asarray(x), num_levels)
    log_prob = classic.gmm_log_prob(y, params, covariance_type)
    nll = sde.discrete_nll_bound(log_prob, dims, num_levels)
    return float(jnp.mean(nll)) / (dims * math.log(2.0))


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Picks the number of components, fits the mixture, scores bits/dim and samples.

    Example:
      >>> config = configs.get_config("cpu"); config.num_components = (2,)
      >>> metrics = train_and_evaluate(config, "/tmp/gmm_density")
    """
    start = time.time()
    candidates = tuple(int(k) for k in config.num_components)
    if not candidates or min(candidates) < 1:
        raise ValueError(
            f"config.num_components must list positive integers, got {config.num_components}."
        )
    if not 0 < config.val_fraction < 1 or int(config.num_copies) < 1:
        raise ValueError(
            "config.val_fraction must lie in (0, 1) and config.num_copies be >= 1, got "
            f"{config.val_fraction} and {config.num_copies}."
        )
    train_ds, test_ds = common.load_splits(config)
    if len(train_ds.example_shape) != 3 or not train_ds.num_levels:
        raise ValueError(f"Dataset {config.dataset!r} must hold images on levels (N, H, W, C).")
    shape, levels = train_ds.example_shape, train_ds.num_levels
    keys = jax.random.split(jax.random.key(config.seed), 7)
    split_key, copy_key, fit_key, val_key, test_key, sample_key, eval_key = keys
    x = train_ds.images.reshape(len(train_ds), -1)

    def copies(key, images):  # num_copies dequantised copies of every image
        return jnp.concatenate(
            [sde.dequantize(jax.random.fold_in(key, i), images, levels) for i in range(config.num_copies)]
        )  # fmt: skip

    perm = np.asarray(jax.random.permutation(split_key, len(x)))
    num_val = max(1, round(config.val_fraction * len(x)))
    val, fit_part = x[perm[:num_val]], x[perm[num_val:]]
    result = {}
    for k in candidates:
        params, _ = fit_mixture(fit_key, copies(copy_key, fit_part), k, config)
        result[f"val_bpd_k{k}"] = test_bits_per_dim(
            val_key, params, val, levels, config.covariance_type
        )
    best = min(candidates, key=lambda k: result[f"val_bpd_k{k}"])
    params, result["num_steps"] = fit_mixture(fit_key, copies(copy_key, x), best, config)
    test_x = test_ds.images.reshape(len(test_ds), -1)
    result["test_bpd"] = test_bits_per_dim(test_key, params, test_x, levels, config.covariance_type)
    result["num_components"] = best
    result["train_s"] = time.time() - start

    def sample(params, key, num):
        draws, _ = classic.gmm_sample(key, params, num, config.covariance_type)
        return jnp.clip(draws, -1.0, 1.0).reshape(num, *shape)

    samples = common.draw_samples(sample, params, sample_key, config, timing=result)
    result.update(common.sample_quality(eval_key, samples, train_ds, test_ds, workdir))
    common.save_samples(
        os.path.join(workdir, "samples.png"),
        samples,
        test_ds,
        title=f"Gaussian mixture, K = {best}, {config.dataset}",
    )
    result["num_params"] = int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/gmm_density")
