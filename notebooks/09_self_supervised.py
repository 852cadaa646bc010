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
# # 09 · Self-supervised learning: NCE, InfoNCE and mutual information
#
# Self-supervised methods learn by telling apart samples that belong together from samples that
# do not. This notebook follows the notes' chapter on self-supervised learning (F0:3312-3441):
# noise-contrastive estimation fits an unnormalised density by classification; InfoNCE and its
# relatives bound the mutual information between two views, checked here against correlated
# Gaussians whose MI is known in closed form; and a contrastive (SimCLR) encoder trained on the
# 8x8 digits is scored by the library's linear probe against a random encoder.

# %%
import math
import os
import tempfile
import warnings

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from gendiff import data, nets, ssl
from gendiff import eval as evaluation

warnings.filterwarnings("ignore", message="IProgress not found")  # fit shows no progress bar
from gendiff.train import create_train_state, fit, make_optimizer, make_train_step  # noqa: E402

QUICK = os.environ.get("GENDIFF_QUICK", "0") == "1"  # pytest sets it: fewer steps, same checks

# XLA on CPU compiles the initialisers of the networks several times faster with the classic
# (non-partitionable) threefry generator: a shorter cold start, other random draws.
jax.config.update("jax_threefry_partitionable", False)
TMP = tempfile.TemporaryDirectory()  # fit's checkpoints go here only

# %% [markdown]
# ## 1. Noise-contrastive estimation
#
# NCE (Gutmann & Hyvärinen; F0:3312-3401) fits a model $p_m(u) = \phi(u;\alpha)/Z$ whose
# normaliser is unknown by treating $c = \log Z$ as one more parameter and training a logistic
# classifier between the data $x_t$ and $\nu$ times as many noise samples $y_j \sim p_n$, on the
# log-ratio $G(u) = \log p_m(u) - \log p_n(u)$:
#
# $$J = \tfrac{1}{T_d}\Big[\textstyle\sum_t \log h(x_t) + \sum_j \log\big(1 - h(y_j)\big)\Big],
#   \qquad h(u) = \sigma\big(G(u) - \log\nu\big).$$
#
# (The notes' second sum runs over $t = T..2T$; it runs over the noise samples.) Maximising
# $J$ recovers the density *and* its normaliser. Here $\phi$ is a 2-D diagonal Gaussian written
# without its normaliser (`ssl.gaussian_log_phi`), so the learned $c$ can be checked against the
# closed form $\log Z(\hat\alpha) = \sum_i [\log \hat\sigma_i + \tfrac12 \log 2\pi]$.

# %%
TRUTH = {"mean": jnp.array([1.0, -0.5]), "log_scale": jnp.log(jnp.array([0.5, 1.5]))}
T_DATA, NU, NOISE_SCALE = 2000, 4, 3.0
key_data, key_noise = jax.random.split(jax.random.key(0))
x_data = TRUTH["mean"] + jnp.exp(TRUTH["log_scale"]) * jax.random.normal(key_data, (T_DATA, 2))
x_noise = NOISE_SCALE * jax.random.normal(key_noise, (T_DATA, NU, 2))  # nu per data point


def log_noise(x):  # the normalised noise density N(0, 3^2 I)
    return -0.5 * jnp.sum((x / NOISE_SCALE) ** 2, -1) - 2 * (
        math.log(NOISE_SCALE) + 0.5 * math.log(2 * math.pi)
    )


log_model = ssl.with_log_normalizer(ssl.gaussian_log_phi)


def nce_loss(params, batch, key):
    del key
    noise = batch["noise"].reshape(-1, 2)
    return ssl.nce_loss(log_model, params, batch["x"], noise, log_noise)


params0 = {
    "model": {"mean": jnp.zeros(2), "log_scale": jnp.zeros(2)},
    "log_normalizer": jnp.zeros(()),
}
NCE_STEPS = 500 if QUICK else 2000
nce_tx = make_optimizer({"optimizer": "adam", "learning_rate": 0.05})
nce_state, nce_last = fit(
    create_train_state(params0, nce_tx),
    make_train_step(nce_loss, nce_tx, ema_decay=0.0),
    data.ArrayBatches({"x": np.asarray(x_data), "noise": np.asarray(x_noise)}, T_DATA),
    jax.random.key(1),
    num_steps=NCE_STEPS,
    workdir=os.path.join(TMP.name, "nce"),
    log_every=NCE_STEPS,
    progress=False,
)
fitted = nce_state.params
c_hat = float(fitted["log_normalizer"])
log_z_fitted = float(ssl.gaussian_log_normalizer(fitted["model"]))
log_z_truth = float(ssl.gaussian_log_normalizer(TRUTH))
print(f"mean {np.round(fitted['model']['mean'], 3)} (truth {np.asarray(TRUTH['mean'])})")
print(
    f"scale {np.round(np.exp(fitted['model']['log_scale']), 3)} "
    f"(truth {np.exp(np.asarray(TRUTH['log_scale']))})"
)
print(
    f"learned log Z {c_hat:.4f}; log Z of the fitted model {log_z_fitted:.4f}; "
    f"of the truth {log_z_truth:.4f}"
)
print(f"classifier accuracy {nce_last['accuracy']:.3f}")
assert abs(c_hat - log_z_fitted) < 0.05  # NCE learns the normaliser of the model it fits
assert abs(c_hat - log_z_truth) < 0.1
assert np.allclose(fitted["model"]["mean"], TRUTH["mean"], atol=0.1)

