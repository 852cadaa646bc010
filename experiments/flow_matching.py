"""Flow matching end to end: train a velocity field, sample at several NFE, and one reflow round.

  python -m experiments.flow_matching                          # OT path on 8x8 digits on a CPU
  python -m experiments.flow_matching --config.path=vp         # Lipman et al.'s VP path
  python -m experiments.flow_matching --preset toy2d           # two moons, with one reflow round

The network predicts the velocity dx/dt of the path x_t = alpha(t) x_0 + sigma(t) x_1 and is
trained with conditional flow matching (gendiff.flow_matching.flow_matching_loss). Samples solve
dx/dt = v(x, t) from noise at t_max down to t_min with each configured solver; the quality of
each (SWD on 2-D data, FD in digit-classifier features on images) is reported as
``{metric}_{solver}_nfe{NFE}``, e.g. ``swd_euler_nfe1`` or ``fd_digits_rk4_nfe20`` (RK4 takes
four evaluations a step), next to ``straightness``, Liu et al.'s S of the learned flow.

With ``reflow_steps > 0`` the trained flow maps ``reflow.num_pairs`` noise draws to data, and a
second network of the same architecture, freshly initialised, learns these pairs with
:func:`gendiff.flow_matching.coupled_flow_matching_loss` (Liu et al. 2023, 2-rectified flow):
its figures are prefixed ``reflow_`` and it is trained in ``workdir/reflow``. On 2-D data
reflow.png shows both flows' trajectories and their one-step samples.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from matplotlib.figure import Figure

from experiments import common
from experiments.configs import flow_matching as configs
from gendiff import data
from gendiff import flow_matching as fm
from gendiff.paths import RectifiedFlowPath, VPPath
from gendiff.sde.ode import solve_ode
from gendiff.train import is_main_process

PATHS = ("ot", "vp")
# Network evaluations per step of the fixed-step solvers.
EVALS_PER_STEP = {"euler": 1, "heun": 2, "rk4": 4}


def make_path(config: ml_collections.ConfigDict):
    """The Gaussian path named by ``config.path``."""
    if config.path == "ot":
        return RectifiedFlowPath(sigma_min=config.sigma_min)
    if config.path == "vp":
        return VPPath()
    raise ValueError(f"Unknown flow matching path {config.path!r}; expected one of {PATHS}.")


def parse_samplers(spec: str) -> list[tuple[str, int]]:
    """'euler:1,rk4:5' -> [('euler', 1), ('rk4', 5)].

    Example:
        >>> parse_samplers("euler:4, heun:2")
        [('euler', 4), ('heun', 2)]
    """
    samplers = []
    for item in spec.split(","):
        solver, _, steps = item.strip().partition(":")
        if solver not in EVALS_PER_STEP:
            raise ValueError(
                f"Unknown sampler {item.strip()!r}: expected 'solver:num_steps' with solver one "
                f"of {tuple(EVALS_PER_STEP)}, e.g. 'euler:4'."
            )
        if not steps.isdigit() or int(steps) < 1:
            raise ValueError(f"Sampler {item.strip()!r} needs a positive number of steps.")
        samplers.append((solver, int(steps)))
    return samplers


def parse_sampler(spec: str) -> tuple[str, int]:
    """One 'solver:num_steps' (see :func:`parse_samplers`)."""
    samplers = parse_samplers(spec)
    if len(samplers) != 1:
        raise ValueError(f"Expected one 'solver:num_steps', got {spec!r}.")
    return samplers[0]


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains a flow as configured (and its reflow), then writes samples.png and metrics.json.

    Args:
        config: a config from ``experiments.configs.flow_matching`` (presets: cpu, toy2d).
        workdir: directory for checkpoints, metrics.jsonl, metrics.json and the PNGs.

    Returns:
        The metrics written to metrics.json.

    Example:
        >>> from experiments.configs import flow_matching as configs
        >>> config = configs.get_config("toy2d"); config.num_steps = config.reflow_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/flow_matching")
    """
    start = time.time()
    path = make_path(config)
    samplers = parse_samplers(config.eval.samplers)
    headline = parse_sampler(config.eval.sampler)
    reflow_samplers = parse_samplers(config.reflow.samplers)
    pair_sampler = parse_sampler(config.reflow.sampler)
    if int(config.reflow_steps) < 0:
        raise ValueError(f"config.reflow_steps must be >= 0, got {config.reflow_steps}.")
    train_ds, test_ds = common.load_splits(config)
    net = common.build_denoiser(config.model, train_ds.example_shape)
    keys = jax.random.split(jax.random.key(config.seed), 9)
    init_key, train_key, sample_key, eval_key, straight_key, pair_key, *reflow_keys = keys
    loss = functools.partial(fm.flow_matching_loss, path=path)
    state, last = common.train_network(config, workdir, net, train_ds, loss, init_key, train_key)

    flow = _Flow(net, path, train_ds, test_ds, workdir, config, sample_key, eval_key)
    figures, samples = flow.evaluate(state.ema_params, samplers, headline)
    figures["straightness"] = flow.straightness(state.ema_params, straight_key, pair_sampler)
    if config.reflow_steps > 0:
        reflow_params, reflow_figures = _reflow(
            flow, state.ema_params, pair_key, reflow_keys, reflow_samplers, pair_sampler
        )
        figures.update(reflow_figures)
        if train_ds.example_shape == (2,) and is_main_process():
            _plot_reflow(
                os.path.join(workdir, "reflow.png"), flow, state.ema_params, reflow_params, figures
            )
    solver, steps = headline
    title = f"{config.path.upper()} flow, {solver} x {steps}"
    return common.finish_run(
        config, workdir, start, state, last, samples, train_ds, test_ds, eval_key, title, **figures
    )


