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
import os
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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains a score model on the configured SDE, then writes samples.png and metrics.json.

    Example:
        >>> from experiments.configs import score_sde as configs
        >>> config = configs.get_config("toy2d"); config.num_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/score_sde")
    """
    start = time.time()
    common.initialize_distributed(config)
    common.check_config(config)
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
    ema_params = state.ema_params
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
        )
        return jnp.clip(x, -1.0, 1.0) if is_images else x

    sampler = jax.jit(sample, static_argnums=2)
    samples = common.in_batches(
        lambda key, num: sampler(ema_params, key, num),
        sample_key,
        config.eval.num_samples,
        config.eval.sample_batch,
    )
    result = {
        "train_loss": last.get("loss"),
        "num_steps": int(state.step),
        "num_params": common.num_params(ema_params),
    }
    result.update(common.sample_quality(eval_key, samples, train_ds, test_ds, workdir, config.seed))
    if is_images and test_ds.num_levels:
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
        result["test_bpd"] = float(
            np.mean(
                np.concatenate(
                    [
                        bpd(ema_params, jax.random.fold_in(bpd_key, i), images[i * b : (i + 1) * b])
                        for i in range(-(-len(images) // b))
                    ]
                )
            )
        )
    result["wall_s"] = time.time() - start
    if jax.process_index() == 0:
        common.save_samples(
            os.path.join(workdir, "samples.png"),
            samples,
            test_ds,
            title=f"{s.path.upper()} SDE samples, {config.dataset}, {int(state.step)} steps",
        )
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/score_sde")
