"""Knowledge distillation of a classifier (Hinton, Vinyals & Dean 2015).

The student matches the teacher's class probabilities softened by a temperature T, and the
true labels:

  L = alpha * T^2 * KL(softmax(z_teacher / T) || softmax(z_student / T))
      + (1 - alpha) * CE(softmax(z_student), labels).

The gradient of the soft term with respect to a student logit is T (q_i - p_i), which for
large T tends to (z_student,i - mean z_student - z_teacher,i + mean z_teacher) / K with K
classes: the factor T^2 keeps the soft term's gradient on the scale of the hard term's as T
changes (Hinton et al., section 2.1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _check_inputs(student_logits, teacher_logits, labels, temperature, alpha) -> None:
    if student_logits.ndim != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student_logits and teacher_logits must both have shape (batch, num_classes), got "
            f"{student_logits.shape} and {teacher_logits.shape}."
        )
    if labels.shape != student_logits.shape[:1] or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(
            f"labels must be integers of shape ({student_logits.shape[0]},), "
            f"got {labels.dtype} {labels.shape}."
        )
    if not float(temperature) > 0.0:
        raise ValueError(f"temperature must be > 0, got {temperature}.")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}.")


def distillation_loss(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    labels: jax.Array,
    *,
    temperature: float,
    alpha: float,
) -> tuple[jax.Array, dict]:
    """Hinton et al.'s distillation loss, averaged over the batch.

    The teacher's logits are held fixed (``jax.lax.stop_gradient``).

    Args:
      student_logits: (batch, num_classes) logits of the network being trained.
      teacher_logits: (batch, num_classes) logits of the trained teacher.
      labels: (batch,) integer class labels.
      temperature: T > 0 (a Python number); T = 1 compares the unsoftened distributions.
      alpha: weight in [0, 1] (a Python number) of the soft term; alpha = 0 is plain
        cross-entropy on the labels, alpha = 1 pure distillation.

    Returns:
      (loss, metrics) with metrics 'loss', 'kl' (the KL at temperature T, before the T^2
      factor), 'cross_entropy' (on the labels, at temperature 1) and 'accuracy' (of the
      student).

    Example:
      >>> logits = jnp.array([[2.0, 0.0, -1.0]])
      >>> loss, metrics = distillation_loss(
      ...     logits, logits, jnp.array([0]), temperature=4.0, alpha=1.0)
      >>> float(loss)  # the student agrees with the teacher: no soft-target loss
      0.0
    """
    student_logits, teacher_logits = jnp.asarray(student_logits), jnp.asarray(teacher_logits)
    labels = jnp.asarray(labels)
    _check_inputs(student_logits, teacher_logits, labels, temperature, alpha)
    teacher_logits = jax.lax.stop_gradient(teacher_logits)

    # KL(p || q) = sum_i p_i (log p_i - log q_i), p and q the softened distributions.
    log_p = jax.nn.log_softmax(teacher_logits / temperature)
    log_q = jax.nn.log_softmax(student_logits / temperature)
    kl = jnp.mean(jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1))
    # CE = -log softmax(z_student)_label.
    log_probs = jax.nn.log_softmax(student_logits)
    cross_entropy = -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=-1))

    loss = alpha * temperature**2 * kl + (1.0 - alpha) * cross_entropy
    accuracy = jnp.mean(jnp.argmax(student_logits, axis=-1) == labels)
    return loss, {"loss": loss, "kl": kl, "cross_entropy": cross_entropy, "accuracy": accuracy}
