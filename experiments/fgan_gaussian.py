"""f-GAN in one dimension (Nowozin, Cseke & Tomioka 2016, section 4.1 and Table 3).

  python -m experiments.fgan_gaussian
  python -m experiments.fgan_gaussian --config.divergences='("kl", "reverse_kl", "js")'

(a) One Gaussian Q_theta = N(mean, exp(log_std)^2) is fitted to a two-component mixture P
by the f-GAN game for every divergence of ``config.divergences``: a small MLP critic V and the
two parameters of Q_theta, trained as the two players of :func:`gendiff.train.gan_players`
through :func:`gendiff.train.fit`. The learned (mean, std) are reported next to the best fit
theta* = argmin D_f(P || Q_theta), found by minimising the quadrature value of D_f directly,
and both divergences are given. The mode-seeking (reverse KL, Neyman chi^2) against the
mass-covering (KL, Pearson chi^2, Jeffreys) fits are drawn in fits.png.

(b) The variational estimate: the critic alone is trained to maximise
E_P[g_f(V)] - E_Q[f*(g_f(V))] between two fixed Gaussians (the f-GAN critic loss, through
fit); its value on fresh samples is compared with the exact D_f(P || Q) (KL in closed form,
JS by the quadrature of :func:`gendiff.divergences.gaussian_js_1d`, the others by
:func:`gendiff.divergences.f_divergence_on_grid`).

Workdir layout: fit_{name}/ and estimate_{name}/ (checkpoints/, metrics.jsonl), fits.png,
metrics.json.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import scipy.optimize

from experiments import common
from experiments.configs import fgan_gaussian as configs
from gendiff import nets
from gendiff.data import GeneratedBatches
from gendiff.divergences import (
    F_DIVERGENCES,
    f_divergence_on_grid,
    gaussian_js_1d,
    gaussian_kl,
    get_f_divergence,
)
from gendiff.eval.images import save_figure
from gendiff.gan import fgan_discriminator_loss
from gendiff.train import (
    create_players_state,
    fit,
    gan_players,
    is_main_process,
    make_optimizer,
    make_players_step,
)

LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


# ----------------------------------------------------------------------------- densities


def _normal_log_prob(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - jnp.log(std) - LOG_SQRT_2PI


def _mixture_log_prob(x, mixture) -> np.ndarray:
    w, m, s = (np.asarray(v, np.float64) for v in (mixture.weights, mixture.means, mixture.stds))
    comps = np.log(w) - 0.5 * ((x[:, None] - m) / s) ** 2 - np.log(s) - LOG_SQRT_2PI
    return np.logaddexp.reduce(comps, axis=1)


def _sample_mixture(rng: np.random.Generator, mixture, n: int) -> np.ndarray:
    w, m, s = (np.asarray(v, np.float64) for v in (mixture.weights, mixture.means, mixture.stds))
    k = rng.choice(len(w), size=n, p=w)
    return (m[k] + s[k] * rng.standard_normal(n)).astype(np.float32)[:, None]


def _check(config: ml_collections.ConfigDict) -> None:
    for name in config.divergences:
        if name not in F_DIVERGENCES or name == "alpha":
            raise ValueError(
                f"unknown divergence {name!r} in config.divergences; expected names of "
                f"gendiff.divergences.F_DIVERGENCES other than the 'alpha' factory: "
                f"{sorted(n for n in F_DIVERGENCES if n != 'alpha')}."
            )
    if not config.divergences:
        raise ValueError("config.divergences is empty; name at least one f-divergence.")
    mix = config.mixture
    w = np.asarray(mix.weights, np.float64)
    if not len(w) == len(mix.means) == len(mix.stds) or len(w) < 1:
        raise ValueError(
            "config.mixture.weights, means and stds must have one entry per component, got "
            f"{len(w)}, {len(mix.means)} and {len(mix.stds)}."
        )
    if np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6 or min(mix.stds) <= 0:
        raise ValueError(
            f"config.mixture needs weights >= 0 summing to 1 and stds > 0, got weights "
            f"{tuple(w)} and stds {tuple(mix.stds)}."
        )
    for side in ("p", "q"):
        if len(config.estimate[side]) != 2 or config.estimate[side][1] <= 0:
            raise ValueError(
                f"config.estimate.{side} must be (mean, std > 0), got {config.estimate[side]}."
            )
    if int(config.n_critic) < 1 or int(config.estimate.num_eval) < 2:
        raise ValueError("config.n_critic must be >= 1 and config.estimate.num_eval >= 2.")


def _grid(config) -> tuple[np.ndarray, float]:
    x = np.linspace(config.grid.low, config.grid.high, config.grid.num_points)
    return x, float(x[1] - x[0])


def _exact(name: str, log_p: np.ndarray, log_q: np.ndarray, dx: float) -> float:
    """D_f(P || Q) by float64 quadrature."""
    with jax.enable_x64(True):
        return float(f_divergence_on_grid(log_p, log_q, dx, name))


# ----------------------------------------------------------------------------- part (a)


def _best_fit(name: str, config, x: np.ndarray, dx: float, log_p: np.ndarray):
    """theta* = argmin_(mean, log std) D_f(P || N(mean, std^2)), from several starts."""
    with jax.enable_x64(True):
        objective = jax.jit(
            lambda theta: f_divergence_on_grid(
                jnp.asarray(log_p),
                _normal_log_prob(jnp.asarray(x), theta[0], jnp.exp(theta[1])),
                dx,
                name,
            )
        )
        mix = config.mixture
        p = np.exp(log_p) * dx
        mean, var = float(np.sum(p * x)), float(np.sum(p * x**2) - np.sum(p * x) ** 2)
        starts = [(config.init_mean, config.init_log_std), (mean, 0.5 * np.log(var))]
        starts += [(m, np.log(s)) for m, s in zip(mix.means, mix.stds)]
        best = None
        for start in starts:
            res = scipy.optimize.minimize(
                lambda t: float(objective(np.asarray(t, np.float64))),
                np.asarray(start, np.float64),
                method="Nelder-Mead",
                options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 2000},
            )
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
    return float(best.x[0]), float(np.exp(best.x[1])), float(best.fun)


def _fit_gaussian(config, workdir: str, name: str, key: jax.Array) -> tuple[float, float]:
    """Trains Q_theta against P with the f-GAN game on divergence ``name``; returns (mean, std)."""
    critic = nets.MLPCritic(hidden=config.critic.hidden, depth=config.critic.depth)

    def generator_apply(params, z):
        return params["mean"] + jnp.exp(params["log_std"]) * z

    critic_tx, generator_tx = (
        make_optimizer(config.critic_optim),
        make_optimizer(config.generator_optim),
    )
    critic_player, generator_player = gan_players(
        f"fgan_{name}",
        generator_apply,
        critic.apply,
        generator_tx,
        critic_tx,
        latent_dim=1,
        n_critic=config.n_critic,
    )
    params = {
        "critic": critic.init(jax.random.fold_in(key, 0), jnp.zeros((1, 1))),
        "generator": {
            "mean": jnp.asarray(config.init_mean, jnp.float32),
            "log_std": jnp.asarray(config.init_log_std, jnp.float32),
        },
    }
    state = create_players_state(params, {"critic": critic_tx, "generator": generator_tx})
    seed = config.seed

    def batch(step):
        rng = np.random.default_rng([seed, 1, step])
        return {"x": _sample_mixture(rng, config.mixture, config.batch_size)}

    state, _ = fit(
        state,
        make_players_step([critic_player, generator_player], ema_decay=0.0),
        GeneratedBatches(batch, config.batch_size),
        jax.random.fold_in(key, 1),
        num_steps=config.num_steps,
        workdir=workdir,
        checkpoint_every=config.checkpoint_every,
        log_every=config.log_every,
        progress=config.progress,
    )
    g = jax.device_get(state.params["generator"])
    return float(g["mean"]), float(np.exp(g["log_std"]))


# ----------------------------------------------------------------------------- part (b)


def _variational_estimate(config, workdir: str, name: str, key: jax.Array) -> tuple[float, float]:
    """Trains the critic on D_f(P || Q) and returns (estimate, its standard error) on fresh
    samples."""
    est = config.estimate
    critic = nets.MLPCritic(hidden=config.critic.hidden, depth=config.critic.depth)
    entry = get_f_divergence(name)
    (mp, sp), (mq, sq) = est.p, est.q

    def loss_fn(params, batch, key):
        return fgan_discriminator_loss(
            critic.apply(params, batch["p"]), critic.apply(params, batch["q"]), entry
        )

    seed = config.seed

    def batch(step):
        rng = np.random.default_rng([seed, 2, step])
        draw = lambda m, s: (m + s * rng.standard_normal((est.batch_size, 1))).astype(np.float32)
        return {"p": draw(mp, sp), "q": draw(mq, sq)}

    run = ml_collections.ConfigDict(
        dict(
            num_steps=est.num_steps,
            checkpoint_every=est.num_steps,
            log_every=config.log_every,
            progress=config.progress,
            optim=est.optim.to_dict(),
        )
    )
    params = critic.init(jax.random.fold_in(key, 0), jnp.zeros((1, 1)))
    state, _ = common.fit_network(
        run,
        workdir,
        params,
        loss_fn,
        GeneratedBatches(batch, est.batch_size),
        jax.random.fold_in(key, 1),
    )

    @jax.jit
    def terms(params, xp, xq):
        return entry.activation(critic.apply(params, xp)), entry.conjugate_of_activation(
            critic.apply(params, xq)
        )

    rng = np.random.default_rng([seed, 3])
    n = int(est.num_eval)
    xp = (mp + sp * rng.standard_normal((n, 1))).astype(np.float32)
    xq = (mq + sq * rng.standard_normal((n, 1))).astype(np.float32)
    t_p, fstar_q = (np.asarray(v, np.float64) for v in terms(state.params, xp, xq))
    estimate = t_p.mean() - fstar_q.mean()
    se = np.sqrt(t_p.var(ddof=1) / n + fstar_q.var(ddof=1) / n)
    return float(estimate), float(se)


def _truth(name: str, config, x: np.ndarray, dx: float) -> tuple[float, float, str]:
    """(exact value, quadrature value, how the exact value was computed)."""
    (mp, sp), (mq, sq) = config.estimate.p, config.estimate.q
    with jax.enable_x64(True):
        quad = _exact(
            name,
            np.asarray(_normal_log_prob(x, mp, sp)),
            np.asarray(_normal_log_prob(x, mq, sq)),
            dx,
        )
        if name == "kl":
            exact = float(
                gaussian_kl(
                    jnp.array([mp]), jnp.array([[sp**2]]), jnp.array([mq]), jnp.array([[sq**2]])
                )
            )
            return exact, quad, "closed form"
        if name == "js":
            return float(gaussian_js_1d(mp, sp, mq, sq)), quad, "gaussian_js_1d"
    return quad, quad, "quadrature"


# ----------------------------------------------------------------------------- figure


def _figure(path: str, config, fits: dict, x: np.ndarray, log_p: np.ndarray) -> None:
    from matplotlib.figure import Figure

    names = list(fits)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.5 * rows), layout="constrained")
    view = (x > -5.5) & (x < 5.5)
    xs, p = x[view], np.exp(log_p[view])
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.fill_between(xs, p, color="0.8", label="P (mixture)")
        f = fits[name]
        for (m, s), style, label in (
            ((f["fit_mean"], f["fit_std"]), "-", "f-GAN fit"),
            ((f["best_mean"], f["best_std"]), "--", "best fit"),
        ):
            ax.plot(xs, np.exp(np.asarray(_normal_log_prob(xs, m, s))), style, lw=1.5, label=label)
        ax.set_title(
            f"{name}: mean {f['fit_mean']:.2f} (best {f['best_mean']:.2f}), "
            f"std {f['fit_std']:.2f} ({f['best_std']:.2f})",
            fontsize=7,
        )
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.suptitle("One Gaussian fitted to a mixture under each f-divergence D_f(P || Q)", fontsize=9)
    save_figure(path, fig)


# ----------------------------------------------------------------------------- driver


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs parts (a) and (b) for every divergence, writes fits.png and metrics.json.

    Args:
        config: from ``experiments.configs.fgan_gaussian``.
        workdir: the run directory.

    Returns:
        The metrics, per divergence NAME: ``fit/NAME/{mean,std}`` (learned),
        ``fit/NAME/{best_mean,best_std}`` (theta*), ``fit/NAME/divergence`` and
        ``fit/NAME/best_divergence`` (D_f(P || Q) at each, by quadrature), and
        ``fit/NAME/initial_divergence`` (at the starting Q);
        ``estimate/NAME/{estimate,standard_error,truth,relative_error}``; and wall_s.

    Example:
        >>> from experiments.configs import fgan_gaussian as configs
        >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/fgan_gaussian")
    """
    start = time.time()
    _check(config)
    key = jax.random.key(config.seed)
    x, dx = _grid(config)
    log_p = _mixture_log_prob(x, config.mixture)
    result: dict = {}
    fits: dict = {}
    for i, name in enumerate(config.divergences):
        mean, std = _fit_gaussian(
            config, os.path.join(workdir, f"fit_{name}"), name, jax.random.fold_in(key, i)
        )
        best_mean, best_std, best_value = _best_fit(name, config, x, dx, log_p)
        with jax.enable_x64(True):
            value = _exact(name, log_p, np.asarray(_normal_log_prob(x, mean, std)), dx)
            log_q0 = _normal_log_prob(x, config.init_mean, np.exp(config.init_log_std))
            initial = _exact(name, log_p, np.asarray(log_q0), dx)
        fits[name] = dict(fit_mean=mean, fit_std=std, best_mean=best_mean, best_std=best_std)
        result.update(
            {
                f"fit/{name}/mean": mean,
                f"fit/{name}/std": std,
                f"fit/{name}/best_mean": best_mean,
                f"fit/{name}/best_std": best_std,
                f"fit/{name}/divergence": value,
                f"fit/{name}/initial_divergence": initial,
                f"fit/{name}/best_divergence": best_value,
            }
        )
    _figure(os.path.join(workdir, "fits.png"), config, fits, x, log_p)

    for i, name in enumerate(config.divergences):
        estimate, se = _variational_estimate(
            config,
            os.path.join(workdir, f"estimate_{name}"),
            name,
            jax.random.fold_in(key, 100 + i),
        )
        truth, quad, how = _truth(name, config, x, dx)
        result.update(
            {
                f"estimate/{name}/estimate": estimate,
                f"estimate/{name}/standard_error": se,
                f"estimate/{name}/truth": truth,
                f"estimate/{name}/truth_quadrature": quad,
                f"estimate/{name}/truth_method": how,
                f"estimate/{name}/relative_error": abs(estimate - truth) / abs(truth),
            }
        )
    result["wall_s"] = time.time() - start
    if is_main_process():
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/fgan_gaussian")