class _Flow:
    """Sampling and scoring of the velocity networks of the experiment (one architecture).

    The jitted samplers are kept per (solver, num_steps), so the reflow network reuses the
    programs compiled for the first one.
    """

    def __init__(self, net, path, train_ds, test_ds, workdir, config, sample_key, eval_key):
        self.net, self.path, self.config = net, path, config
        self.train_ds, self.test_ds, self.workdir = train_ds, test_ds, workdir
        self.sample_key, self.eval_key = sample_key, eval_key
        self.shape = train_ds.example_shape
        self.is_images = len(self.shape) == 3
        self._samplers, self._straightness = {}, {}

    def model(self, params):
        return functools.partial(self.net.apply, params)

    def draw(self, params, solver: str, num_steps: int, timing: dict | None = None) -> np.ndarray:
        """``eval.num_samples`` samples, from the same noise for every solver and network."""
        if (solver, num_steps) not in self._samplers:

            def sample(params, key, num):
                x = fm.flow_sample(
                    key,
                    self.model(params),
                    self.path,
                    (num, *self.shape),
                    solver=solver,
                    num_steps=num_steps,
                )
                return jnp.clip(x, -1.0, 1.0) if self.is_images else x

            self._samplers[solver, num_steps] = sample
        return common.draw_samples(
            self._samplers[solver, num_steps], params, self.sample_key, self.config, timing
        )

    @functools.cached_property
    def scorer(self):
        """The experiments' scorer (:func:`common.sample_scorer`) for ``eval.num_samples`` rows,
        with the key finish_run scores the headline samples with (so their figures agree)."""
        return common.sample_scorer(
            self.eval_key,
            self.train_ds,
            self.test_ds,
            self.workdir,
            num_samples=self.config.eval.num_samples,
        )

    def quality(self, samples: np.ndarray) -> tuple[str, float]:
        """The scorer's primary figure (SWD, or FD for images) and its name, without the
        baselines and MMD that finish_run adds for the headline samples."""
        return self.scorer.metric, self.scorer.distance(samples)

    def evaluate(self, params, samplers, headline, prefix: str = ""):
        """Quality at each sampler as ``{prefix}{metric}_{solver}_nfe{NFE}``, and the headline
        sampler's samples (None when ``headline`` is None) with its ``{prefix}sample_s_per_1000``
        and ``{prefix}sample_compile_s``."""
        figures, drawn, timing = {}, {}, {}
        for sampler in samplers:
            drawn[sampler] = self.draw(params, *sampler, timing if sampler == headline else None)
            name, value = self.quality(drawn[sampler])
            solver, num_steps = sampler
            figures[f"{prefix}{name}_{solver}_nfe{EVALS_PER_STEP[solver] * num_steps}"] = value
        if headline is None:
            return figures, None
        samples = drawn[headline] if headline in drawn else self.draw(params, *headline, timing)
        figures.update({f"{prefix}{name}": value for name, value in timing.items()})
        return figures, samples

    def straightness(self, params, key, sampler) -> float:
        """Liu et al.'s straightness, averaged over ``eval.straightness_samples`` trajectories."""
        solver, num_steps = sampler
        if sampler not in self._straightness:
            self._straightness[sampler] = jax.jit(
                lambda params, key, num: fm.straightness(
                    self.model(params),
                    self.path,
                    self.path.prior_sample(key, (num, *self.shape)),
                    solver=solver,
                    num_steps=num_steps,
                ),
                static_argnums=2,
            )
        measure = self._straightness[sampler]
        values = common.in_batches(
            lambda key, num: measure(params, key, num),
            key,
            self.config.eval.straightness_samples,
            self.config.eval.sample_batch,
        )
        return float(np.mean(values))


