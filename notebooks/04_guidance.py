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
# # 04 · Guidance: classifier-free guidance and the diffusion classifier
#
# One class-conditional diffusion model, used twice: to *generate* with classifier-free
# guidance (F0:2263-2284) and to *classify* by its denoising error (F3:407-417).
#
# The toy has a closed form. Four classes, $x \mid y \sim \mathcal N(m_y, s^2 I)$ with means
# $m_y = (\pm a, \pm a)$ and equal weights. The Bayes classifier is the nearest mean, the
# quadrant of $x$, and it is right with probability
#
# $$P(\text{correct}) = \Phi(a / s)^2$$
#
# (both coordinates on the right side of 0). With $a = 1$, $s = 0.8$ that is $0.80$: the
# classes overlap, so how "classifiable" samples are is a figure that guidance can move.

# %%
import functools
import os
import tempfile

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from jax.scipy.stats import norm

from gendiff import guidance
from gendiff.data import ArrayBatches
from gendiff.eval import SampleScorer
from gendiff.metrics import assign_modes
from gendiff.nets import MLPDenoiser
from gendiff.paths import VPPath
from gendiff.samplers import SAMPLERS
from gendiff.train import create_train_state, fit, make_optimizer, make_train_step

QUICK = os.environ.get("GENDIFF_QUICK", "0") == "1"  # pytest sets it: fewer steps, same checks

TRAIN_STEPS = 1000 if QUICK else 5000
NUM_SAMPLES = 1000 if QUICK else 2000  # samples per guidance scale
DRAWS, ROUNDS = 8, (4 if QUICK else 16)  # diffusion classifier: (t, eps) draws per call, calls

MEANS, STD = jnp.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]), 0.8
NUM_CLASSES = NULL = 4  # labels 0..3; label 4 is the null label of classifier-free guidance
BAYES = float(norm.cdf(1.0 / STD) ** 2)


@functools.partial(jax.jit, static_argnums=1)
def draw(key, n):
    """n points and their labels from the four-Gaussian toy."""
    key_y, key_x = jax.random.split(key)
    y = jax.random.randint(key_y, (n,), 0, NUM_CLASSES)
    return MEANS[y] + STD * jax.random.normal(key_x, (n, 2)), y


x_train, y_train = draw(jax.random.key(0), 20_000)
x_test, y_test = draw(jax.random.key(1), NUM_SAMPLES)
print(f"Bayes accuracy Phi(a/s)^2 = {BAYES:.4f}")

# %% [markdown]
# ## Train with label dropout
#
# One network $\hat v(x_t, t, y)$ learns both the conditional and the unconditional model:
# each label is replaced by the null label with probability $p = 0.1$ (the notes' value), and
# the loss is DDPM's denoising loss (here in the $v$ parameterisation, on the VP path).
# `MLPDenoiser(num_classes=4)` embeds labels 0..4, the last being the null label.

# %%
path = VPPath()
net = MLPDenoiser(hidden=64, depth=2, num_classes=NUM_CLASSES)
params = jax.jit(net.init)(jax.random.key(2), x_train[:2], jnp.zeros(2), y_train[:2])
model = lambda params: functools.partial(net.apply, params)


def loss_fn(params, batch, key):
    return guidance.label_dropout_denoising_loss(
        key, model(params), batch["x"], batch["y"], path, label_dropout=0.1, null_label=NULL,
        prediction="v",
    )  # fmt: skip


tx = make_optimizer(
    {"optimizer": "adam", "learning_rate": 2e-3, "schedule": "cosine", "num_steps": TRAIN_STEPS}
)
with tempfile.TemporaryDirectory() as workdir:
    state, last = fit(
        create_train_state(params, tx),
        make_train_step(loss_fn, tx, ema_decay=0.995),
        ArrayBatches({"x": np.asarray(x_train), "y": np.asarray(y_train)}, batch_size=256),
        jax.random.key(3),
        num_steps=TRAIN_STEPS,
        workdir=workdir,
        log_every=TRAIN_STEPS,
        progress=False,
    )
params = state.ema_params
print(f"{TRAIN_STEPS} steps, final loss {last['loss']:.3f}")

# %% [markdown]
# ## Classifier-free guidance
#
# At sampling time the conditional and unconditional predictions are mixed,
#
# $$\hat v_w(x, t, y) = (1 + w)\,\hat v(x, t, y) - w\,\hat v(x, t, \varnothing),$$
#
# which for a score reads $\nabla \log p_t(x \mid y) + w\,\nabla \log p_t(y \mid x)$: the model
# is pushed along the gradient of an *implicit* classifier
# $p(y \mid x) \propto p(x \mid y) / p(x)$, towards points that are unmistakably of class $y$.
# `guidance.classifier_free_guidance` wraps the model; the mix is affine, so it is the same for
# $v$, $\varepsilon$ or score predictions, and any sampler takes the wrapped model with the
# labels as conditioning (`y=`). Here: DPM-Solver++(2M), which was designed for guided
# sampling, at 20 NFE. $w$ is an argument of the compiled program, so every scale reuses it.
#
# The samples are scored by `SampleScorer` with the Bayes classifier (nearest mean,
# `gendiff.metrics.assign_modes`) as the independent classifier: the accuracy of samples of
# the true $p(x \mid y)$ is exactly $\Phi(a/s)^2$.

