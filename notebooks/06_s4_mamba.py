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
# # State-space models: from S4 to Mamba
#
# A linear state-space model (SSM) maps an input sequence to an output sequence through a
# hidden state. This notebook builds it up from the lecture notes (F0, "State space models",
# F0:3095-3310) with `gendiff.ssm`:
#
# 1. the continuous SSM and its discretisations (Euler, bilinear, zero-order hold);
# 2. the two views of a discrete linear time-invariant (LTI) SSM: recurrence and convolution
#    kernel, checked to agree, and S4's kernel from the normal-plus-low-rank form of HiPPO;
# 3. Mamba's selective scan, where the step, B and C depend on the input, with the library's
#    scan methods (sequential, associative, chunked, recompute) checked against each other;
# 4. a small Mamba language model trained on selective copying.

# %%
import os
import tempfile
import warnings

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from gendiff import ssm
from gendiff.data import GeneratedBatches, tasks
from gendiff.nets import MambaLM

with warnings.catch_warnings():  # tqdm's notice that ipywidgets is missing (fit draws no bars)
    warnings.filterwarnings("ignore", message="IProgress not found")
    from gendiff.train import create_train_state, fit, make_optimizer, make_train_step, read_metrics

QUICK = os.environ.get("GENDIFF_QUICK", "0") == "1"  # pytest sets it: fewer steps, same checks

# %% [markdown]
# ## 1. The continuous SSM and its discretisation
#
# The notes' linear SSM (F0:3105-3140) is
# $$h'(t) = A\,h(t) + B\,u(t), \qquad y(t) = C\,h(t) + D\,u(t).$$
# With a step $\Delta$ it becomes the recurrence $h_k = \bar A h_{k-1} + \bar B u_k$,
# $y_k = C h_k$ (taking $D = 0$). Three ways to get $(\bar A, \bar B)$:
#
# | method | $\bar A$ | $\bar B$ | used by |
# |---|---|---|---|
# | Euler | $I + \Delta A$ | $\Delta B$ | the notes (F0:3150-3170) |
# | bilinear | $(I - \tfrac{\Delta}{2} A)^{-1}(I + \tfrac{\Delta}{2} A)$ | $(I - \tfrac{\Delta}{2} A)^{-1} \Delta B$ | S4 |
# | zero-order hold | $e^{\Delta A}$ | $A^{-1}(e^{\Delta A} - I) B$ | Mamba |
#
# For a diagonal $A = \mathrm{diag}(a_n)$ (S4D and Mamba's choice) each state is a scalar system and
# every entry has a closed form, e.g. zero-order hold $\bar A_n = e^{\Delta a_n}$,
# $\bar B_n = (e^{\Delta a_n} - 1) b_n / a_n$; `ssm.discretize` (which forms the ZOH pair from
# one matrix exponential, whatever $A$) must reproduce them.

# %%
N = 16
a = -np.arange(1.0, N + 1)  # S4D-Real: a_n = -(n + 1)
b = np.ones(N)
delta = 0.1
closed_form = {
    "euler": (1 + delta * a, delta * b),
    "bilinear": ((1 + delta * a / 2) / (1 - delta * a / 2), delta * b / (1 - delta * a / 2)),
    "zoh": (np.exp(delta * a), (np.exp(delta * a) - 1) / a * b),
}
for method, (Abar_exact, Bbar_exact) in closed_form.items():
    Abar, Bbar = (np.asarray(x) for x in ssm.discretize(jnp.diag(a), jnp.asarray(b), delta, method))
    err = max(np.max(np.abs(Abar - np.diag(Abar_exact))), np.max(np.abs(Bbar - Bbar_exact)))
    print(
        f"{method:9s} Abar_0 = {Abar[0, 0]:.6f}, Bbar_0 = {Bbar[0]:.6f};  "
        f"max error against the closed form {err:.1e}"
    )
    assert err < 1e-6

# %% [markdown]
# **HiPPO-LegS.** S4 initialises $A$ with the HiPPO-LegS matrix (notes F0:3211-3235):
# $A_{nk} = -\sqrt{2n+1}\sqrt{2k+1}$ for $n > k$, $A_{nn} = -(n+1)$, $0$ above the diagonal,
# and $B_n = \sqrt{2n+1}$. The notes print it without the minus signs; that matrix has the
# positive eigenvalues $n + 1$, so its state grows without bound. `hippo_legs(N, signed=False)`
# keeps the notes' version for comparison: after discretisation its $\bar A$ has spectral radius
# above 1.

# %%
A3, B3 = ssm.hippo_legs(3)
notes_matrix = np.array([[1, 0, 0], [np.sqrt(3), 2, 0], [np.sqrt(5), np.sqrt(15), 3]])
print("hippo_legs(3) =\n", np.round(np.asarray(A3), 4))
assert np.allclose(np.asarray(A3), -notes_matrix, atol=1e-6)  # the standard matrix is -notes'