def _reflow(flow: _Flow, params, pair_key, keys, samplers, pair_sampler):
    """One reflow round: pairs from the trained flow, a new network trained on them, its figures."""
    config, path, shape = flow.config, flow.path, flow.shape
    r = config.reflow
    solver, num_steps = pair_sampler
    make_pairs = jax.jit(
        lambda params, key, num: jnp.stack(
            fm.reflow_pairs(
                key, flow.model(params), path, (num, *shape), solver=solver, num_steps=num_steps
            ),
            axis=1,
        ),
        static_argnums=2,
    )
    pairs = common.in_batches(
        lambda key, num: make_pairs(params, key, num), pair_key, r.num_pairs, r.pair_batch
    )
    x0 = np.clip(pairs[:, 0], -1.0, 1.0) if flow.is_images else pairs[:, 0]
    noise = jnp.asarray(pairs[:, 1])
    # The pair index stands in for a label, so each batch of generated data brings its own noise.
    n = len(pairs)
    pair_ds = data.ArrayDataset(
        np.asarray(x0, np.float32), np.arange(n, dtype=np.int32), None, n, "reflow pairs"
    )

    def loss(key, model_fn, x0, index):
        return fm.coupled_flow_matching_loss(key, model_fn, x0, noise[index], path)

    reflow_config = config.copy_and_resolve_references()
    reflow_config.num_steps = reflow_config.optim.num_steps = config.reflow_steps
    init_key, train_key, straight_key = keys
    state, last = common.train_network(
        reflow_config,
        os.path.join(flow.workdir, "reflow"),
        flow.net,
        pair_ds,
        loss,
        init_key,
        train_key,
        with_labels=True,
    )
    figures, _ = flow.evaluate(state.ema_params, samplers, None, prefix="reflow_")
    figures["reflow_straightness"] = flow.straightness(state.ema_params, straight_key, pair_sampler)
    figures["reflow_train_loss"] = last.get("loss")
    return state.ema_params, figures


def _trajectories(model_fn, path, x_init, num_points: int) -> jax.Array:
    """States of dx/dt = v at num_points equally spaced times from t_max to t_min (RK4 between)."""
    times = jnp.linspace(path.t_max, path.t_min, num_points)

    def segment(x, ends):
        x = solve_ode(x, model_fn, ends[0], ends[1], solver="rk4", num_steps=1)
        return x, x

    _, xs = jax.lax.scan(segment, x_init, jnp.stack([times[:-1], times[1:]], axis=1))
    return jnp.concatenate([x_init[None], xs])


def _plot_reflow(png: str, flow: _Flow, params, reflow_params, figures: dict) -> None:
    """Trajectories (top) and one-Euler-step samples (bottom) of the flow and its reflow."""
    x_init = flow.path.prior_sample(jax.random.key(0), (300, 2))
    trajectories = jax.jit(lambda p: _trajectories(flow.model(p), flow.path, x_init, 26))
    reference = flow.test_ds.images
    fig = Figure(figsize=(10, 10), dpi=100)
    axes = fig.subplots(2, 2)
    for column, (p, name, prefix) in enumerate(
        [(params, "flow matching", ""), (reflow_params, "reflow", "reflow_")]
    ):
        xs = np.asarray(trajectories(p))
        ax = axes[0, column]
        ax.scatter(*reference.T, s=1, c="0.85")
        ax.plot(xs[:, :, 0], xs[:, :, 1], lw=0.4, c="tab:blue", alpha=0.5)
        ax.scatter(*xs[0].T, s=3, c="0.4", label="noise")
        ax.scatter(*xs[-1].T, s=3, c="tab:red", label="sample")
        straight = figures[f"{prefix}straightness"]
        ax.set_title(f"{name}: trajectories, straightness {straight:.3g}", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        one_step = flow.draw(p, "euler", 1)
        ax = axes[1, column]
        ax.scatter(*reference.T, s=1, c="0.85")
        ax.scatter(*one_step.T, s=2, c="tab:blue")
        ax.set_title(f"{name}: 1 Euler step, SWD {flow.quality(one_step)[1]:.3f}", fontsize=10)
    lim = np.abs(reference).max() * 1.6
    for ax in axes.flat:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(png, format="png")


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/flow_matching")
