"""Noise-contrastive estimation of unnormalised densities against maximum likelihood.

  python -m experiments.nce

Two models are written without their normalisers (:mod:`gendiff.ssl.nce_models`): a 2-D
diagonal Gaussian and a 3-component 2-D Gaussian mixture. For each noise/data ratio nu in
{1, 5, 20, 100}, NCE (:func:`gendiff.ssl.nce_loss`, Gutmann & Hyvarinen 2010/2012) fits the
model parameters theta and the log-normaliser c = log Z on T_d data points and T_n = nu T_d
samples of a broad Gaussian noise, full batch, for ``num_seeds`` independent data sets at once
(each its own parameters). Maximum likelihood on the same data is the reference: closed form
for the Gaussian, the normalised log-likelihood trained the same way for the mixture.

Reported per case and nu (mean and std over seeds):
- ``param_error``: || theta_hat - theta* || (means, log scales and, for the mixture, log
  weights);
- ``logz_error``: | c - log Z(theta*) |, the learned normaliser against the true one;
- ``logz_self_error``: | c - log Z(theta_hat) |, against the normaliser of the fitted model.

Gutmann & Hyvarinen: NCE is consistent for any nu > 0 and its variance falls towards that of
maximum likelihood as nu grows.

Workdir: {case}_nu{nu}/ and mixture_ml/ (each with checkpoints/ and metrics.jsonl), nce.png,
metrics.json.
"""

from __future__ import annotations

import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import nce as configs
from gendiff import eval as evaluation
from gendiff import ssl
from gendiff.data import ArrayBatches
from gendiff.train import is_main_process

CASES = ("gaussian", "mixture")


def _truth(config: ml_collections.ConfigDict, case: str) -> dict:
    if case == "gaussian":
        g = config.gaussian
        return {"mean": jnp.asarray(g.mean), "log_scale": jnp.log(jnp.asarray(g.scale))}
    m = config.mixture
    return {
        "means": jnp.asarray(m.means),
        "log_scales": jnp.log(jnp.asarray(m.scales)),
        "logits": jnp.log(jnp.asarray(m.weights)),
    }


def _model(case: str):
    if case == "gaussian":
        return ssl.gaussian_log_phi, ssl.gaussian_log_normalizer
    return ssl.mixture_log_phi, ssl.mixture_log_normalizer


def _noise(config, case: str) -> tuple[jax.Array, float]:
    c = config.gaussian if case == "gaussian" else config.mixture
    return jnp.asarray(c.noise_mean), float(c.noise_scale)


def _log_noise_fn(mean: jax.Array, scale: float):
    def log_noise(x):
        d = x.shape[-1]
        z = (x - mean) / scale
        return -0.5 * jnp.sum(z * z, axis=-1) - d * (math.log(scale) + 0.5 * ssl.nce_models.LOG_2PI)

    return log_noise


def _sample_data(key, config, case, truth, num) -> jax.Array:
    if case == "gaussian":
        eps = jax.random.normal(key, (num, truth["mean"].shape[0]))
        return truth["mean"] + jnp.exp(truth["log_scale"]) * eps
    return ssl.mixture_sample(key, truth, num)


def _flat(case: str, theta: dict) -> jax.Array:
    """theta as one vector (mixture weights as log-probabilities, so logits' shift is gone)."""
    if case == "gaussian":
        return jnp.concatenate([theta["mean"], theta["log_scale"]], axis=-1)
    lead = theta["means"].shape[:-2]
    return jnp.concatenate(
        [
            theta["means"].reshape(*lead, -1),
            theta["log_scales"],
            jax.nn.log_softmax(theta["logits"], axis=-1),
        ],
        axis=-1,
    )


def _init_theta(key, truth: dict, num_seeds: int, scale: float) -> dict:
    keys = jax.random.split(key, len(truth))
    return {
        name: value + scale * jax.random.normal(k, (num_seeds, *value.shape))
        for k, (name, value) in zip(keys, sorted(truth.items()))
    }


def _fit(config, workdir, params, loss_one, arrays, key):
    """Trains one parameter set per seed (leading axis) on the sum of their losses."""

    def loss_fn(params, batch, key):
        del key
        per_seed = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), batch)  # seeds first
        losses = jax.vmap(loss_one)(params, per_seed)
        return jnp.sum(losses), {"loss_per_seed": jnp.mean(losses)}

    batches = ArrayBatches(arrays, config.batch_size, config.seed)
    state, _ = common.fit_network(config, workdir, params, loss_fn, batches, key)
    return state.params


def _summary(errors: dict[str, np.ndarray]) -> dict[str, float]:
    out = {}
    for name, values in errors.items():
        out[name] = float(np.mean(values))
        out[f"{name}_std"] = float(np.std(values))
    return out