# %% [markdown]
# ## 2. Mutual-information bounds at the optimal critic
#
# For a batch of $N$ pairs $(x_i, y_i) \sim p(x, y)$ and critic values $s_{ij} = f(x_i, y_j)$,
# the off-diagonal pairs stand in for $p(x)p(y)$, and (Poole et al. 2019)
#
# $$I_{\text{InfoNCE}} = \log N + \tfrac1N \textstyle\sum_i \big[s_{ii} - \log\sum_j e^{s_{ij}}\big]
#   \;\le\; \log N,$$
#
# $$I_{\text{NWJ}} = \mathbb E_P[f] - e^{-1}\,\mathbb E_Q[e^{f}], \qquad
#   I_{\text{DV}} = \mathbb E_P[f] - \log \mathbb E_Q[e^{f}].$$
#
# The InfoNCE loss of the notes (F0:3429) is $\log N - I_{\text{InfoNCE}}$. The test bed:
# $x \sim \mathcal N(0, I_d)$, $y = \rho x + \sqrt{1-\rho^2}\,\varepsilon$, whose MI is
# $I = -\tfrac d2 \log(1 - \rho^2)$ and whose density ratio $\log p(y\mid x)/p(y)$ is known, so
# each bound can be evaluated at its optimal critic ($f^*$ for InfoNCE and DV, $f^* + 1$ for NWJ)
# without any training. InfoNCE cannot exceed $\log N$; NWJ and DV are unbiased there but their
# variance grows like $e^{I}$.

