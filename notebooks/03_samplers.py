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
# # 03 · Samplers: sample quality against the number of network evaluations
#
# One trained diffusion model, every sampler of `gendiff.samplers.SAMPLERS`. All of them start
# from the Gaussian path of the notes (DDPM's forward process, F0:1329-1347, in continuous time)
#
# $$x_t = \alpha_t x_0 + \sigma_t \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I),$$
#
# and spend at most a budget of **NFE** (network function evaluations). They differ in what
# they integrate: ancestral sampling (F0:1686-1703) and Euler-Maruyama / predictor-corrector
# discretise the reverse SDE of Anderson (F0:2637-2657)
# $dx = [f(t)x - g(t)^2 \nabla_x \log p_t(x)]\,dt + g(t)\,d\bar W$; DDIM with $\eta = 0$
# (F0:2938), the ODE solvers, EDM's Heun and DPM-Solver(++) integrate the probability-flow ODE
# $\frac{dx}{dt} = f(t)x - \tfrac12 g(t)^2 \nabla_x \log p_t(x)$, which has the same marginals
# $p_t$ but no noise (the notes only name it, CATALOG §7). The score comes from the network's
# prediction: $\nabla_x \log p_t(x) \approx -\hat\varepsilon(x, t) / \sigma_t$.

# %%
import functools
import os
import tempfile

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from gendiff import data, ddim, ddpm
from gendiff.data import ArrayBatches
from gendiff.eval import SampleScorer
from gendiff.nets import MLPDenoiser
from gendiff.paths import VPPath, time_grid
from gendiff.samplers import DETERMINISTIC, SAMPLERS
from gendiff.train import create_train_state, fit, make_optimizer, make_train_step

QUICK = os.environ.get("GENDIFF_QUICK", "0") == "1"  # pytest sets it: fewer steps, same checks

TRAIN_STEPS = 400 if QUICK else 3000
NUM_SAMPLES = 500 if QUICK else 1000  # samples per sampler and NFE (and rows of every SWD)
LOW_NFE = 8  # the budget of the scatter grid and of the checks
NFES = (LOW_NFE,) if QUICK else (4, 8, 16, 32, 64)
TOLERANCES = (1e-5,) if QUICK else (1e-2, 1e-3, 1e-4, 1e-5)  # of 'ode_adaptive'
# The sampling programs below run for milliseconds and take seconds to compile: ask XLA for
# its cheaper code generation (a third less compile time, the same run time here).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
jit = functools.partial(jax.jit, compiler_options=FAST_COMPILE)

# %% [markdown]
# ## Train one model
#
# Two moons (`gendiff.data`, standardised to mean 0 and $E|x|^2 = 2$), a residual MLP, and the
# denoising loss of DDPM (F0:1664-1682) on the VP path in the $v$ parameterisation
# $v = \alpha_t \varepsilon - \sigma_t x_0$ (Salimans & Ho 2022), which every sampler converts
# to $(\hat x_0, \hat\varepsilon)$ itself. Training goes through `gendiff.train.fit`, the
# library's one training entry point.

# %%
train, test = data.load("toy2d/two_moons", "train"), data.load("toy2d/two_moons", "test")
path = VPPath()  # beta from 0.1 to 20: the continuous limit of DDPM's linear schedule
net = MLPDenoiser(hidden=64, depth=2) if QUICK else MLPDenoiser(hidden=128, depth=2)
params = jax.jit(net.init)(jax.random.key(0), train.images[:2], jnp.zeros(2))


def loss_fn(params, batch, key):
    model_fn = functools.partial(net.apply, params)
    return ddpm.denoising_loss(key, model_fn, batch["x"], path, prediction="v")


tx = make_optimizer(
    {"optimizer": "adam", "learning_rate": 2e-3, "schedule": "cosine", "num_steps": TRAIN_STEPS}
)
with tempfile.TemporaryDirectory() as workdir:
    state, last = fit(
        create_train_state(params, tx),
        make_train_step(loss_fn, tx, ema_decay=0.995),
        ArrayBatches({"x": train.images}, batch_size=256),
        jax.random.key(1),
        num_steps=TRAIN_STEPS,
        workdir=workdir,
        log_every=TRAIN_STEPS,
        progress=False,
    )
params = state.ema_params
print(f"{TRAIN_STEPS} steps, final loss {last['loss']:.3f}")