def run_case(config, workdir: str, case: str, key: jax.Array) -> dict:
    """NCE for every nu and maximum likelihood on the same data; returns the error figures."""
    truth = _truth(config, case)
    log_phi, log_normalizer = _model(case)
    noise_mean, noise_scale = _noise(config, case)
    log_noise = _log_noise_fn(noise_mean, noise_scale)
    s, n, d = config.num_seeds, config.num_data, noise_mean.shape[0]
    data = jax.vmap(lambda k: _sample_data(k, config, case, truth, n))(
        jax.random.split(jax.random.fold_in(key, 0), s)
    )  # (S, T_d, d)
    theta0 = _init_theta(jax.random.fold_in(key, 1), truth, s, config.init_noise)
    true_flat, true_logz = _flat(case, truth), float(log_normalizer(truth))
    log_model = ssl.with_log_normalizer(log_phi)
    seed_ids = np.broadcast_to(np.arange(s, dtype=np.int32), (n, s)).copy()
    result = {}
    for i, nu in enumerate(config.nus):
        params = {"model": theta0, "log_normalizer": jnp.zeros((s,))}
        noise_key = jax.random.fold_in(key, 10 + i)

        def loss_one(p, batch, nu=nu):
            # The T_n = nu T_d noise points of this data set: one fixed sample (the same key
            # every step), drawn on the device instead of carried in the batch.
            eps = jax.random.normal(jax.random.fold_in(noise_key, batch["seed"][0]), (n * nu, d))
            x_noise = noise_mean + noise_scale * eps
            return ssl.nce_loss(log_model, p, batch["x"], x_noise, log_noise, nu=float(nu))[0]

        arrays = {"x": np.asarray(jnp.swapaxes(data, 0, 1)), "seed": seed_ids}
        fitted = _fit(
            config,
            os.path.join(workdir, f"{case}_nu{nu}"),
            params,
            loss_one,
            arrays,
            jax.random.fold_in(key, 20 + i),
        )
        theta, c = fitted["model"], fitted["log_normalizer"]
        errors = {
            "param_error": np.linalg.norm(np.asarray(_flat(case, theta) - true_flat), axis=-1),
            "logz_error": np.abs(np.asarray(c) - true_logz),
            "logz_self_error": np.abs(np.asarray(c - jax.vmap(log_normalizer)(theta))),
        }
        result.update({f"{case}_nu{nu}_{k}": v for k, v in _summary(errors).items()})

    # Maximum likelihood on the same data sets.
    if case == "gaussian":
        theta_ml = {"mean": jnp.mean(data, axis=1), "log_scale": jnp.log(jnp.std(data, axis=1))}
    else:
        loss_ml = lambda p, batch: -jnp.mean(log_phi(p, batch["x"]) - log_normalizer(p))
        theta_ml = _fit(
            config,
            os.path.join(workdir, f"{case}_ml"),
            theta0,
            loss_ml,
            {"x": np.asarray(jnp.swapaxes(data, 0, 1)), "seed": seed_ids},
            jax.random.fold_in(key, 99),
        )
    ml_logz = jax.vmap(log_normalizer)(theta_ml)
    errors = {
        "param_error": np.linalg.norm(np.asarray(_flat(case, theta_ml) - true_flat), axis=-1),
        "logz_error": np.abs(np.asarray(ml_logz) - true_logz),
    }
    result.update({f"{case}_ml_{k}": v for k, v in _summary(errors).items()})
    result[f"{case}_true_logz"] = true_logz
    return result


def save_nce_plot(path: str, result: dict, config) -> None:
    """Parameter and log-normaliser errors against nu, with maximum likelihood as a line."""
    from matplotlib.figure import Figure

    cases = list(config.cases)
    nus = np.asarray(config.nus, float)
    fig = Figure(figsize=(8, 3.2 * len(cases)))
    for row, case in enumerate(cases):
        for col, (what, label) in enumerate(
            [
                ("param_error", "parameter error ||theta - theta*||"),
                ("logz_error", "|c - log Z*| (nats)"),
            ]
        ):
            ax = fig.add_subplot(len(cases), 2, 2 * row + col + 1)
            mean = np.array([result[f"{case}_nu{nu}_{what}"] for nu in config.nus])
            std = np.array([result[f"{case}_nu{nu}_{what}_std"] for nu in config.nus])
            ax.errorbar(nus, mean, yerr=std, marker="o", capsize=3, label="NCE")
            if what == "logz_error":
                self_err = [result[f"{case}_nu{nu}_logz_self_error"] for nu in config.nus]
                ax.plot(nus, self_err, "s--", color="tab:green", label="|c - log Z(theta_hat)|")
            ml = result[f"{case}_ml_{what}"]
            ax.axhline(ml, color="k", ls="--", label="maximum likelihood")
            ax.set_xscale("log")
            ax.set_xlabel("nu = T_n / T_d")
            ax.set_title(f"{case}: {label}", fontsize=9)
            ax.legend(fontsize=7)
    fig.suptitle(
        f"NCE vs maximum likelihood, T_d = {config.num_data}, mean ± std over "
        f"{config.num_seeds} data sets",
        fontsize=9,
    )
    fig.tight_layout()
    evaluation.save_figure(path, fig)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Fits every case by NCE for each nu and by maximum likelihood; writes nce.png and
    metrics.json.

    Returns:
      ``{case}_nu{nu}_{param_error, logz_error, logz_self_error}`` and their ``_std``,
      ``{case}_ml_{param_error, logz_error}``, ``{case}_true_logz`` and wall_s.

    Example:
      >>> from experiments.configs import nce as configs
      >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/nce")
    """
    start = time.time()
    cases = tuple(config.cases)
    if not cases or any(c not in CASES for c in cases):
        raise ValueError(f"config.cases must be a non-empty subset of {CASES}, got {cases}.")
    for nu in config.nus:
        ssl.nce_loss_from_log_ratios(jnp.zeros(1), jnp.zeros(1), nu=nu)  # nu > 0, early
        if int(nu) != nu:
            raise ValueError(f"config.nus must hold whole numbers (T_n = nu T_d), got {nu}.")
    if config.batch_size != config.num_data:
        raise ValueError("config.batch_size must equal config.num_data (full-batch fits).")
    key = jax.random.key(config.seed)
    result = {}
    for i, case in enumerate(cases):
        result.update(run_case(config, workdir, case, jax.random.fold_in(key, i)))
        if is_main_process():  # each case as soon as it is done
            common.write_json(os.path.join(workdir, "metrics.json"), result)
    result["wall_s"] = time.time() - start
    if is_main_process():
        save_nce_plot(os.path.join(workdir, "nce.png"), result, config)
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/nce")
