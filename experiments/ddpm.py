"""DDPM end to end: train on a dataset, sample, and report sample quality and test bits/dim.

  python -m experiments.ddpm                                   # 8x8 digits on a CPU
  python -m experiments.ddpm --preset toy2d --config.num_steps=2000
  python -m experiments.ddpm --workdir runs/ddpm --config.seed=1

Running the same command again resumes from the newest checkpoint in ``--workdir``; a run
that already finished only re-evaluates. The same seed gives the same metrics.
"""

from __future__ import annotations

import functools
import time

import jax
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import ddpm as configs
from gendiff import ddpm, samplers
from gendiff.paths import DiscreteVPPath


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains a DDPM as configured, then writes samples.png and metrics.json in ``workdir``.

    Args:
        config: a config from ``experiments.configs.ddpm`` (presets: cpu, toy2d, mnist, cifar10, tpu_pod).
        workdir: directory for checkpoints, metrics.jsonl, metrics.json and samples.png.

    Returns:
        The metrics written to metrics.json.

    Example:
        >>> from experiments.configs import ddpm as configs
        >>> config = configs.get_config("cpu"); config.num_steps = 100
        >>> metrics = train_and_evaluate(config, "/tmp/ddpm")
    """
    start = time.time()
    train_ds, test_ds = common.load_splits(config)
    d = config.diffusion
    path = DiscreteVPPath.from_schedule(d.schedule, d.num_diffusion_steps)
    net = common.build_denoiser(config.model, train_ds.example_shape)
    is_images = len(train_ds.example_shape) == 3
    keys = jax.random.split(jax.random.key(config.seed), 5)
    init_key, train_key, sample_key, vlb_key, eval_key = keys
    loss = functools.partial(
        ddpm.denoising_loss,
        path=path,
        prediction=d.prediction,
        weighting=d.weighting,
        snr_gamma=d.snr_gamma,
    )
    state, last = common.train_network(config, workdir, net, train_ds, loss, init_key, train_key)

    def sample(params, key, num):  # one compiled scan per batch, with the EMA parameters
        model_fn, shape = functools.partial(net.apply, params), (num, *train_ds.example_shape)
        if config.sample.sampler:  # any sampler of the library, through its common signature
            return samplers.SAMPLERS[config.sample.sampler](
                key, model_fn, path, shape, nfe=config.sample.nfe, prediction=d.prediction,
                clip_x0=is_images,
            )  # fmt: skip
        return ddpm.ancestral_sample(
            key, model_fn, path, shape, variance=d.variance, prediction=d.prediction,
            clip_x0=is_images,
        )  # fmt: skip

    extra = {}  # with sample_s_per_1000 and sample_compile_s
    samples = common.draw_samples(sample, state.ema_params, sample_key, config, timing=extra)
    if is_images and test_ds.num_levels:
        vlb = _test_bpd(net, state.ema_params, path, test_ds, vlb_key, config)
        extra["test_bpd"] = float(np.mean(vlb))
        if config.eval.get("ode_bpd_examples", 0):
            n = min(int(config.eval.ode_bpd_examples), len(vlb))
            ode = _ode_bpd(net, state.ema_params, path, test_ds, vlb_key, config, n)
            extra["ode_bpd"] = float(np.mean(ode))
            extra["ode_bpd_examples"] = n
            extra["ode_bpd_vlb"] = float(np.mean(vlb[:n]))  # the bound on the same images
    return common.finish_run(
        config,
        workdir,
        start,
        state,
        last,
        samples,
        train_ds,
        test_ds,
        eval_key,
        "DDPM samples",
        **extra,
    )


def _test_bpd(net, params, path, test_ds, key, config) -> np.ndarray:
    """The variational bound of each test image in bits/dim (convention: gendiff.ddpm.vlb)."""
    d = config.diffusion
    bound = jax.jit(
        lambda params, key, x: ddpm.variational_bound(
            key,
            functools.partial(net.apply, params),
            path,
            x,
            num_levels=test_ds.num_levels,
            variance=d.variance,
            prediction=d.prediction,
        )["bpd"]
    )
    n = config.eval.vlb_examples or len(test_ds)
    images, b = test_ds.images[:n], config.eval.vlb_batch
    bpd = [
        bound(params, jax.random.fold_in(key, i), images[i * b : (i + 1) * b])
        for i in range(-(-len(images) // b))
    ]
    return np.concatenate(bpd)


def _ode_bpd(net, params, path, test_ds, key, config, n: int) -> np.ndarray:
    """Bits/dim of the first ``n`` test images under the same network's probability-flow ODE
    (uniform dequantisation, Hutchinson divergence, gendiff.sde.bits_per_dim) on the DDPM path
    (log alpha_bar interpolated between the steps; the ODE starts at t = 1 / T)."""
    from gendiff import sde

    d = config.diffusion
    bpd = jax.jit(
        lambda params, key, x: sde.bits_per_dim(
            key,
            functools.partial(net.apply, params),
            path,
            x,
            num_levels=test_ds.num_levels,
            prediction=d.prediction,
            divergence="hutchinson",
            rtol=config.eval.ode_rtol,
            atol=config.eval.ode_rtol,
        )["bpd"]
    )
    images, b = test_ds.images[:n], config.eval.vlb_batch
    key = jax.random.fold_in(key, 2**20)
    out = [
        bpd(params, jax.random.fold_in(key, i), images[i * b : (i + 1) * b])
        for i in range(-(-len(images) // b))
    ]
    return np.concatenate(out)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/ddpm")