L = 256
step = 1.0 / L  # S4's convention: the sequence covers the unit interval
for signed in (True, False):
    A, B = ssm.hippo_legs(N, signed=signed)
    Abar, _ = ssm.discretize(A, B, step, "bilinear")
    radius = np.max(np.abs(np.linalg.eigvals(np.asarray(Abar))))
    print(f"signed={signed}: spectral radius of Abar = {radius:.4f}")
    assert (radius < 1.0) if signed else (radius > 1.0)

# %% [markdown]
# ## 2. Recurrence and convolution
#
# Unrolling the recurrence from $h_{-1} = 0$ (F0:3172-3205) gives
# $$y_k = \sum_{j \le k} C \bar A^{j} \bar B\, u_{k-j}, \qquad
#   K = (C\bar B,\; C\bar A\bar B,\; \dots,\; C\bar A^{L-1}\bar B),$$
# so the SSM is a causal convolution $y = K * u$: the recurrent mode (`scan_ssm`, one step
# at a time, for generation) and the convolutional mode (`kernel_naive` + `causal_conv`, an
# FFT over the whole sequence, for training) must agree. The notes' worked case
# $y_2 = C(\bar A^2 \bar B u_0 + \bar A \bar B u_1 + \bar B u_2)$ is a third check.
#
# S4 never forms $\bar A^l$: HiPPO-LegS is normal plus rank one, $A = V(\Lambda - PQ^*)V^*$
# (`nplr_legs`), and `kernel_dplr` evaluates the kernel's generating function at the roots of
# unity with a Cauchy kernel and the Woodbury identity, then takes an inverse FFT (the notes'
# "$\bar A = \Lambda + P\beta^H$" at F0:3237-3255 is a loose version of this).

# %%
rng = np.random.default_rng(0)  # test inputs from numpy: nothing to compile
A, B = ssm.hippo_legs(N)
C = jnp.asarray(rng.standard_normal(N, np.float32))
u = jnp.asarray(rng.standard_normal(L, np.float32))
Abar, Bbar = ssm.discretize(A, B, step, "bilinear")

K = np.asarray(ssm.kernel_naive(Abar, Bbar, C, L))
y_recurrent = np.asarray(ssm.scan_ssm(Abar, Bbar, C, u))
y_convolution = np.asarray(ssm.causal_conv(u, jnp.asarray(K)))
y_scale = np.max(np.abs(y_recurrent))
diff_modes = np.max(np.abs(y_recurrent - y_convolution))
print(f"max |y_recurrent - y_convolution| = {diff_modes:.2e}   (max |y| = {y_scale:.3f})")
assert diff_modes < 1e-4 * y_scale

Ab, Bb, Cn, un = (np.asarray(x, np.float64) for x in (Abar, Bbar, C, u))
y2 = Cn @ (Ab @ Ab @ Bb * un[0] + Ab @ Bb * un[1] + Bb * un[2])
print(f"y_2 by the notes' formula {y2:.7f}, by the recurrence {y_recurrent[2]:.7f}")
assert abs(y2 - y_recurrent[2]) < 1e-4 * abs(y2)

Lambda, P, Q, B_nplr, V = ssm.nplr_legs(N)
K_dplr = np.asarray(ssm.kernel_dplr(Lambda, P, Q, B_nplr, C.astype(jnp.complex64) @ V, step, L))
K_scale = np.max(np.abs(K))
diff_dplr = np.max(np.abs(K_dplr - K))
print(f"max |K_dplr - K_naive| = {diff_dplr:.2e}   (max |K| = {K_scale:.4f})")
assert diff_dplr < 1e-3 * K_scale

# %% [markdown]
# The kernel is what an LTI SSM "sees": output $k$ weighs the input $j$ steps back by $K_j$.
# Left: at this small step bilinear and zero-order hold cannot be told apart and Euler is close;
# the DPLR kernel lies on top of the naive bilinear one. Right: the step $\Delta$ sets the time scale; a
# larger step makes the kernel decay sooner, a shorter memory.

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8, 3), constrained_layout=True)
for method, style in (("euler", ":"), ("bilinear", "-"), ("zoh", "--")):
    ax0.plot(ssm.kernel_naive(*ssm.discretize(A, B, step, method), C, L), style, label=method)
ax0.plot(K_dplr.real, "k.", ms=2, label="bilinear, DPLR")
ax0.set(title=f"HiPPO-LegS kernel, N={N}, step 1/{L}", xlabel="lag j", ylabel="$K_j$")
ax0.legend(fontsize=7)
for scale in (1, 4, 16):
    Ks = ssm.kernel_naive(*ssm.discretize(A, B, scale * step, "bilinear"), C, L)
    ax1.plot(Ks, label=f"step {scale}/{L}")