# %% [markdown]
# ## Quality against NFE, for every sampler
#
# Every sampler is called through the registry's one signature,
# `SAMPLERS[name](key, model_fn, path, shape, nfe=..., prediction="v", x_init=x_T)`, from the
# same prior draw $x_T$. A budget below a sampler's smallest run (RK4 needs four evaluations a
# step plus the final $\hat x_0$) raises a `ValueError` before anything is traced, and that
# sampler is left out at that NFE. Each NFE compiles all samplers into one program.
# `ode_adaptive` (diffrax's Tsit5) picks its own steps: it is run at a few tolerances and
# plotted at the NFE it used.
#
# Quality is the sliced Wasserstein distance (SWD) to the test split from `SampleScorer`, with
# its two baselines: the *floor* (as many real training points) and the *noise* value.
#
# The deterministic samplers all approximate one map, the probability-flow ODE from $x_T$ to
# $x_0$, so their distance to an accurate solution of it (Tsit5 at the tightest tolerance)
# measures the discretisation error alone, whatever the quality of the model.

# %%
model = lambda params: functools.partial(net.apply, params)
scorer = SampleScorer(jax.random.key(2), test.images, train.images, num_samples=NUM_SAMPLES)
baselines = scorer.baselines()
x_T = path.prior_sample(jax.random.key(3), (NUM_SAMPLES, 2))
FIXED = [name for name in SAMPLERS if name != "ode_adaptive"]


@functools.partial(jit, static_argnums=3)
def every_sampler(params, key, x_T, nfe):
    """{name: (samples, stats)} for every fixed-budget sampler that accepts this nfe."""
    drawn = {}
    for name in FIXED:
        try:
            drawn[name] = SAMPLERS[name](
                key, model(params), path, x_T.shape, nfe=nfe, prediction="v", x_init=x_T,
                return_stats=True,
            )  # fmt: skip
        except ValueError:  # nfe below this sampler's smallest run
            pass
    return drawn


@functools.partial(jit, static_argnums=3)
def adaptive(params, key, x_T, tolerance):
    return SAMPLERS["ode_adaptive"](
        key, model(params), path, x_T.shape, nfe=4000, prediction="v", x_init=x_T,
        rtol=tolerance, atol=tolerance, return_stats=True,
    )  # fmt: skip


runs = {}  # (name, requested nfe or tolerance) -> (samples, NFE used)
for nfe in NFES:
    for name, (x, stats) in every_sampler(params, jax.random.key(4), x_T, nfe).items():
        runs[name, nfe] = (np.asarray(x), int(stats["nfe"]))
for tolerance in TOLERANCES:
    x, stats = adaptive(params, jax.random.key(4), x_T, tolerance)
    runs["ode_adaptive", tolerance] = (np.asarray(x), int(stats["nfe"]))

reference = runs["ode_adaptive", min(TOLERANCES)][0]
swd = {key: scorer.distance(x) for key, (x, _) in runs.items()}
ode_error = {
    key: float(np.mean(np.linalg.norm(x - reference, axis=1)))
    for key, (x, _) in runs.items()
    if key[0] in DETERMINISTIC and key != ("ode_adaptive", min(TOLERANCES))
}

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
colours = dict(zip(SAMPLERS, plt.cm.tab20(np.linspace(0, 1, 20))))
for name in SAMPLERS:
    keys = [key for key in runs if key[0] == name]
    used = [runs[key][1] for key in keys]
    style = dict(marker="o", ms=3, color=colours[name], ls="-" if name in DETERMINISTIC else "--")
    left.plot(used, [swd[key] for key in keys], label=name, **style)
    if any(key in ode_error for key in keys):
        right.plot(used, [ode_error.get(key, np.nan) for key in keys], **style)
left.axhline(baselines["swd_floor"], color="k", lw=0.8, label="floor (real data)")
left.axhline(baselines["swd_noise"], color="k", lw=0.8, ls=":", label="noise")
left.set(xscale="log", yscale="log", xlabel="NFE used", ylabel="SWD to the test set")
left.set_ylim(0.5 * baselines["swd_floor"], 4 * baselines["swd_noise"])
left.set_title("sample quality (dashed: stochastic)", fontsize=10)
right.set(xscale="log", yscale="log", xlabel="NFE used")
right.set_title("deterministic: mean distance to the exact ODE map", fontsize=10)
fig.legend(fontsize=7, loc="center right")
fig.tight_layout(rect=(0, 0, 0.84, 1))
plt.show()

# %% [markdown]
# What the curves say (two moons, this model): every sampler reaches about the same quality
# once it has enough evaluations; what separates them is how fast they get there. The
# stochastic samplers (dashed) need the most: ancestral sampling at 8 NFE is still far from
# the data. On the right, by 64 NFE the higher-order ODE solvers (RK4, DPM-Solver-3,
# DPM-Solver++(2M)/(3M)) are several times closer to the exact ODE map than the first-order
# DDIM (= DPM-Solver-1 on another grid). At 8 NFE the steps are too long for the orders to show
# and no ranking is safe (plain Euler does well on this toy). EDM's Heun diverges at the
# lowest budgets: its grid spans $\sigma_t / \alpha_t$ from about 150 down to 0.01 here, and a
# Heun correction across so large a step amplifies the model's error. Two checks at 8 NFE:
# DPM-Solver++(2M), the multistep second-order solver, is closer to the exact ODE map than
# DDIM and gives better samples than ancestral sampling.

