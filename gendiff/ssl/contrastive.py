"""Contrastive losses on embeddings: InfoNCE with a temperature and a cosine or dot critic, and
SimCLR's symmetric NT-Xent.

For a batch of N positive pairs (a_i, b_i), with critic scores s_ij = sim(a_i, b_j) / tau,

    L_InfoNCE = -1/N sum_i log( exp(s_ii) / sum_{j=1}^N exp(s_ij) ),                       (1)

the lecture notes' loss (F0:3429) with the other N - 1 elements of the batch as negatives, the
notes' dot product f(x)^T f(x+) generalised by a temperature tau > 0 and optionally the cosine
similarity (the notes' form is critic="dot", temperature=1). log N - L_InfoNCE is a lower bound
on I(a; b) that can never exceed log N (van den Oord et al. 2018; Poole et al. 2019, eq. (12)).

NT-Xent (Chen et al. 2020) pools both views, 2N embeddings, and for each anchor takes its other
view as the positive and the remaining 2N - 2 embeddings as negatives:

    L_NT-Xent = -1/(2N) sum_{k=1}^{2N} log( exp(s_{k,p(k)}) / sum_{l != k} exp(s_kl) ).      (2)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_pair, check_positive

CRITICS = ("cosine", "dot")


def _check_critic(critic: str) -> None:
    if critic not in CRITICS:
        raise ValueError(f"critic must be one of {CRITICS}, got {critic!r}.")


def _normalize(z: jax.Array) -> jax.Array:
    # z / ||z|| with the norm floored, so a zero vector gives zeros (and finite gradients).
    norm = jnp.sqrt(jnp.maximum(jnp.sum(z * z, axis=-1, keepdims=True), 1e-24))
    return z / norm


def critic_scores(
    z_a: jax.Array, z_b: jax.Array, *, temperature: float = 1.0, critic: str = "cosine"
) -> jax.Array:
    """The matrix s_ij = sim(a_i, b_j) / tau of a separable critic.

    Args:
      z_a: (N, dim) embeddings of the first view.
      z_b: (M, dim) embeddings of the second view.
      temperature: tau > 0.
      critic: "cosine" (``sim = a.b / (|a| |b|)``) or "dot" (sim = a.b).

    Returns:
      Scores of shape (N, M).

    Example:
      >>> critic_scores(jnp.eye(2), 2 * jnp.eye(2), temperature=0.5, critic="dot")
      Array([[4., 0.],
             [0., 4.]], dtype=float32)
    """
    _check_critic(critic)
    check_positive("temperature", temperature)
    z_a, z_b = jnp.asarray(z_a), jnp.asarray(z_b)
    if z_a.ndim != 2 or z_b.ndim != 2 or z_a.shape[1] != z_b.shape[1]:
        raise ValueError(
            "z_a and z_b must have shapes (N, dim) and (M, dim) with one dim, got "
            f"{z_a.shape} and {z_b.shape}."
        )
    if critic == "cosine":
        z_a, z_b = _normalize(z_a), _normalize(z_b)
    return (z_a @ z_b.T) / temperature


def _info_nce_from_scores(scores: jax.Array) -> tuple[jax.Array, jax.Array]:
    # Eq. (1): rows are anchors, the positive is on the diagonal.
    log_probs = jax.nn.log_softmax(scores, axis=-1)
    loss = -jnp.mean(jnp.diagonal(log_probs))
    accuracy = jnp.mean(jnp.argmax(scores, axis=-1) == jnp.arange(scores.shape[0]))
    return loss, accuracy


def info_nce_loss(
    z_a: jax.Array,
    z_b: jax.Array,
    *,
    temperature: float = 0.1,
    critic: str = "cosine",
    symmetric: bool = False,
) -> tuple[jax.Array, dict]:
    """InfoNCE, eq. (1), with the other elements of the batch as negatives.

    Args:
      z_a: (N, dim) embeddings of one view; row i is paired with row i of `z_b`.
      z_b: (N, dim) embeddings of the other view.
      temperature: tau > 0 (0.1 by default; the notes' loss has tau = 1 and critic "dot").
      critic: "cosine" (default) or "dot".
      symmetric: average the a -> b and b -> a directions (as CLIP does).

    Returns:
      (loss, metrics) with metrics 'loss', 'mi_lower_bound' (log N - loss, at most log N),
      'accuracy' (fraction of anchors whose positive scores highest), 'positive_similarity'
      and 'negative_similarity' (mean critic values before the temperature).

    Raises:
      ValueError: for temperature <= 0, an unknown critic, or embeddings that are not two
        (N, dim) arrays of one shape with N >= 2.

    References:
      van den Oord, Li & Vinyals, "Representation learning with contrastive predictive
      coding", 2018; Poole et al., "On variational bounds of mutual information", ICML 2019.

    Example:
      >>> z = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> loss, m = info_nce_loss(z, z, temperature=1.0, critic="dot")
      >>> round(float(loss), 4)  # -log(e / (e + 1))
      0.3133
    """
    z_a, z_b = check_pair("z_a", z_a, "z_b", z_b)
    if z_a.shape[0] < 2:
        raise ValueError(f"InfoNCE needs a batch of at least 2 pairs, got {z_a.shape[0]}.")
    scores = critic_scores(z_a, z_b, temperature=temperature, critic=critic)
    loss, accuracy = _info_nce_from_scores(scores)
    if symmetric:
        loss_t, accuracy_t = _info_nce_from_scores(scores.T)
        loss, accuracy = 0.5 * (loss + loss_t), 0.5 * (accuracy + accuracy_t)
    n = scores.shape[0]
    sim = scores * temperature
    off = ~jnp.eye(n, dtype=bool)
    metrics = {
        "loss": loss,
        "mi_lower_bound": math.log(n) - loss,
        "accuracy": accuracy,
        "positive_similarity": jnp.mean(jnp.diagonal(sim)),
        "negative_similarity": jnp.sum(jnp.where(off, sim, 0.0)) / (n * (n - 1)),
    }
    return loss, metrics


def nt_xent_loss(
    z_a: jax.Array, z_b: jax.Array, *, temperature: float = 0.1, critic: str = "cosine"
) -> tuple[jax.Array, dict]:
    """SimCLR's normalised temperature-scaled cross-entropy, eq. (2), symmetric in the views.

    Args:
      z_a: (N, dim) embeddings of the first augmented view.
      z_b: (N, dim) embeddings of the second view; row i is the positive of row i of `z_a`.
      temperature: tau > 0 (SimCLR uses 0.1 to 0.5).
      critic: "cosine" (default, as in SimCLR) or "dot".

    Returns:
      (loss, metrics) with metrics 'loss', 'mi_lower_bound' (log(2N - 1) - loss) and
      'accuracy' (fraction of the 2N anchors whose positive scores highest).

    Raises:
      ValueError: as :func:`info_nce_loss`.

    References:
      Chen, Kornblith, Norouzi & Hinton, "A simple framework for contrastive learning of
      visual representations", ICML 2020, eq. (1).

    Example:
      >>> z = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> loss, m = nt_xent_loss(z, z, temperature=1.0)
      >>> round(float(loss), 4)  # -log(e / (e + 2)): the other pair gives two negatives
      0.5514
    """
    z_a, z_b = check_pair("z_a", z_a, "z_b", z_b)
    n = z_a.shape[0]
    if n < 2:
        raise ValueError(f"NT-Xent needs a batch of at least 2 pairs, got {n}.")
    z = jnp.concatenate([z_a, z_b], axis=0)
    scores = critic_scores(z, z, temperature=temperature, critic=critic)
    # An anchor is never its own negative: -inf on the diagonal drops it from the softmax.
    scores = jnp.where(jnp.eye(2 * n, dtype=bool), -jnp.inf, scores)
    positive = jnp.concatenate([jnp.arange(n, 2 * n), jnp.arange(n)])
    log_probs = jax.nn.log_softmax(scores, axis=-1)
    loss = -jnp.mean(jnp.take_along_axis(log_probs, positive[:, None], axis=-1))
    accuracy = jnp.mean(jnp.argmax(scores, axis=-1) == positive)
    metrics = {"loss": loss, "mi_lower_bound": math.log(2 * n - 1) - loss, "accuracy": accuracy}
    return loss, metrics