ax1.set(title="bilinear kernel against the step", xlabel="lag j")
ax1.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 3. Mamba's selective scan
#
# An LTI kernel applies the same weights whatever the input, so it cannot decide to keep one
# token and ignore the next (the notes' "Linear Time Invariance", F0:3257-3267). Mamba (S6)
# makes the step, $B$ and $C$ functions of the input. Per channel $c$ and state index $n$, with
# a diagonal $A$ (S4D-Real init $A_n = -(n+1)$) discretised by zero-order hold and $\bar B$
# simplified to $\Delta B$ as in the reference code:
# $$h_t = e^{\Delta_t A} \odot h_{t-1} + \Delta_t B_t u_t, \qquad y_t = C_t h_t + D u_t,
#   \qquad \Delta_t = \mathrm{softplus}(W u_t + b).$$
# (The notes, F0:3269-3310, use the Euler $\bar A = I + \Delta_k A$ and an extra gate $D_k$ on
# the state; Mamba has neither: $D$ is a skip connection, and the block gates $y$ by
# $\mathrm{SiLU}(z)$.)
#
# A large $\Delta_t$ forgets the state and takes in $u_t$; $\Delta_t \approx 0$ ignores $u_t$ and
# keeps the state. Below, one channel with one state ($A = -1$): the LTI choice (constant
# $\Delta$) blurs all the data tokens together, while a step that is large on data tokens and
# tiny on blanks holds the last data token exactly, which is what selective copying needs.

# %%
length = 40
positions, values = np.array([4, 11, 23, 30]), np.array([1.0, -0.6, 0.8, -1.0])
u1 = np.zeros(length, np.float32)
u1[positions] = values
delta_select = np.where(u1 != 0, 8.0, 1e-4).astype(np.float32)  # input-dependent step
ones = np.ones((1, length, 1), np.float32)


def one_channel(delta_seq, scale):
    return ssm.selective_scan(
        u1[None, :, None],
        delta_seq[None, :, None],
        -np.ones((1, 1)),
        ones,
        scale * ones,
        method="sequential",
    )[0, :, 0]


y_lti = one_channel(np.full(length, 0.3, np.float32), np.float32(1.0))
y_sel = one_channel(delta_select, np.float32(1 / 8))  # C = 1/8 undoes the step's scale on B u
last = np.maximum.accumulate(np.where(u1 != 0, np.arange(length), 0))
held = np.where(np.arange(length) >= positions[0], u1[last], 0.0)  # the last data token so far
y_lti, y_sel = np.asarray(y_lti), np.asarray(y_sel)
print(f"selective state vs last data token: max diff {np.max(np.abs(y_sel - held)):.4f}")
assert np.max(np.abs(y_sel - held)) < 0.01

fig, ax = plt.subplots(figsize=(8, 3), constrained_layout=True)
ax.stem(positions, values, linefmt="0.6", markerfmt="ko", basefmt=" ", label="data tokens $u_t$")
ax.plot(y_lti, "C1", label=r"LTI: constant $\Delta$ = 0.3")
ax.plot(y_sel, "C2", lw=2, label=r"selective: $\Delta_t$ = 8 on data, 1e-4 on blanks")
ax.set(xlabel="t (blanks: $u_t = 0$)", ylabel="$y_t$", title="One channel, one state, A = -1")
ax.legend(fontsize=7, loc="lower left")
plt.show()

# %% [markdown]
# **Parallel scans.** The recurrence $h_t = a_t h_{t-1} + b_t$ composes as pairs:
# $(a_1, b_1) \circ (a_2, b_2) = (a_1 a_2,\; a_2 b_1 + b_2)$, an associative operation, so all
# the states come out of a parallel prefix scan (`jax.lax.associative_scan`) in $O(\log L)$
# depth. `selective_scan` offers `sequential` (one `lax.scan` step per position, the
# reference), `associative`, `recompute` (sequential with a memory-saving backward pass, the
# default on CPU), `chunked` (associative within chunks, sequential across them) and `pallas`
# (a fused kernel for GPUs). Below, the first two must agree on the outputs and on the last
# state; the test suite checks all of them against `sequential`, gradients included.

# %%
batch, seq, d, n = 2, 48, 8, 4
normal = lambda *shape: rng.standard_normal(shape, np.float32)
args = dict(
    u=normal(batch, seq, d),
    delta=normal(batch, seq, d),
    A=-np.tile(np.arange(1.0, n + 1, dtype=np.float32), (d, 1)),  # S4D-Real: A_n = -(n + 1)
    B=normal(batch, seq, n),
    C=normal(batch, seq, n),
    D=np.ones(d, np.float32),
    z=normal(batch, seq, d),
    delta_bias=np.full(d, -1.0, np.float32),
)
flags = dict(delta_softplus=True)


