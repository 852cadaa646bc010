"""Binary RBMs trained by CD-1, CD-10 and PCD, scored by their test log-likelihood.

  python -m experiments.rbm                      # 8x8 digits, 16 hidden units, exact log Z
  # MNIST t10k split (DIR: its IDX files), 16 hidden, exact log Z; 500 hidden, AIS
  python -m experiments.rbm --preset mnist16 --config.data_dir=DIR
  python -m experiments.rbm --preset mnist500 --config.data_dir=DIR

The images are binarised at mid-grey (pixel > 0.5). Every training rule of ``config.methods``
trains its own RBM (:mod:`gendiff.classic.rbm`) from the same initialisation (visible biases
at the training data's base rates) through ``gendiff.train.fit``: CD-k with
:func:`gendiff.classic.cd_loss`, PCD-k with persistent chains carried in the training state
(:func:`gendiff.train.persistent_chain_players`). Each RBM is then scored:

- log Z exactly (sum over the smaller layer) when min(visible, hidden) <= 20;
- log Z by AIS from the base-rate model (Salakhutdinov & Murray 2008) and by reverse AIS,
  started from exact samples (<= 16 hidden units) or from ``eval.gibbs_sweeps`` Gibbs sweeps
  from test images: forward AIS tends to under-estimate log Z, reverse AIS to over-estimate it;
- the average train and test log-likelihood -F(x) - log Z (nats per image), with the exact
  log Z when there is one, else the AIS one (and the conservative reverse-AIS value beside it).

Anchors, Salakhutdinov & Murray (2008) and the centred-RBM literature on the full 60k MNIST
training set: 16 hidden units with exact Z: -142.56 (centred), -149.05 (plain); 500 hidden,
CD-25 and AIS: -86.34. Ours train on 8,000 images of the t10k file and test on the other 2,000.

Each RBM's samples (Gibbs chains from the base-rate model) are scored as every image
experiment's are: FD-digits with its floor and noise values, label coverage, sampling time.

Workdir layout: {method}/ (checkpoints, metrics.jsonl, filters.png, samples.png,
samples.npy) and metrics.json.
"""

from __future__ import annotations

import os
import re
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import rbm as configs
from gendiff import classic
from gendiff import eval as evaluation
from gendiff.data import ArrayBatches
from gendiff.train import make_optimizer, persistent_chain_players

ANCHORS = {  # nats per test image, full MNIST training set
    "salakhutdinov_murray_2008_cd25_500_hidden_ais": -86.34,
    "centred_rbm_16_hidden_exact": -142.56,
    "plain_rbm_16_hidden_exact": -149.05,
}


def parse_method(method: str) -> tuple[str, int]:
    """'cd1' -> ('cd', 1), 'cd10' -> ('cd', 10), 'pcd' / 'pcd1' -> ('pcd', 1)."""
    match = re.fullmatch(r"(p?cd)(\d*)", method)
    if match is None or match.group(2) in ("0",):
        raise ValueError(f"Unknown training method {method!r}; expected 'cdK' or 'pcdK', K >= 1.")
    return match.group(1), int(match.group(2) or 1)


