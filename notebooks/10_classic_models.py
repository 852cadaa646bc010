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
# # 10 · Classic latent-variable models
#
# Before deep generative models there were mixtures, linear-Gaussian factor models, Boltzmann
# machines and hidden Markov models. Each has a latent variable and a likelihood that can be
# computed (or bounded) exactly, which makes them good places to check the ideas the deep models
# reuse: EM and its lower bound (notes F3:42-103), k-means (F3:107-116), PCA and probabilistic
# PCA (F3:124-184), the partition function of an RBM (F2:852-940), and forward-backward and
# Viterbi in an HMM (F0:3005-3029). Everything below runs on `gendiff.classic`.

# %%
import itertools
import os
import tempfile
import warnings

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from gendiff import classic, data
from gendiff import eval as evaluation

warnings.filterwarnings("ignore", message="IProgress not found")  # fit shows no progress bar
from gendiff.train import create_train_state, fit, make_optimizer, make_train_step  # noqa: E402

QUICK = os.environ.get("GENDIFF_QUICK", "0") == "1"  # pytest sets it: fewer steps, same checks

TMP = tempfile.TemporaryDirectory()  # fit's checkpoints and the PNG grids go here only


def show_grid(images, nrow, title):
    """Shows images in [-1, 1] through the library's PNG grid writer."""
    path = os.path.join(TMP.name, "grid.png")
    evaluation.save_image_grid(path, np.asarray(images), nrow=nrow, title=title)
    display(Image(filename=path))


def ellipse(ax, mean, cov, **style):
    """The 2-sigma contour of N(mean, cov)."""
    vals, vecs = np.linalg.eigh(np.asarray(cov))
    t = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(t), np.sin(t)])
    pts = np.asarray(mean)[:, None] + vecs @ (2 * np.sqrt(vals)[:, None] * circle)
    ax.plot(pts[0], pts[1], **style)


# %% [markdown]
# ## 1. Gaussian mixtures and EM
#
# $p(x) = \sum_z p_z\, \mathcal N(x; \mu_z, \Sigma_z)$. For any distribution $Q(z\mid x_i)$,
#
# $$\log p(x_i\mid\theta) \;\ge\; \textstyle\sum_z Q(z\mid x_i)\log\big(p_z \mathcal N(x_i;
#   \mu_z, \Sigma_z)\big) + H(Q),$$
#
# with equality at $Q(z\mid x_i) = p(z\mid x_i, \theta)$ (F3:69-103; the notes write "=" at F3:77).
# EM alternates that E-step with the M-step that maximises the bound over $\theta$ (here in
# closed form; the notes take a gradient step, `m_step="gradient"`). The bound is tight after each
# E-step and the M-step raises it, so the log-likelihood **never decreases**.

# %%
true_gmm = classic.GMMParams(
    weights=jnp.array([0.5, 0.3, 0.2]),
    means=jnp.array([[-2.0, 0.0], [2.0, 1.0], [0.5, -2.5]]),
    covariances=jnp.array(
        [[[1.0, 0.6], [0.6, 0.8]], [[0.6, -0.3], [-0.3, 0.5]], [[0.3, 0.0], [0.0, 1.2]]]
    ),
    precisions_cholesky=jnp.zeros((3, 2, 2)),  # not used by sampling
)
x, z_true = classic.gmm_sample(jax.random.key(0), true_gmm, 600 if QUICK else 1500)
NUM_ITERS = 60
gmm = classic.gmm_em(jax.random.key(1), x, 3, init="random", num_iters=NUM_ITERS, tol=0.0)
bounds = np.asarray(gmm.lower_bounds)
print(f"mean log-likelihood: {bounds[0]:.4f} after the first E-step, {bounds[-1]:.4f} at the end")
print(f"largest decrease between iterations: {max(0.0, -np.diff(bounds).min()):.2e}")
assert np.all(np.diff(bounds) >= -1e-5)  # EM never lowers the likelihood
assert bounds[-1] > bounds[0] + 0.1

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
axes[0].scatter(x[:, 0], x[:, 1], s=3, c=np.asarray(z_true), cmap="tab10", vmin=0, vmax=9)
for k in range(3):
    ellipse(axes[0], true_gmm.means[k], true_gmm.covariances[k], color="k", ls=":", lw=1)
    ellipse(axes[0], gmm.params.means[k], gmm.params.covariances[k], color="tab:red", lw=1.5)
