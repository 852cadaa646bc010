"""Score-based generative modelling through SDEs: train, PC-sample, PF-ODE bits/dim.

  python -m experiments.score_sde                          # VP SDE on 8x8 digits on a CPU
  python -m experiments.score_sde --config.sde.path=ve     # or 'subvp'
  python -m experiments.score_sde --preset toy2d

The network predicts eps and is trained with the sigma^2-weighted denoising score matching
loss of Song et al. (2021), eq. 7; its score is -eps / sigma(t). Samples come from the
predictor-corrector sampler, bits/dim from the probability-flow ODE (gendiff.sde.likelihood,
whose docstring states the dequantisation convention).
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import score_sde as configs
from gendiff import score, sde
from gendiff.paths import SubVPPath, VEPath, VPPath

PATHS = ("vp", "subvp", "ve")


def make_path(config: ml_collections.ConfigDict):
    """The Gaussian path named by ``config.sde.path``."""
    name = config.sde.path
    if name == "vp":
        return VPPath()
    if name == "subvp":
        return SubVPPath()
    if name == "ve":
        return VEPath(sigma_max=config.sde.ve_sigma_max)
    raise ValueError(f"Unknown SDE path {name!r}; expected one of {PATHS}.")


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains a score model on the configured SDE, then writes samples.png and metrics.json.

    Example:
        >>> from experiments.configs import score_sde as configs
        >>> config = configs.get_config("toy2d"); config.num_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/score_sde")
    """
    start = time.time()
    path = make_path(config)
    s = config.sde
    train_ds, test_ds = common.load_splits(config)
    net = common.build_denoiser(config.model, train_ds.example_shape)
    is_images = len(train_ds.example_shape) == 3
    keys = jax.random.split(jax.random.key(config.seed), 5)
    init_key, train_key, sample_key, bpd_key, eval_key = keys

    def loss(key, model_fn, x0):
        return score.score_sde_loss(key, sde.score_fn_from_model(path, model_fn, "eps"), x0, path)

    state, last = common.train_network(config, workdir, net, train_ds, loss, init_key, train_key)
    score_fn_of = lambda params: sde.score_fn_from_model(
        path, functools.partial(net.apply, params), "eps"
    )

    def sample(params, key, num):
        x = sde.pc_sample(
            key,
            score_fn_of(params),
            path,
            (num, *train_ds.example_shape),
            num_steps=s.num_steps,
            predictor=s.predictor,
            corrector=s.corrector,
            snr=s.snr,
            step_rule=s.step_rule,
        )
        return jnp.clip(x, -1.0, 1.0) if is_images else x

    extra = {}  # with sample_s_per_1000 and sample_compile_s
    samples = common.draw_samples(sample, state.ema_params, sample_key, config, timing=extra)
    if is_images and test_ds.num_levels:
        extra["test_bpd"] = _test_bpd(score_fn_of, state.ema_params, path, test_ds, bpd_key, config)
    title = f"{s.path.upper()} SDE samples"
    return common.finish_run(
        config, workdir, start, state, last, samples, train_ds, test_ds, eval_key, title, **extra
    )


def _test_bpd(score_fn_of, params, path, test_ds, key, config) -> float:
    """Mean PF-ODE bits/dim (Hutchinson divergence) of the first ``eval.vlb_examples`` test images."""
    s = config.sde
    bpd = jax.jit(
        lambda params, key, x: sde.bits_per_dim(
            key,
            score_fn_of(params),
            path,
            x,
            num_levels=test_ds.num_levels,
            divergence="hutchinson",
            rtol=s.likelihood_rtol,
            atol=s.likelihood_rtol,
        )["bpd"]
    )
    images, b = test_ds.images[: config.eval.vlb_examples], config.eval.vlb_batch
    batches = [
        bpd(params, jax.random.fold_in(key, i), images[i * b : (i + 1) * b])
        for i in range(-(-len(images) // b))
    ]
    return float(np.mean(np.concatenate(batches)))


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/score_sde")
