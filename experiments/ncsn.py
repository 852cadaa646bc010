"""NCSN end to end: noise-conditional score matching, then annealed Langevin sampling.

  python -m experiments.ncsn                                   # 8x8 digits on a CPU
  python -m experiments.ncsn --preset toy2d --config.dataset=toy2d/swiss_roll

The network f(x, t) is a denoiser of the library (U-Net or MLP) with the noise level passed
as the time t = log(sigma / sigma_L) / log(sigma_1 / sigma_L) in [0, 1], and the score is
s(x, sigma) = f(x, t(sigma)) / sigma (Song & Ermon 2020, technique 3).
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import ml_collections

from experiments import common
from experiments.configs import ncsn as configs
from gendiff import score


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains an NCSN as configured, then writes samples.png and metrics.json in ``workdir``.

    Example:
        >>> from experiments.configs import ncsn as configs
        >>> config = configs.get_config("toy2d"); config.num_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/ncsn")
    """
    start = time.time()
    n = config.ncsn
    sigmas = score.geometric_sigmas(n.sigma_max, n.sigma_min, n.num_levels)
    train_ds, test_ds = common.load_splits(config)
    net = common.build_denoiser(config.model, train_ds.example_shape)
    is_images = len(train_ds.example_shape) == 3
    init_key, train_key, sample_key, eval_key = jax.random.split(jax.random.key(config.seed), 4)

    def loss(key, model_fn, x0):
        score_fn = score.noise_conditional_score(model_fn, n.sigma_max, n.sigma_min)
        return score.ncsn_loss(key, score_fn, x0, sigmas)

    state, last = common.train_network(config, workdir, net, train_ds, loss, init_key, train_key)

    def sample(params, key, num):
        key_init, key_chain = jax.random.split(key)
        score_fn = score.noise_conditional_score(
            functools.partial(net.apply, params), n.sigma_max, n.sigma_min
        )
        x_init = n.sigma_max * jax.random.normal(key_init, (num, *train_ds.example_shape))
        x = score.annealed_langevin_dynamics(
            key_chain,
            score_fn,
            x_init,
            sigmas,
            eps=n.eps,
            num_steps_per_level=n.steps_per_level,
            denoise=n.denoise,
        )
        return jnp.clip(x, -1.0, 1.0) if is_images else x

    timing = {}
    samples = common.draw_samples(sample, state.ema_params, sample_key, config, timing=timing)
    return common.finish_run(
        config, workdir, start, state, last, samples, train_ds, test_ds, eval_key,
        "NCSN samples", **timing,
    )  # fmt: skip


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/ncsn")
