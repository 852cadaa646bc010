# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Flow matching and rectified flow
#
# The notes stop at the "flow-based view" (F4:18-21): a learned, time-dependent velocity field
# carries the prior to the data, and sampling solves an ODE. They give no objective for it
# (CATALOG §9); this lesson follows Lipman et al. (2023) and Liu et al. (2023).
#
# Take the straight line between a data point $x_0$ and a noise draw $x_1 \sim \mathcal N(0, I)$,
#
# $$x_t = (1 - t)\,x_0 + t\,x_1, \qquad \frac{d x_t}{dt} = x_1 - x_0 ,$$
#
# (`RectifiedFlowPath`: $\alpha_t = 1 - t$, $\sigma_t = t$). **Conditional flow matching**
# regresses a network on the velocity of these lines,
#
# $$L(v) = E_{t, x_0, x_1} \lVert v(x_t, t) - (x_1 - x_0) \rVert^2 ,$$
#
# whose minimiser $v^*(x, t) = E[x_1 - x_0 \mid x_t = x]$ moves the whole marginal $p_t$ along:
# solving $dx/dt = v^*(x, t)$ from noise at $t = 1$ down to $t = 0$ samples the data.

# %%
import functools
import os
import tempfile

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from gendiff import data
from gendiff import flow_matching as fm
from gendiff.data import ArrayBatches
from gendiff.eval import SampleScorer
from gendiff.nets import MLPDenoiser
from gendiff.paths import RectifiedFlowPath
from gendiff.sde.ode import solve_ode
from gendiff.train import create_train_state, fit, make_optimizer, make_train_step

QUICK = os.environ.get("GENDIFF_QUICK", "0") == "1"  # pytest sets it: fewer steps, same checks

TRAIN_STEPS = 500 if QUICK else 4000  # of each of the two networks
NUM_PAIRS = 4000 if QUICK else 20_000  # (noise, generated data) pairs for reflow
NUM_SAMPLES = 500 if QUICK else 1000
STEPS = (1, 2, 4) if QUICK else (1, 2, 4, 8, 16, 32)  # Euler steps (= NFE) for sampling

train, test = (
    data.load("toy2d/eight_gaussians", "train"),
    data.load("toy2d/eight_gaussians", "test"),
)
path = RectifiedFlowPath()
net = MLPDenoiser(hidden=64, depth=2)
model = lambda params: functools.partial(net.apply, params)


def train_network(loss_fn, arrays, key):
    """A freshly initialised network trained on ``loss_fn`` with gendiff.train.fit; EMA params."""
    params = jax.jit(net.init)(key, jnp.zeros((2, 2)), jnp.zeros(2))
    tx = make_optimizer(
        {"optimizer": "adam", "learning_rate": 2e-3, "schedule": "cosine", "num_steps": TRAIN_STEPS}
    )
    with tempfile.TemporaryDirectory() as workdir:
        state, last = fit(
            create_train_state(params, tx),
            make_train_step(loss_fn, tx, ema_decay=0.995),
            ArrayBatches(arrays, batch_size=256),
            jax.random.fold_in(key, 1),
            num_steps=TRAIN_STEPS,
            workdir=workdir,
            log_every=TRAIN_STEPS,
            progress=False,
        )
    print(f"{TRAIN_STEPS} steps, final loss {last['loss']:.3f}")
    return state.ema_params


# %% [markdown]
# ## 1-rectified flow
#
# `fm.flow_matching_loss` draws $t \sim U[0, 1]$ and $x_1$, and regresses the network on
# $x_1 - x_0$; the data are the eight Gaussians of `gendiff.data` (radius $\approx 1.41$).


# %%
def flow_loss(params, batch, key):
    return fm.flow_matching_loss(key, model(params), batch["x"], path)


flow = train_network(flow_loss, {"x": train.images}, jax.random.key(0))

# %% [markdown]
# ## Trajectories
#
# The lines $x_0 \to x_1$ of different pairs cross, and $v^*$ averages their directions where
# they do, so the learned ODE's trajectories bend: a point of noise first heads for the data
# mean, then turns towards a mode. Below, the ODE solved by `solve_ode` (RK4) from 300 noise
# draws, with the state kept at 25 times.

# %%
TIMES = jnp.linspace(path.t_max, path.t_min, 25)
x_1 = path.prior_sample(jax.random.key(1), (300, 2))


@jax.jit
def trajectories(params, x):
    def segment(x, ends):
        x = solve_ode(x, model(params), ends[0], ends[1], solver="rk4", num_steps=1)
        return x, x

    _, xs = jax.lax.scan(segment, x, jnp.stack([TIMES[:-1], TIMES[1:]], axis=1))
    return jnp.concatenate([x[None], xs])


def plot_trajectories(ax, params, title):
    xs = np.asarray(trajectories(params, x_1))
    ax.scatter(*test.images.T, s=1, c="0.85")
    ax.plot(xs[:, :, 0], xs[:, :, 1], lw=0.4, c="tab:blue", alpha=0.5)
    ax.scatter(*xs[0].T, s=3, c="0.4")
    ax.scatter(*xs[-1].T, s=3, c="tab:red")
    ax.set_title(title, fontsize=10)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xticks=[], yticks=[])