# %%
SCALES = (0.0, 0.25, 0.5, 1.0, 2.0)
nearest_mean = lambda x: jax.nn.one_hot(assign_modes(x, MEANS)[0], NUM_CLASSES)
scorer = SampleScorer(
    jax.random.key(4), x_test, x_train, classifier=nearest_mean, num_samples=NUM_SAMPLES
)
labels = jnp.arange(NUM_SAMPLES) % NUM_CLASSES


@jax.jit
def guided_samples(params, key, w):
    guided = guidance.classifier_free_guidance(model(params), w, null_label=NULL)
    return SAMPLERS["dpm_solver_pp_2m"](
        key, guided, path, (NUM_SAMPLES, 2), nfe=20, prediction="v", y=labels
    )


samples = {w: np.asarray(guided_samples(params, jax.random.key(5), w)) for w in SCALES}
accuracy = {w: scorer.accuracy(x, labels) for w, x in samples.items()}
spread = {w: float(np.mean(np.linalg.norm(x - MEANS[labels], axis=1))) for w, x in samples.items()}
for w in SCALES:
    print(
        f"w = {w:4.2f}: accuracy {accuracy[w]:.3f}, mean distance to the class mean {spread[w]:.3f}"
    )
print(f"real test points: accuracy {scorer.accuracy(x_test, y_test):.3f}")

fig, axes = plt.subplots(1, len(SCALES), figsize=(11, 3), sharex=True, sharey=True)
for ax, w in zip(axes, SCALES):
    ax.scatter(*samples[w].T, c=np.asarray(labels), cmap="tab10", vmin=0, vmax=9, s=2)
    ax.axhline(0, c="k", lw=0.5)
    ax.axvline(0, c="k", lw=0.5)
    ax.set_title(f"w = {w:g}: accuracy {accuracy[w]:.2f}", fontsize=10)
    ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
fig.tight_layout()
plt.show()

# %% [markdown]
# Without guidance ($w = 0$) the model samples $p(x \mid y)$, so its samples are classified
# correctly at the Bayes rate; guidance trades diversity for classifiability, moving the
# samples away from the other classes. Checks:

# %%
assert abs(accuracy[0.0] - BAYES) < 0.05
assert all(accuracy[a] <= accuracy[b] for a, b in zip(SCALES, SCALES[1:]))
assert accuracy[SCALES[-1]] > 0.97

# %% [markdown]
# ## The diffusion classifier
#
# By Bayes, $p(y \mid x) \propto p(x \mid y)\,p(y)$, and the conditional model bounds
# $\log p(x \mid y)$ by its denoising error (the ELBO, DDPM's $L_\text{simple}$ weighting). With
# a uniform prior over classes (F3:407-417; Li et al. 2023):
#
# $$\hat y = \arg\min_y\; E_{t, \varepsilon}\, \lVert \varepsilon - \hat\varepsilon(\alpha_t x + \sigma_t \varepsilon, t, y) \rVert^2 ,$$
#
# estimated by Monte Carlo with the *same* $(t, \varepsilon)$ for every class, so that the noise
# common to all classes cancels. `guidance.diffusion_classifier_logits` returns
# $-\tfrac12$ that error per class (the model's $v$ is converted to $\varepsilon$). The logits
# are averages over draws, so averaging the logits of several calls averages over more draws.


# %%
@jax.jit
def classifier_logits(params, key, x):
    return guidance.diffusion_classifier_logits(
        key, model(params), path, x, NUM_CLASSES, num_samples=DRAWS, prediction="v"
    )


side = np.linspace(-3, 3, 40)
grid = jnp.asarray(np.stack(np.meshgrid(side, side), -1).reshape(-1, 2))
points = jnp.concatenate([x_test, grid])  # one program for the test points and the map
total, curve = 0.0, []
for i in range(ROUNDS):
    total = total + classifier_logits(params, jax.random.key(100 + i), points)
    curve.append(float(jnp.mean(jnp.argmax(total[:NUM_SAMPLES], axis=1) == y_test)))
decision = np.asarray(jnp.argmax(total[NUM_SAMPLES:], axis=1)).reshape(len(side), len(side))
bayes_on_test = float(jnp.mean(assign_modes(x_test, MEANS)[0] == y_test))
print(f"diffusion classifier: accuracy {curve[-1]:.3f} with {DRAWS * ROUNDS} draws per point")
print(f"Bayes classifier on the same points: {bayes_on_test:.3f}; chance: {1 / NUM_CLASSES}")

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
left.plot(DRAWS * np.arange(1, ROUNDS + 1), curve, marker="o", ms=3, label="diffusion classifier")
left.axhline(bayes_on_test, c="k", lw=0.8, label="Bayes classifier")
left.axhline(1 / NUM_CLASSES, c="k", lw=0.8, ls=":", label="chance")
left.set(xscale="log", xlabel="(t, eps) draws per point", ylabel="test accuracy", ylim=(0, 1))
left.legend(fontsize=8)
right.imshow(
    decision, origin="lower", extent=(-3, 3, -3, 3), cmap="tab10", vmin=0, vmax=9, alpha=0.5
)
right.scatter(*np.asarray(MEANS).T, c="k", marker="x")
right.set_title("decisions of the diffusion classifier", fontsize=10)
fig.tight_layout()
plt.show()

# %%
assert curve[-1] > 2 / NUM_CLASSES  # far above chance (0.25)
assert curve[-1] > bayes_on_test - 0.06  # and close to the best any classifier can do