# %%
top = max(NFES)
print(f"NFE {top}: distance to the exact ODE map, " + ", ".join(
    f"{n} {ode_error[n, top]:.4f}" for n in ("ode_euler", "ddim", "ode_rk4", "dpm_solver_pp_3m")))  # fmt: skip
print(f"NFE {LOW_NFE}: distance to the exact ODE map, DDIM {ode_error['ddim', LOW_NFE]:.3f}, "
      f"DPM-Solver++(2M) {ode_error['dpm_solver_pp_2m', LOW_NFE]:.3f}")  # fmt: skip
print(f"NFE {LOW_NFE}: SWD, ancestral {swd['ancestral', LOW_NFE]:.3f}, "
      f"DPM-Solver++(2M) {swd['dpm_solver_pp_2m', LOW_NFE]:.3f}")  # fmt: skip
assert ode_error["dpm_solver_pp_2m", LOW_NFE] < 0.6 * ode_error["ddim", LOW_NFE]
assert swd["dpm_solver_pp_2m", LOW_NFE] < 0.75 * swd["ancestral", LOW_NFE]

# %% [markdown]
# ## The samplers at NFE = 8
#
# Same $x_T$ for all; grey: the test set. (`ode_adaptive` at its loosest tolerance.)

# %%
fig, axes = plt.subplots(4, 4, figsize=(9, 9), sharex=True, sharey=True)
for ax, name in zip(axes.flat, SAMPLERS):
    key = (name, max(TOLERANCES)) if name == "ode_adaptive" else (name, LOW_NFE)
    x, used = runs[key]
    ax.scatter(*test.images[:1000].T, s=1, c="0.85")
    ax.scatter(*x.T, s=1, c="tab:blue")
    ax.set_title(f"{name}\nNFE {used}, SWD {swd[key]:.3f}", fontsize=8)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
fig.tight_layout()
plt.show()

# %% [markdown]
# ## A closed form: Gaussian data
#
# For data $\mathcal N(\mu, s^2 I)$ the marginal is $x_t \sim \mathcal N(\alpha_t \mu, r_t^2 I)$
# with $r_t^2 = \alpha_t^2 s^2 + \sigma_t^2$, and the optimal denoiser is known exactly:
#
# $$\hat\varepsilon^*(x, t) = E[\varepsilon \mid x_t = x] = \frac{\sigma_t (x - \alpha_t \mu)}{r_t^2}.$$
#
# With it in place of a network the probability-flow ODE is a scaling,
# $x_t - \alpha_t \mu = (r_t / r_T)(x_T - \alpha_T \mu)$, so an accurate solver returns
# samples of mean $\mu$ and standard deviation $s$ (up to Monte Carlo error, $s / \sqrt n$ for
# the mean). DDIM's answer is known in closed form too: writing
# $(\alpha_t s, \sigma_t) = r_t(\cos\theta_t, \sin\theta_t)$, its step $t \to t'$,
# $x_{t'} = \alpha_{t'} \hat x_0 + \sigma_{t'} \hat\varepsilon$, multiplies $x - \alpha\mu$ by
# $(r_{t'} / r_t)\cos(\theta_t - \theta_{t'})$: the exact factor times a cosine. So DDIM
# shrinks the spread by $\prod_k \cos\Delta\theta_k$ over its time grid (`time_grid`), a
# first-order error that vanishes only as the steps shrink. All three samplers get about 20
# NFE and start from the same $x_T$.

# %%
MU, S, N_GAUSS = jnp.array([0.5, -0.3]), 0.5, 20_000
BUDGETS = {"ode_rk4": 21, "dpm_solver_pp_3m": 20, "ddim": 20}


def gaussian_eps(x, t):
    alpha, sigma = path.alpha(t)[:, None], path.sigma(t)[:, None]
    return sigma * (x - alpha * MU) / (alpha**2 * S**2 + sigma**2)


@jit
def gaussian_runs(x_T):
    return {
        n: SAMPLERS[n](None, gaussian_eps, path, x_T.shape, nfe=k, x_init=x_T)
        for n, k in BUDGETS.items()
    }


x_T_gauss = path.prior_sample(jax.random.key(5), (N_GAUSS, 2))
gauss = gaussian_runs(x_T_gauss)
for name, x in gauss.items():
    mean, std = np.asarray(x.mean(0)), np.asarray(x.std(0))
    print(f"{name:17s} NFE {BUDGETS[name]}: mean - mu {np.round(mean - np.asarray(MU), 4)}, "
          f"std / s {np.round(std / S, 4)}")  # fmt: skip
    assert np.all(np.abs(mean - np.asarray(MU)) < 4 * S / np.sqrt(N_GAUSS))