axes[0].set_aspect("equal")
axes[0].set_title("2-sigma ellipses: truth (dotted), EM fit (red)", fontsize=9)
axes[1].plot(np.arange(1, NUM_ITERS + 1), bounds)
axes[1].set_xlabel("EM iteration")
axes[1].set_ylabel("mean log-likelihood")
axes[1].set_title("EM from random responsibilities", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. k-means
#
# k-means minimises the inertia $C = \sum_j \sum_{x_i \in S_j} \lVert x_i - c_j\rVert^2$
# (F3:107-116) by alternating nearest-centre assignment and moving each centre to the mean of its
# own cluster (F3:112 divides by $n$; the mean divides by the cluster's size $n_j$). It is the
# limit of EM for a mixture with shared spherical covariances shrinking to 0: hard assignments,
# no covariances, no weights.

# %%
km = classic.kmeans(jax.random.key(2), x, 3)
centres, labels = np.asarray(km.centres), np.asarray(km.labels)
inertia_numpy = sum(np.sum((np.asarray(x)[labels == j] - centres[j]) ** 2) for j in range(3))
print(f"k-means: {int(km.num_iters)} Lloyd iterations, inertia {float(km.inertia):.3f}")
assert abs(float(km.inertia) - inertia_numpy) < 1e-3 * inertia_numpy
nearest = np.argmin(((np.asarray(x)[:, None] - centres[None]) ** 2).sum(-1), axis=1)
assert np.array_equal(nearest, labels)  # a fixed point: every point at its nearest centre
for j in range(3):  # ... and every centre at the mean of its points
    assert np.allclose(centres[j], np.asarray(x)[labels == j].mean(0), atol=1e-4)

fig, ax = plt.subplots(figsize=(4, 3.4))
ax.scatter(x[:, 0], x[:, 1], s=3, c=labels, cmap="Set2")
ax.scatter(*centres.T, marker="x", s=80, c="k", label="k-means centres")
ax.scatter(*np.asarray(gmm.params.means).T, marker="+", s=80, c="tab:red", label="GMM means")
ax.set_aspect("equal")
ax.legend(fontsize=7)
ax.set_title("k-means clusters", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. PCA and probabilistic PCA
#
# PCA's best rank-$m$ encoder/decoder pair is the top-$m$ eigenvectors of the scatter matrix
# $S = \sum_i (x_i - \bar x)(x_i - \bar x)^\top$, and the squared reconstruction error is the sum
# of its dropped eigenvalues, $\mathrm{Tr}\,S - \mathrm{Tr}\,U^\top S U$ (F3:170 writes "+").
# Probabilistic PCA (F3:172-184) is the latent-variable model $x = Wz + \mu + \varepsilon$,
# $z \sim \mathcal N(0, I_m)$, $\varepsilon \sim \mathcal N(0, \sigma^2 I)$; the notes derive only
# $\mu_{ML} = \bar x$. The rest of the maximum (Tipping & Bishop 1999) is
#
# $$\sigma^2_{ML} = \frac{1}{d - m} \sum_{j > m} \lambda_j,\qquad
#   W_{ML} = U_m (\Lambda_m - \sigma^2 I)^{1/2},$$
#
# with $\lambda_j$ the eigenvalues of the sample covariance: the noise takes the average of the
# variance PCA throws away. Data: the 64-pixel digits.

# %%
train_ds, test_ds = data.load("digits", "train"), data.load("digits", "test")
x_digits = jnp.asarray(train_ds.images.reshape(len(train_ds), -1))
n, d = x_digits.shape
centred = np.asarray(x_digits - x_digits.mean(0), np.float64)
eigenvalues = np.linalg.eigvalsh(centred.T @ centred / n)[::-1]  # a second computation: numpy
M = 10
pca = classic.pca(x_digits, M)
ppca = classic.ppca(x_digits, M)
sigma2_numpy = eigenvalues[M:].mean()
print(
    f"PPCA sigma^2 {float(ppca.noise_variance):.5f}; mean of the {d - M} dropped eigenvalues "
    f"{sigma2_numpy:.5f}"
)
print(
    f"PCA residual {float(pca.residual):.3f}; n x sum of the dropped eigenvalues "
    f"{n * eigenvalues[M:].sum():.3f}"
)
assert abs(float(ppca.noise_variance) - sigma2_numpy) < 1e-4 * sigma2_numpy + 1e-6
assert abs(float(pca.residual) - n * eigenvalues[M:].sum()) < 1e-3 * float(pca.residual)
# The model covariance W W^T + sigma^2 I keeps the top m eigenvalues exactly ...
model_cov = np.asarray(ppca.W @ ppca.W.T) + float(ppca.noise_variance) * np.eye(d)
model_eigenvalues = np.linalg.eigvalsh(model_cov)[::-1]
assert np.allclose(model_eigenvalues[:M], eigenvalues[:M], rtol=1e-3)
assert np.allclose(model_eigenvalues[M:], sigma2_numpy, rtol=1e-3)  # ... and flattens the rest

x_test_digits = jnp.asarray(test_ds.images.reshape(len(test_ds), -1))
held_out_ll = jax.jit(
    lambda m: classic.ppca_log_prob(x_test_digits, classic.ppca(x_digits, m)).mean(),
    static_argnums=0,
)
test_ll = {m: float(held_out_ll(m)) for m in ((2, 20) if QUICK else (1, 2, 5, 10, 20, 30, 40))}
print("PPCA test log-likelihood per image:", {m: round(v, 1) for m, v in test_ll.items()})

fig, axes = plt.subplots(1, 2, figsize=(9, 3))
axes[0].semilogy(np.arange(1, d + 1), eigenvalues, ".-", label="eigenvalues of the covariance")
axes[0].semilogy([M + 1, d], [sigma2_numpy] * 2, "r-", lw=2, label=f"PPCA sigma^2 (m = {M})")
axes[0].axvline(M + 0.5, color="k", ls=":", lw=0.8)
axes[0].set_xlabel("index j")
axes[0].legend(fontsize=7)
axes[0].set_ylim(1e-4, 10)
axes[0].set_title("PCA spectrum of the digits (a few pixels never vary)", fontsize=9)
axes[1].plot(list(test_ll), list(test_ll.values()), "o-")
axes[1].set_xlabel("latent dimension m")
axes[1].set_ylabel("test log-likelihood [nats]")
axes[1].set_title("probabilistic PCA, held-out digits", fontsize=9)
fig.tight_layout()
plt.show()
axes_pca = np.asarray(pca.components).reshape(M, 8, 8, 1)
show_grid(
    axes_pca / np.abs(axes_pca).max(axis=(1, 2, 3), keepdims=True), 5, "the first 10 principal axes"
)

# %% [markdown]
# ## 4. A restricted Boltzmann machine and its partition function
#
# A binary RBM has energy $E(x, h) = -a^\top x - b^\top h - x^\top W h$ and
# $p(x) = \sum_h e^{-E(x,h)} / Z$ (F2:852-940). $Z$ sums over $2^{M+N}$ configurations (F2:766);
# summing out one layer in closed form leaves $2^{\min(M,N)}$ terms, exact for a handful of hidden
# units. For more units $\log Z$ must be estimated, by annealed importance sampling (AIS) from an
# independent base model through the RBMs with parameters $(\beta W, (1-\beta)a_0 + \beta a,
# \beta b)$. We train an RBM with 12 hidden units on the binarised digits by CD-1 through `fit`,
# then compare AIS with the exact value. The CD loss is a surrogate whose gradient is the
# positive phase minus the (sampled) negative phase.

# %%
binary_train = (np.asarray(x_digits) > 0).astype(np.float32)  # pixels above half intensity
binary_test = (np.asarray(x_test_digits) > 0).astype(np.float32)
HIDDEN = 12
rbm_params = classic.rbm_init(
    jax.random.key(3), d, HIDDEN, scale=0.01, visible_bias=classic.base_rate_bias(binary_train)
)
RBM_STEPS = 600 if QUICK else 6000
rbm_tx = make_optimizer({"optimizer": "adam", "learning_rate": 3e-3})
rbm_state, _ = fit(
    create_train_state(rbm_params, rbm_tx),
    make_train_step(classic.cd_loss(1), rbm_tx, ema_decay=0.0),
    data.ArrayBatches({"x": binary_train}, 64, seed=0),
    jax.random.key(4),
    num_steps=RBM_STEPS,
    workdir=os.path.join(TMP.name, "rbm"),
    log_every=RBM_STEPS,
    progress=False,
)
rbm = rbm_state.params
base_bias = classic.base_rate_bias(binary_train)
# Independent pixels: the RBM with W = 0 and the base rates as biases, log Z = sum softplus(a) + log 2.
base = classic.RBMParams(jnp.zeros((d, 1)), base_bias, jnp.zeros(1))
log_z_base = jnp.sum(jax.nn.softplus(base_bias)) + jnp.log(2.0)
NUM_BETAS = 1000 if QUICK else 10_000


@jax.jit
def evaluate_rbm(rbm, key):
    key_ais, key_samples = jax.random.split(key)
    log_z = classic.rbm_log_partition(rbm)  # exact: a sum over the 2^12 hidden states
    ais = classic.rbm_ais(
        key_ais, rbm, num_chains=100, betas=classic.ais_betas(NUM_BETAS), base_bias=base_bias
    )
    ll_rbm = classic.rbm_log_likelihood(rbm, binary_test, log_z)
    ll_base = classic.rbm_log_likelihood(base, binary_test, log_z_base)
    samples = classic.rbm_sample_exact(key_samples, rbm, 30)  # exact: h ~ p(h), then x | h
    return log_z, ais, ll_rbm, ll_base, samples


log_z, ais, ll_rbm, ll_base, samples = evaluate_rbm(rbm, jax.random.key(5))
print(f"log Z: exact {float(log_z):.4f}, AIS {float(ais.log_z):.4f} (+{float(ais.log_z_std):.4f})")
print(
    f"test log-likelihood per image: RBM {float(ll_rbm):.2f} nats, independent pixels "
    f"{float(ll_base):.2f}"
)
assert abs(float(ais.log_z) - float(log_z)) < 0.2
assert float(ll_rbm) > float(ll_base) + 2.0

filters = np.asarray(rbm.W.T).reshape(HIDDEN, 8, 8, 1)
show_grid(
    filters / np.abs(filters).max(axis=(1, 2, 3), keepdims=True), 6, "weights of the hidden units"
)
show_grid(2.0 * np.asarray(samples).reshape(-1, 8, 8, 1) - 1.0, 10, "exact samples of the RBM")

# %% [markdown]
# ## 5. Hidden Markov models: forward-backward and Viterbi
#
# A Markov chain $z_1 \to \dots \to z_T$ with initial distribution $\pi$ and transitions
# $A_{ij} = p(z_{t+1} = j\mid z_t = i)$ emits $x_t \sim p(x\mid z_t)$ (F0:3005-3029, there a
# Gaussian mixture per state; one Gaussian here). The forward recursion
# $\alpha_t(j) = p(x_t\mid j) \sum_i \alpha_{t-1}(i) A_{ij}$ gives
# $p(x_{1:T}) = \sum_j \alpha_T(j)$ in $O(TK^2)$ instead of $K^T$ paths; with the backward
# messages it gives the posteriors $\gamma_t(k) = p(z_t = k\mid x_{1:T})$, and Viterbi replaces
# the sums by maxima for the single most probable path. The first check enumerates all $3^7$
# paths of a short sequence.

# %%
hmm = classic.HMMParams(
    initial=jnp.array([0.6, 0.3, 0.1]),
    transition=jnp.array([[0.90, 0.08, 0.02], [0.05, 0.90, 0.05], [0.05, 0.10, 0.85]]),
    weights=jnp.ones((3, 1)),
    means=jnp.array([[[-2.0]], [[0.0]], [[2.0]]]),
    covariances=jnp.full((3, 1, 1, 1), 0.6),
)
NUM_SEQ, LENGTH = (20, 100) if QUICK else (100, 200)
xs, zs = classic.hmm_sample(jax.random.key(7), hmm, NUM_SEQ, LENGTH)
log_pi, log_a = jnp.log(hmm.initial), jnp.log(hmm.transition)

short = xs[0, :7]
log_e = classic.hmm_emission_log_prob(short, hmm)
lp, la, le = (np.asarray(v, np.float64) for v in (log_pi, log_a, log_e))
brute = np.logaddexp.reduce(  # log sum over every path z_1:7 of p(x_1:7, z_1:7), in numpy
    [
        lp[p[0]] + sum(la[p[t - 1], p[t]] for t in range(1, 7)) + sum(le[t, p[t]] for t in range(7))
        for p in itertools.product(range(3), repeat=7)
    ]
)
forward = classic.hmm_forward_backward(log_pi, log_a, log_e).log_likelihood
print(f"log p(x_1:7): forward {float(forward):.5f}, sum over all 3^7 paths {float(brute):.5f}")
assert abs(float(forward) - float(brute)) < 1e-4


@jax.jit
@jax.vmap
def decode(x):
    log_e = classic.hmm_emission_log_prob(x, hmm)
    post = classic.hmm_forward_backward(log_pi, log_a, log_e)
    path, _ = classic.hmm_viterbi(log_pi, log_a, log_e)
    return post.posteriors, path


posteriors, paths = decode(xs)
zs, paths = np.asarray(zs), np.asarray(paths)
viterbi_acc = np.mean(paths == zs)
posterior_acc = np.mean(np.asarray(posteriors).argmax(-1) == zs)
emission_acc = np.mean(
    np.abs(np.asarray(xs)[..., 0, None] - np.array([-2.0, 0.0, 2.0])).argmin(-1) == zs
)
print(
    f"state accuracy over {NUM_SEQ} x {LENGTH} steps: Viterbi {viterbi_acc:.3f}, "
    f"posterior marginals {posterior_acc:.3f}, nearest emission mean (no dynamics) {emission_acc:.3f}"
)
assert viterbi_acc > 0.9 and viterbi_acc > emission_acc + 0.1

fig, ax = plt.subplots(figsize=(9, 3))
T_SHOW = 100
ax.plot(np.asarray(xs)[0, :T_SHOW, 0], "k.", ms=3, label="x_t")
ax.step(
    np.arange(T_SHOW),
    2.0 * zs[0, :T_SHOW] - 2.0,
    where="mid",
    lw=2,
    alpha=0.5,
    label="true state (its mean)",
)
ax.step(
    np.arange(T_SHOW),
    2.0 * paths[0, :T_SHOW] - 2.0,
    where="mid",
    lw=1,
    color="tab:red",
    label="Viterbi path",
)
ax.set_xlabel("t")
ax.set_ylim(-5.5, 5.0)
ax.legend(fontsize=7, ncol=3, loc="upper right")
ax.set_title("a sampled sequence, its hidden states and the Viterbi decoding", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Summary.** EM's log-likelihood rises at every iteration and recovers the mixture; k-means ends
# at a fixed point of its two steps; PPCA's noise variance is the mean of the eigenvalues PCA
# drops; AIS matches the exact log-partition function of a small RBM; forward-backward agrees
# with brute-force enumeration and Viterbi decodes the hidden states far better than the emissions
# alone. The experiments `python -m experiments.gmm`, `experiments.rbm` and `experiments.hmm`
# (Baum-Welch, `classic.baum_welch`) run these models at full size.

# %%
TMP.cleanup()