# %%
DIM, N = 20, 128
MI_LEVELS = (0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
NUM_BATCHES = 50 if QUICK else 200


def bounds_at_optimum(key, rho):
    x, y = ssl.sample_correlated_gaussians(key, N, DIM, rho)
    s = ssl.optimal_log_ratio_scores(x, y, rho)
    return ssl.infonce_bound(s), ssl.nwj_bound(s + 1.0), ssl.dv_bound(s)


estimates = {}  # MI level -> (NUM_BATCHES, 3): InfoNCE, NWJ, DV per batch
for level, mi in enumerate(MI_LEVELS):
    rho = ssl.rho_for_mi(mi, DIM)
    assert abs(ssl.correlated_gaussian_mi(rho, DIM) - mi) < 1e-9  # -d/2 log(1 - rho^2)
    keys = jax.random.split(jax.random.fold_in(jax.random.key(2), level), NUM_BATCHES)
    estimates[mi] = np.stack(jax.vmap(lambda k, rho=rho: bounds_at_optimum(k, rho))(keys), -1)

log_n = math.log(N)
print(f"log N = {log_n:.3f}")
print("true MI   InfoNCE          NWJ              DV           (mean +- std over batches)")
for mi, e in estimates.items():
    cols = "  ".join(f"{m:6.3f} +- {s:5.3f}" for m, s in zip(e.mean(0), e.std(0)))
    print(f"{mi:6.1f}   {cols}")

fig, axes = plt.subplots(1, 3, figsize=(9, 3), sharey=True)
for ax, j, name in zip(axes, range(3), ("InfoNCE", "NWJ (f* + 1)", "DV")):
    mean = np.array([e[:, j].mean() for e in estimates.values()])
    std = np.array([e[:, j].std() for e in estimates.values()])
    ax.plot(MI_LEVELS, MI_LEVELS, "k-", lw=0.8, label="true MI")
    ax.axhline(log_n, color="k", ls="--", lw=0.8, label="log N")
    ax.errorbar(MI_LEVELS, mean, yerr=std, fmt="o-", ms=3, capsize=2)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("true MI [nats]")
    ax.set_ylim(-1, 12)
axes[0].set_ylabel("estimate at the optimal critic [nats]")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()

infonce = {mi: e[:, 0] for mi, e in estimates.items()}
assert all(np.all(v <= log_n + 1e-5) for v in infonce.values())  # never above log N
for mi in (0.5, 1.0, 2.0):  # close to the truth while I << log N (a lower bound: a bit below)
    assert mi - 0.15 < infonce[mi].mean() < mi + 0.05, (mi, infonce[mi].mean())
assert infonce[10.0].mean() < log_n < 10.0  # saturated: far below the truth
for mi in (0.5, 1.0, 2.0):  # NWJ and DV are close to the truth where e^I is small
    assert abs(estimates[mi][:, 1].mean() - mi) < 0.15
    assert abs(estimates[mi][:, 2].mean() - mi) < 0.15

# %% [markdown]
# ## 3. A contrastive encoder on the digits
#
# SimCLR (Chen et al. 2020) applies InfoNCE to representations: two random augmentations of the
# same image (a random crop, a shift and noise: `ssl.augment_batch`) form a positive pair, the
# other $2N - 2$ views of the batch are negatives, and the NT-Xent loss
#
# $$\mathcal L = -\tfrac1{2N}\textstyle\sum_k \log
#   \dfrac{\exp(\mathrm{sim}(z_k, z_{p(k)})/\tau)}{\sum_{l \ne k} \exp(\mathrm{sim}(z_k, z_l)/\tau)}$$
#
# with cosine similarity and temperature $\tau$ is minimised through a projection head. The
# encoder here is a small MLP with 16 output features; the projection head is dropped after
# training. The representation is scored by the library's one linear-probe protocol
# (`gendiff.eval.probe_encoder`: L2 logistic regression on frozen features, $\lambda$ chosen on a
# validation part of the training split), and so is the same encoder at its random
# initialisation, the baseline a useful representation must beat.

# %%
train_ds, test_ds = data.load("digits", "train"), data.load("digits", "test")
FEATURES = 16
encoder = nets.MLP(hidden=256, depth=2, features=FEATURES)
head = nets.MLP(hidden=128, depth=1, features=32)


@jax.jit
def init_simclr(key):
    key_enc, key_head = jax.random.split(key)
    return {
        "encoder": encoder.init(key_enc, jnp.zeros((1, 64))),
        "head": head.init(key_head, jnp.zeros((1, FEATURES))),
    }


def view(key, images):
    """A random view of images in [-1, 1]; the background moves to 0 first, so that what
    the shift fills in is background."""
    out = ssl.augment_batch(key, images + 1.0, crop_min_scale=0.6, max_shift=1, noise_std=0.1)
    return (out - 1.0).reshape(images.shape[0], -1)


def simclr_loss(params, batch, key):
    key_a, key_b = jax.random.split(key)
    z_a, z_b = (
        head.apply(params["head"], encoder.apply(params["encoder"], view(k, batch["image"])))
        for k in (key_a, key_b)
    )
    return ssl.nt_xent_loss(z_a, z_b, temperature=0.2)


SIMCLR_STEPS = 150 if QUICK else 2000
simclr_params = init_simclr(jax.random.key(6))
simclr_tx = make_optimizer({"optimizer": "adam", "learning_rate": 1e-3})
simclr_state, simclr_last = fit(
    create_train_state(simclr_params, simclr_tx),
    make_train_step(simclr_loss, simclr_tx, ema_decay=0.0),
    data.ArrayBatches.from_dataset(train_ds, 128, seed=0),
    jax.random.key(7),
    num_steps=SIMCLR_STEPS,
    workdir=os.path.join(TMP.name, "simclr"),
    log_every=SIMCLR_STEPS,
    progress=False,
)
print(
    f"{SIMCLR_STEPS} steps: NT-Xent {simclr_last['loss']:.3f}, positive found first in "
    f"{100 * simclr_last['accuracy']:.1f}% of the 2N anchors of the last batch"
)

# %%
probe_options = dict(l2_grid=(1e-4, 1e-3, 1e-2), max_iter=300 if QUICK else 1000)


def probe(encoder_params):
    def features(images):
        return encoder.apply(encoder_params, images.reshape(images.shape[0], -1))

    return evaluation.probe_encoder(
        features,
        train_ds.images,
        train_ds.labels,
        test_ds.images,
        test_ds.labels,
        **probe_options,
    )


random_result, _, random_features = probe(simclr_params["encoder"])
simclr_result, _, simclr_features = probe(simclr_state.params["encoder"])
print(
    f"linear probe, test accuracy: random encoder {random_result.test_accuracy:.3f}, "
    f"SimCLR encoder {simclr_result.test_accuracy:.3f}"
)
for name, f in (("random", random_features), ("SimCLR", simclr_features)):
    m = ssl.collapse_metrics(jnp.asarray(f))
    print(f"{name:7s} features: effective rank {float(m['effective_rank']):.2f} of {FEATURES}")
assert simclr_result.test_accuracy > random_result.test_accuracy + 0.03

fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
for ax, name, f, r in (
    (axes[0], "random encoder", random_features, random_result),
    (axes[1], "SimCLR encoder", simclr_features, simclr_result),
):
    centred = f - f.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=test_ds.labels, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    ax.set_title(f"{name}: probe {100 * r.test_accuracy:.1f}%", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(sc, ax=axes, ticks=range(10), fraction=0.03)
fig.suptitle("test features on their first two principal components", fontsize=9)
plt.show()

# %% [markdown]
# **Summary.** NCE recovers a Gaussian and its normaliser from a classifier; at the optimal critic
# InfoNCE is close to the true MI while $I \ll \log N$ and never passes $\log N$, while NWJ and
# DV follow the truth further at a variance that grows with the MI; and a contrastive MLP encoder
# beats its own random initialisation under the linear probe. The long runs are
# `python -m experiments.nce`, `python -m experiments.mi_estimation` (critics trained on InfoNCE,
# NWJ, JS and MINE over Poole et al.'s staircase of true MI) and `python -m experiments.ssl_digits`
# (SimCLR, MAE and JEPA ViTs).

# %%
TMP.cleanup()