fig, ax = plt.subplots(figsize=(4, 4))
plot_trajectories(ax, flow, "1-rectified flow: noise (grey) to samples (red)")
plt.show()

# %% [markdown]
# ## Reflow
#
# Liu et al.'s remedy: couple each noise draw with the point the trained flow carries it to,
# $(x_1, \hat x_0 = \Phi(x_1))$ (`fm.reflow_pairs`), and train a fresh network on the lines
# between these pairs (`fm.coupled_flow_matching_loss`). The coupling is deterministic, so the
# new lines cross much less; the marginals are kept and the new flow is straighter. How
# straight, for one trajectory $x_t$ of $dx/dt = v$ (Liu et al. 2023):
#
# $$S = \int_0^1 \lVert (x_1 - x_0) - v(x_t, t) \rVert^2 \, dt ,$$
#
# 0 exactly for a line travelled at constant speed, where one Euler step is exact
# (`fm.straightness`, per trajectory).

# %%
x0_pairs, x1_pairs = jax.jit(
    lambda params, key: fm.reflow_pairs(
        key, model(params), path, (NUM_PAIRS, 2), solver="rk4", num_steps=20
    )
)(flow, jax.random.key(2))


def reflow_loss(params, batch, key):
    return fm.coupled_flow_matching_loss(key, model(params), batch["x0"], batch["x1"], path)


reflow = train_network(
    reflow_loss, {"x0": np.asarray(x0_pairs), "x1": np.asarray(x1_pairs)}, jax.random.key(3)
)

straightness = jax.jit(
    lambda params, x: jnp.mean(fm.straightness(model(params), path, x, solver="rk4", num_steps=20))
)
x_check = path.prior_sample(jax.random.key(4), (2000, 2))
S = {"flow": float(straightness(flow, x_check)), "reflow": float(straightness(reflow, x_check))}
print(f"straightness S: {S['flow']:.4f} before reflow, {S['reflow']:.4f} after")

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
plot_trajectories(axes[0], flow, f"1-rectified flow, S = {S['flow']:.3f}")
plot_trajectories(axes[1], reflow, f"2-rectified flow (reflow), S = {S['reflow']:.3f}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Few-step sampling before and after reflow
#
# Euler with $N$ steps, $x \leftarrow x - \tfrac1N v(x, t)$ (`fm.flow_sample`), spends $N$
# evaluations. One closed form to check: at $t = 1$ the point $x_1$ says nothing about $x_0$,
# so $v^*(x, 1) = x - E[x_0]$ and **one Euler step of the exact 1-rectified flow returns the
# data mean** $E[x_0] = 0$ for every noise draw. Reflow removes exactly this: its one-step
# samples land on the modes.

# %%
scorer = SampleScorer(jax.random.key(5), test.images, train.images, num_samples=NUM_SAMPLES)
baselines = scorer.baselines()
euler = jax.jit(
    lambda params, key, steps: fm.flow_sample(
        key, model(params), path, (NUM_SAMPLES, 2), solver="euler", num_steps=steps
    ),
    static_argnums=2,
)
samples = {(name, n): np.asarray(euler(p, jax.random.key(6), n)) for name, p in (("flow", flow), ("reflow", reflow)) for n in STEPS}  # fmt: skip
swd = {key: scorer.distance(x) for key, x in samples.items()}
for n in STEPS:
    print(
        f"{n:2d} Euler steps: SWD {swd['flow', n]:.3f} before reflow, {swd['reflow', n]:.3f} after"
    )
print(f"floor {baselines['swd_floor']:.3f}, noise {baselines['swd_noise']:.3f}")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
for name, style in (("flow", "o-"), ("reflow", "s-")):
    axes[0].plot(STEPS, [swd[name, n] for n in STEPS], style, ms=3, label=name)
axes[0].axhline(baselines["swd_floor"], c="k", lw=0.8, label="floor")
axes[0].set(xscale="log", yscale="log", xlabel="Euler steps (NFE)", ylabel="SWD to the test set")
axes[0].legend(fontsize=8)
for ax, name in zip(axes[1:], ("flow", "reflow")):
    ax.scatter(*test.images.T, s=1, c="0.85")
    ax.scatter(*samples[name, 1].T, s=2, c="tab:blue")
    ax.set_title(f"{name}: one Euler step, SWD {swd[name, 1]:.3f}", fontsize=10)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
fig.tight_layout()
plt.show()

# %% [markdown]
# Checks: one Euler step of the first flow collapses towards the data mean 0 (the data lie at
# radius 1.41); reflow straightens the flow and its one-step samples are far better.

# %%
one_step_radius = float(np.mean(np.linalg.norm(samples["flow", 1], axis=1)))
print(f"mean distance of the one-step samples from the data mean: {one_step_radius:.3f}")
assert one_step_radius < 0.35
assert S["reflow"] < S["flow"] / 3
assert swd["reflow", 1] < swd["flow", 1] / 2