def binarise(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] -> flat binary vectors: pixel > 0.5 (mid-grey)."""
    return (images.reshape(len(images), -1) > 0).astype(np.float32)


def _train(config, workdir, method, params, x_train, key):
    rule, k = parse_method(method)
    batches = ArrayBatches({"x": x_train}, config.batch_size, config.seed)
    tx = make_optimizer(config.optim)
    if rule == "cd":
        state, last = common.fit_network(config, workdir, params, classic.cd_loss(k), batches, key)
        return state.params, last
    players = persistent_chain_players(
        classic.pcd_transition(k), classic.pcd_loss(), tx, names=("chains", "rbm")
    )
    rows = np.random.default_rng(config.seed).choice(len(x_train), config.pcd_chains)
    init = {"chains": jnp.asarray(x_train[rows]), "rbm": params}
    state, last = common.fit_players(config, workdir, init, players, batches, key)
    return state.params["rbm"], last


def _score(config, params, x_train, x_test, base_bias, key) -> dict:
    """log Z (exact, AIS, reverse AIS) and the train / test log-likelihoods of one RBM."""
    M, N = params.W.shape
    result = {}
    t0 = time.time()
    exact = None
    if config.eval.exact and min(M, N) <= classic.rbm_partition.MAX_EXACT_UNITS:
        exact = float(classic.rbm_log_partition(params))
        result["log_z_exact"] = exact
    betas = classic.ais_betas(config.eval.ais_betas)
    ais = jax.jit(
        lambda key, params: classic.rbm_ais(
            key, params, num_chains=config.eval.ais_chains, betas=betas, base_bias=base_bias
        )
    )(jax.random.fold_in(key, 0), params)
    result["log_z_ais"] = float(ais.log_z)
    result["log_z_ais_3se"] = float(ais.log_z_std)
    key_samples = jax.random.fold_in(key, 1)
    if config.eval.reverse_ais:
        if N <= 16:
            x_model = classic.rbm_sample_exact(key_samples, params, config.eval.ais_chains)
            result["reverse_ais_start"] = "exact samples"
        else:
            start = jnp.asarray(x_test[: config.eval.ais_chains])
            x_model, _ = classic.rbm_gibbs(key_samples, params, start, config.eval.gibbs_sweeps)
            result["reverse_ais_start"] = (
                f"{config.eval.gibbs_sweeps} Gibbs sweeps from test images"
            )
        reverse = jax.jit(
            lambda key, params, x: classic.rbm_reverse_ais(
                key, params, x, betas=betas, base_bias=base_bias
            )
        )(jax.random.fold_in(key, 2), params, x_model)
        result["log_z_reverse_ais"] = float(reverse.log_z)
        result["log_z_reverse_ais_3se"] = float(reverse.log_z_std)
    log_z = exact if exact is not None else result["log_z_ais"]
    for split, x in (("train", x_train), ("test", x_test)):
        result[f"{split}_log_likelihood"] = float(classic.rbm_log_likelihood(params, x, log_z))
    if "log_z_reverse_ais" in result:  # the conservative value: reverse AIS over-estimates log Z
        result["test_log_likelihood_reverse_ais"] = float(
            classic.rbm_log_likelihood(params, x_test, result["log_z_reverse_ais"])
        )
    result["eval_s"] = time.time() - t0
    return result


def _samples(config, workdir, method, params, base_bias, train_ds, test_ds, key) -> dict:
    """``eval.num_samples`` model samples, scored as every image experiment scores its samples.

    Each chain starts from the base-rate model (independent pixels at the training data's
    rates, no test image) and runs ``eval.gibbs_sweeps`` Gibbs sweeps; the sample is the mean
    image p(x = 1 | h) of its last sweep, in [-1, 1]. The samples go to samples.png and
    samples.npy, and the figures of :func:`experiments.common.sample_quality` (against the
    grey, not binarised, digits) into the metrics, with the sampling time.
    """
    shape = train_ds.example_shape

    def sample(params, key, num):
        start_key, run_key = jax.random.split(key)
        start = jax.random.bernoulli(start_key, jax.nn.sigmoid(base_bias), (num, len(base_bias)))
        _, h_probs = classic.rbm_gibbs(
            run_key, params, start.astype(jnp.float32), config.eval.gibbs_sweeps
        )
        return (2 * classic.rbm_visible_mean(params, h_probs) - 1).reshape(num, *shape)

    timing = {}
    samples = common.draw_samples(sample, params, jax.random.fold_in(key, 0), config, timing)
    common.save_samples(
        os.path.join(workdir, "samples.png"),
        samples,
        test_ds,
        title=f"RBM {method}, {config.eval.gibbs_sweeps} Gibbs sweeps",
    )
    quality = common.sample_quality(jax.random.fold_in(key, 1), samples, train_ds, test_ds, workdir)
    return {**quality, **timing}


def _filters(workdir, method, params, image_shape, num: int = 100) -> None:
    """filters.png: the first hidden units' weights."""
    n = min(num, params.W.shape[1])
    filters = np.asarray(params.W[:, :n].T)
    filters = filters / np.maximum(np.abs(filters).max(axis=1, keepdims=True), 1e-12)
    evaluation.save_image_grid(
        os.path.join(workdir, "filters.png"),
        filters.reshape(n, *image_shape),
        title=f"RBM {method}: weights of {n} hidden units",
    )


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains one RBM per method of ``config.methods`` and writes metrics.json in ``workdir``.

    Returns:
        ``{method: {log_z_exact?, log_z_ais, log_z_reverse_ais, train/test_log_likelihood,
        train_s, ...}, "anchors": ..., "num_train", "num_test", "num_visible", "num_hidden",
        "wall_s"}``.

    Example:
        >>> from experiments.configs import rbm as configs
        >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/rbm")
    """
    start = time.time()
    methods = [str(m) for m in config.methods]
    for method in methods:
        parse_method(method)
    if not methods:
        raise ValueError("config.methods must name at least one training method.")
    if int(config.num_hidden) < 1:
        raise ValueError(f"config.num_hidden must be a positive integer, got {config.num_hidden}.")
    train_ds, test_ds = common.load_splits(config)
    if len(train_ds.example_shape) != 3:
        raise ValueError(
            f"Dataset {config.dataset!r} must hold images, got {train_ds.example_shape}."
        )
    x_train, x_test = binarise(train_ds.images), binarise(test_ds.images)
    key = jax.random.key(config.seed)
    base_bias = classic.base_rate_bias(x_train)
    params = classic.rbm_init(
        jax.random.fold_in(key, 0),
        x_train.shape[1],
        int(config.num_hidden),
        scale=config.init_scale,
        visible_bias=base_bias,
    )
    result: dict = {
        "num_train": len(x_train),
        "num_test": len(x_test),
        "num_visible": x_train.shape[1],
        "num_hidden": int(config.num_hidden),
        "binarisation": "pixel > 0.5",
    }
    # The independent base-rate model (W = 0), where every RBM starts: sum_i log Bernoulli.
    result["base_rate_test_log_likelihood"] = float(
        jnp.mean(x_test @ base_bias) - jnp.sum(jax.nn.softplus(base_bias))
    )
    for i, method in enumerate(methods):
        t0 = time.time()
        method_dir = os.path.join(workdir, method)
        params_m, last = _train(
            config, method_dir, method, params, x_train, jax.random.fold_in(key, 10 + i)
        )
        train_s = time.time() - t0
        scores = _score(
            config, params_m, x_train, x_test, base_bias, jax.random.fold_in(key, 100 + i)
        )
        _filters(method_dir, method, params_m, train_ds.example_shape)
        samples = _samples(
            config,
            method_dir,
            method,
            params_m,
            base_bias,
            train_ds,
            test_ds,
            jax.random.fold_in(key, 200 + i),
        )
        result[method] = {
            **scores,
            **samples,
            "train_s": train_s,
            "last_loss": last.get("loss", last.get("rbm/loss")),
        }
    result["anchors"] = ANCHORS
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/rbm")