def scan_with(method):  # one compiled program per method
    return jax.jit(
        lambda a: ssm.selective_scan(**a, **flags, method=method, chunk=16, return_last_state=True)
    )


outputs = {m: scan_with(m)(args) for m in ("sequential", "associative")}
y_ref, h_ref = outputs["sequential"]
for method, (y, h) in outputs.items():
    dy, dh = np.max(np.abs(np.asarray(y - y_ref))), np.max(np.abs(np.asarray(h - h_ref)))
    print(f"{method:11s} max |y - y_seq| = {dy:.1e}   max |h_L - h_L,seq| = {dh:.1e}")
    assert dy < 1e-4 and dh < 1e-4

# %% [markdown]
# ## 4. Selective copying with a small Mamba
#
# The selective-copying task (Gu & Dao 2023, §4.1.1; `gendiff.data.tasks.selective_copying`):
# $L$ positions hold $M$ data tokens at random positions among blanks (token 0), then $M$
# marker tokens follow; at the $j$-th marker the model must output the $j$-th data token.
# Because the data move from sequence to sequence, a fixed kernel cannot pick them out; the
# selective step can. A `MambaLM` (one Mamba block) is trained through `gendiff.train.fit` with
# cross-entropy on the $M$ answer positions. A model that has learned nothing about where the
# data are can do no better than guessing among the $S$ symbols: loss $\ln S$, accuracy $1/S$.

# %%
sizes = dict(seq_len=16, num_data=4, num_symbols=4)
num_steps = 120 if QUICK else 1500
batch_size = 32
S, M = sizes["num_symbols"], sizes["num_data"]
batch_of_step = tasks.step_batches(tasks.selective_copying, jax.random.key(5), batch_size, **sizes)
example = batch_of_step(0)
print("tokens ", example["tokens"][0], "  (0 blank, 1..4 data, 5 marker)")
print("targets", example["targets"][0])

# One Mamba block; the sequential scan compiles fastest at this size (the methods agree, above).
model = MambaLM(vocab_size=S + 2, d_model=32, num_layers=1, d_state=8, scan_method="sequential")
params = jax.jit(model.init)(jax.random.key(4), example["tokens"])


def loss_fn(params, batch, key):
    logits = model.apply(params, batch["tokens"])[:, -M:]  # the M answer positions
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["targets"])}


tx = make_optimizer({"optimizer": "adam", "learning_rate": 3e-3})
with tempfile.TemporaryDirectory() as workdir:
    state, last = fit(
        create_train_state(params, tx),
        make_train_step(loss_fn, tx, ema_decay=0.0),
        GeneratedBatches(batch_of_step, batch_size),
        jax.random.key(6),
        num_steps=num_steps,
        workdir=workdir,
        log_every=max(num_steps // 60, 1),
        progress=False,
    )
    history = read_metrics(os.path.join(workdir, "metrics.jsonl"))

# Every step draws fresh sequences and logs its loss before updating on them, so the logged
# figures are measured on sequences the model has never seen.
final_loss = np.mean([r["loss"] for r in history[-3:]])
final_accuracy = np.mean([r["accuracy"] for r in history[-3:]])
chance_loss = np.log(S)
print(
    f"after {num_steps} steps (last 3 logged batches): loss {final_loss:.3f} "
    f"(chance {chance_loss:.3f}), accuracy {final_accuracy:.3f} (chance {1 / S:.2f})"
)
assert final_loss < 0.8 * chance_loss
assert final_accuracy > 1 / S + 0.15

# %%
steps = [r["step"] for r in history]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8, 3), constrained_layout=True)
ax0.plot(steps, [r["loss"] for r in history], label="training loss")
ax0.axhline(chance_loss, color="k", ls="--", lw=1, label=r"chance $\ln S$")
ax0.set(xlabel="step", ylabel="cross-entropy", title="Selective copying, MambaLM")
ax0.legend(fontsize=7)
ax1.plot(steps, [r["accuracy"] for r in history], label="training accuracy")
ax1.axhline(1 / S, color="k", ls="--", lw=1, label="chance $1/S$")
ax1.set(xlabel="step", ylabel="per-token accuracy", ylim=(0, 1.02))
ax1.legend(fontsize=7)
plt.show()

# %% [markdown]
# The loss leaves the chance line within the first hundred steps: the model has learned to skip
# the blanks. `experiments/selective_copying.py` runs the longer comparison against an LTI S4D
# model of the same size on a harder instance ($L = 48$, $M = 8$, $S = 8$, 2,000 steps): its
# preset records held-out per-token accuracy 0.92 for Mamba against 0.54 for S4D, and whole
# sequences 0.50 against 0.00.
