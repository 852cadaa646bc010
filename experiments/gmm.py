"""Bad local maxima of the Gaussian-mixture likelihood (Jin et al. 2016; notes F3:190-249).

  python -m experiments.gmm

Data: n points in 1-D, a third from each of N(-R, 1), N(R, 1) and N(gamma R, 1). The model is
the notes' one: equal weights and unit variances known, the three means learned, by EM
(:func:`gendiff.classic.gmm_em` with ``fixed=("weights", "covariances")``). For every
separation R, ``num_inits`` random initialisations (each mean a random data point, as in Jin
et al., or N(0, R^2 gamma^2 / 4)) run in one vmapped program; a run ends in a bad local
maximum when its mean log-likelihood is more than ``bad_gap`` nats below that of EM started at
the true centres. The curve fraction_bad(R) goes to bad_fraction.png with the log-likelihoods.

With means started at data points, a run ends at mu~ = (0, gamma R, gamma R) when two or three
of its starting points come from the far cluster: probability 3 (1/3)^2 (2/3) + (1/3)^3 = 7/27
at every R. The separation sets how bad that maximum is (its gap to the global one grows like
R^2 / 3), not how often EM finds it.

Reference values (F3:229, 247; tests/test_classic_gmm.py checks them by quadrature): the bad
maximum mu~ = (0, gamma R, gamma R) has L -> -(2R^2 + 3 - 2 ln 2) / 6 - ln(3 sqrt(2 pi)) as
gamma -> infinity (R = 1: -2.619835), the global one L -> -1/2 - ln(3 sqrt(2 pi)) = -2.517551
as R -> infinity: the gap grows like R^2 / 3.
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
from experiments.configs import gmm as configs
from gendiff import classic
from gendiff import eval as evaluation

INITS = ("data", "gaussian")
LOG_NORMALISER = math.log(3 * math.sqrt(2 * math.pi))


def bad_maximum_limit(R: float) -> float:
    """L(0, gamma R, gamma R) as gamma -> infinity (F3:229)."""
    return -(2 * R**2 + 3 - 2 * math.log(2)) / 6 - LOG_NORMALISER


GLOBAL_MAXIMUM_LIMIT = -0.5 - LOG_NORMALISER  # L(mu*) as R -> infinity (F3:247): -2.517551


def mixture_data(key: jax.Array, R: float, gamma: float, n: int) -> jax.Array:
    """n // 3 points from each of N(-R, 1), N(R, 1), N(gamma R, 1), as (3 (n // 3), 1)."""
    centres = jnp.repeat(jnp.array([-R, R, gamma * R]), n // 3)
    return (centres + jax.random.normal(key, centres.shape))[:, None]


def _em(x, means, config):
    init = (jnp.ones(3) / 3, means, jnp.ones(3))
    return classic.gmm_em(
        jax.random.key(0),
        x,
        3,
        covariance_type="spherical",
        init=init,
        num_iters=config.num_iters,
        tol=config.tol,
        fixed=("weights", "covariances"),
    )


def _initial_means(key, x, R, config):
    if config.init == "data":
        index = jax.vmap(lambda k: jax.random.choice(k, x.shape[0], (3,), replace=False))(
            jax.random.split(key, config.num_inits)
        )
        return x[index]  # (num_inits, 3, 1)
    spread = 0.5 * config.gamma * R
    return spread * jax.random.normal(key, (config.num_inits, 3, 1))


def _plot(path, table, config):
    from matplotlib.figure import Figure

    R = np.array([row["R"] for row in table])
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(R, [row["fraction_bad"] for row in table], "o-")
    ax.set_xlabel("separation R")
    ax.set_ylabel("fraction of initialisations")
    ax.set_title(
        f"EM ends in a bad local maximum ({config.num_inits} inits, gamma={config.gamma:g})"
    )
    ax.set_ylim(0, 1)
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(R, [row["log_lik_global"] for row in table], "o-", label="EM from true centres")
    bad = [row["log_lik_bad_mean"] for row in table]
    ax.plot(R, bad, "s-", label="bad maxima (mean)")
    fine = np.linspace(R.min(), R.max(), 100)
    ax.plot(fine, [bad_maximum_limit(r) for r in fine], "--", label="F3:229 limit, mu~")
    ax.axhline(GLOBAL_MAXIMUM_LIMIT, ls=":", c="k", label="F3:247 limit, -2.517551")
    ax.set_xlabel("separation R")
    ax.set_ylabel("mean log-likelihood (nats)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    evaluation.save_figure(path, fig)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs the sweep over R and writes metrics.json and bad_fraction.png in ``workdir``.

    Returns:
        ``{"table": [{R, fraction_bad, log_lik_global, log_lik_bad_mean,
        bad_maximum_limit, fraction_mu_tilde}, ...], "worked_values": ..., "wall_s"}``.

    Example:
        >>> from experiments.configs import gmm as configs
        >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/gmm")
    """
    start = time.time()
    if config.init not in INITS:
        raise ValueError(f"Unknown config.init {config.init!r}; expected one of {INITS}.")
    for name in ("num_points", "num_inits", "num_iters"):
        if int(config[name]) < 1:
            raise ValueError(f"config.{name} must be a positive integer, got {config[name]}.")
    if int(config.num_points) < 3:
        raise ValueError(
            f"config.num_points must be >= 3 (one per component), got {config.num_points}."
        )
    if not all(float(R) > 0 for R in config.separations) or not config.separations:
        raise ValueError(f"config.separations must be positive numbers, got {config.separations}.")
    if not float(config.gamma) > 1:
        raise ValueError(f"config.gamma must be > 1, got {config.gamma}.")
    key = jax.random.key(config.seed)

    def fit(x, m):
        res = _em(x, m, config)
        return res.lower_bound, res.params.means[:, 0]

    run_all = jax.jit(jax.vmap(fit, in_axes=(None, 0)))
    table = []
    for i, R in enumerate(float(r) for r in config.separations):
        key_data, key_init = jax.random.split(jax.random.fold_in(key, i))
        x = mixture_data(key_data, R, config.gamma, config.num_points)
        truth = jnp.array([[-R], [R], [config.gamma * R]])
        good = _em(x, truth, config)
        inits = _initial_means(key_init, x, R, config)
        final, means = (np.asarray(a) for a in run_all(x, inits))
        bad = final < float(good.lower_bound) - config.bad_gap
        # Which inits end near mu~ = (0, gamma R, gamma R): two means on the far cluster.
        near_far = np.sum(np.abs(means - config.gamma * R) < 0.5 * R + 0.5, axis=1) >= 2
        table.append(
            {
                "R": R,
                "fraction_bad": float(bad.mean()),
                "fraction_mu_tilde": float(near_far.mean()),
                "log_lik_global": float(good.lower_bound),
                "log_lik_bad_mean": float(final[bad].mean()) if bad.any() else None,
                "log_lik_worst": float(final.min()),
                "bad_maximum_limit": bad_maximum_limit(R),
            }
        )
    result = {
        "table": table,
        "worked_values": {
            "bad_maximum_limit_R1": round(bad_maximum_limit(1.0), 6),
            "global_maximum_limit": round(GLOBAL_MAXIMUM_LIMIT, 6),
        },
        "num_inits": config.num_inits,
        "num_points": 3 * (config.num_points // 3),
    }
    plotted = [dict(row, log_lik_bad_mean=row["log_lik_bad_mean"] or np.nan) for row in table]
    _plot(os.path.join(workdir, "bad_fraction.png"), plotted, config)
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/gmm")