for name in ("ode_rk4", "dpm_solver_pp_3m"):
    assert np.all(np.abs(np.asarray(gauss[name].std(0)) / S - 1) < 0.02)

# DDIM: 19 steps on time_grid, then its 20th evaluation returns x0_hat = mu + (s cos(theta) / r) (x - alpha mu).
grid = time_grid(path, BUDGETS["ddim"] - 1)
theta = jnp.arctan2(path.sigma(grid), S * path.alpha(grid))
r = jnp.hypot(path.sigma(grid), S * path.alpha(grid))
shrink = jnp.prod(jnp.cos(jnp.diff(theta)))
ddim_closed_form = MU + S * jnp.cos(theta[-1]) / r[0] * shrink * (
    x_T_gauss - path.alpha(grid[0]) * MU
)
print(f"DDIM shrinks the spread by prod cos(dtheta) = {float(shrink):.4f}; largest gap to the "
      f"closed form: {float(jnp.abs(gauss['ddim'] - ddim_closed_form).max()):.1e}")  # fmt: skip
assert float(jnp.abs(gauss["ddim"] - ddim_closed_form).max()) < 1e-4

# %% [markdown]
# ## DDIM inversion
#
# With $\bar x = x / \alpha$ and $\bar\sigma = \sigma / \alpha$, the $\eta = 0$ DDIM step is an
# Euler step of $d\bar x = \hat\varepsilon\, d\bar\sigma$ (F0:2932-2989). Run upwards it encodes
# data into noise,
#
# $$\bar x_t = \bar x_s + \hat\varepsilon(x_s, s)\,(\bar\sigma_t - \bar\sigma_s),$$
#
# using $\hat\varepsilon$ at the known earlier point $x_s$ (the usual approximation, F0:2983),
# so decoding returns the data only up to a first-order error. `fixed_point_iterations`
# solves each step for the $x_t$ that decodes exactly to $x_s$ (Pan et al. 2023).

# %%
INVERSION_STEPS, ITERATIONS = 50, 10
x0 = jnp.asarray(test.images[:NUM_SAMPLES])


@jit
def round_trip(params, x0):
    """(code, decoded) for the plain inversion (0) and with ITERATIONS fixed-point refinements."""
    out = {}
    for iterations in (0, ITERATIONS):
        x_T = ddim.ddim_invert(model(params), path, x0, num_steps=INVERSION_STEPS, prediction="v",
                               fixed_point_iterations=iterations)  # fmt: skip
        back = ddim.ddim_sample(None, model(params), path, x0.shape, num_steps=INVERSION_STEPS,
                                x_init=x_T, prediction="v")  # fmt: skip
        out[iterations] = (x_T, back)
    return out


trips = round_trip(params, x0)
error = {k: float(jnp.mean(jnp.linalg.norm(back - x0, axis=1))) for k, (_, back) in trips.items()}
latent, decoded = trips[ITERATIONS]
print(f"mean |x0 - decode(invert(x0))| over {INVERSION_STEPS} steps: {error[0]:.1e} (plain), "
      f"{error[ITERATIONS]:.1e} ({ITERATIONS} fixed-point iterations)")  # fmt: skip
print(
    f"code: mean {np.round(np.asarray(latent.mean(0)), 3)}, std {np.round(np.asarray(latent.std(0)), 3)}"
)

fig, axes = plt.subplots(1, 4, figsize=(11, 3), sharex=True, sharey=True)
colour = dict(c=np.asarray(x0[:, 0]), cmap="viridis", s=3)
panels = (
    (x0, "data $x_0$"),
    (latent, "code $x_T$ = invert($x_0$)"),
    (trips[0][1], f"decoded, plain: error {error[0]:.0e}"),
    (decoded, f"decoded, fixed point: error {error[ITERATIONS]:.0e}"),
)
for ax, (x, title) in zip(axes, panels):
    ax.scatter(*np.asarray(x).T, **colour)
    ax.set_title(title, fontsize=9)
    ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal")
fig.tight_layout()
plt.show()

# %% [markdown]
# The plain inversion decodes to within a few hundredths (its error shrinks like $1/N$ in the
# number of steps); the fixed-point refinement makes the round trip exact to float precision,
# and the code of the data looks like the prior $\mathcal N(0, I)$.

# %%
assert error[ITERATIONS] < 1e-4 and error[0] > 100 * error[ITERATIONS]
assert np.all(np.abs(np.asarray(latent.std(0)) - 1) < 0.15)
