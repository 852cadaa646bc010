"""Variational lower bounds on mutual information from a matrix of critic values.

Every estimator takes scores s_ij = f(x_i, y_j) for a batch of N pairs (x_i, y_i) ~ p(x, y):
the diagonal holds the joint samples, and the N(N - 1) off-diagonal pairs (x_i, y_j), i != j,
stand in for samples of p(x) p(y) (Poole et al. 2019, section 2). With E_P the mean over the
diagonal and E_Q the mean over the off-diagonal entries:

    InfoNCE:  I >= log N + 1/N sum_i [ s_ii - log sum_j exp(s_ij) ]          (<= log N)     (1)
    NWJ:      I >= E_P[f] - e^{-1} E_Q[e^f]              (tight at f* = 1 + log p(y|x)/p(y)) (2)
    DV/MINE:  I >= E_P[f] - log E_Q[e^f]                 (tight at f* = log p(y|x)/p(y) + c) (3)
    JS:       train f on E_P[-softplus(-f)] - E_Q[softplus(f)], whose maximiser is
              f* = log p(y|x)/p(y), then report NWJ at f + 1.                               (4)

(1) to (3) hold for every critic (up to the sampling noise of the means, and for (3) the
bias of log of a mean); NWJ and JS are unbiased at their optimal critics but their variance
grows like e^I, while InfoNCE has low variance and saturates at log N. MINE's gradient of
log E_Q[e^f] is biased in minibatches; Belghazi et al. divide by a moving average of E_Q[e^f]
instead (:func:`mine`).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_square_scores


def _mean_off_diagonal(values: jax.Array) -> jax.Array:
    # Masks instead of boolean indexing, so that the estimators jit.
    n = values.shape[0]
    return jnp.sum(jnp.where(jnp.eye(n, dtype=bool), 0.0, values)) / (n * (n - 1))


def _log_mean_exp_off_diagonal(scores: jax.Array) -> jax.Array:
    n = scores.shape[0]
    masked = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, scores)
    return jax.nn.logsumexp(masked) - math.log(n * (n - 1))


def infonce_bound(scores: jax.Array) -> jax.Array:
    """InfoNCE lower bound, eq. (1); never above log N.

    Args:
      scores: (N, N) critic values f(x_i, y_j), positives on the diagonal, N >= 2.

    Returns:
      The bound in nats (scalar).

    References:
      van den Oord et al. 2018; Poole et al., ICML 2019, eq. (12).

    Example:
      >>> round(float(infonce_bound(jnp.array([[50.0, 0.0], [0.0, 50.0]]))), 4)  # log 2
      0.6931
    """
    scores = check_square_scores(scores)
    n = scores.shape[0]
    return math.log(n) + jnp.mean(jnp.diagonal(scores) - jax.nn.logsumexp(scores, axis=1))


def nwj_bound(scores: jax.Array) -> jax.Array:
    """NWJ (f-divergence / "MINE-f") lower bound, eq. (2).

    Args:
      scores: (N, N) critic values f(x_i, y_j), positives on the diagonal, N >= 2.

    Returns:
      The bound in nats (scalar).

    References:
      Nguyen, Wainwright & Jordan, IEEE Trans. Inf. Theory 2010; Poole et al. 2019, eq. (5).

    Example:
      >>> round(float(nwj_bound(jnp.ones((3, 3)))), 4)  # f = 1 everywhere: 1 - e^0
      0.0
    """
    scores = check_square_scores(scores)
    return jnp.mean(jnp.diagonal(scores)) - jnp.exp(_log_mean_exp_off_diagonal(scores) - 1.0)


def dv_bound(scores: jax.Array) -> jax.Array:
    """Donsker-Varadhan lower bound, eq. (3), the value MINE reports.

    Args:
      scores: (N, N) critic values f(x_i, y_j), positives on the diagonal, N >= 2.

    Returns:
      The bound in nats (scalar).

    References:
      Donsker & Varadhan 1983; Belghazi et al., "MINE: mutual information neural
      estimation", ICML 2018, eq. (10).

    Example:
      >>> round(float(dv_bound(jnp.array([[2.0, 0.0], [0.0, 2.0]]))), 4)
      2.0
    """
    scores = check_square_scores(scores)
    return jnp.mean(jnp.diagonal(scores)) - _log_mean_exp_off_diagonal(scores)


def js_critic_loss(scores: jax.Array) -> tuple[jax.Array, dict]:
    """Loss to train a critic with the Jensen-Shannon objective, and its MI estimate, eq. (4).

    Args:
      scores: (N, N) critic values f(x_i, y_j), positives on the diagonal, N >= 2.

    Returns:
      (loss, metrics): loss = E_Q[softplus(f)] - E_P[-softplus(-f)] (minimised by the
      critic); metrics 'loss', 'js' (= -loss, which is 2 JS(p(x,y), p(x)p(y)) - 2 log 2 at
      the optimum) and 'mi' (NWJ at f + 1, the MI estimate of Poole et al.).

    References:
      Nowozin et al., "f-GAN", NeurIPS 2016; Hjelm et al., "Deep InfoMax", ICLR 2019;
      Poole et al. 2019, section 2.3.

    Example:
      >>> loss, m = js_critic_loss(jnp.zeros((2, 2)))
      >>> round(float(loss), 4), round(float(m["mi"]), 4)  # 2 log 2, and NWJ(1) = 0
      (1.3863, 0.0)
    """
    scores = check_square_scores(scores)
    objective = jnp.mean(-jax.nn.softplus(-jnp.diagonal(scores))) - _mean_off_diagonal(
        jax.nn.softplus(scores)
    )
    mi = nwj_bound(scores + 1.0)
    return -objective, {"loss": -objective, "js": objective, "mi": mi}


class MineState(NamedTuple):
    """State of MINE's moving average.

    Attributes:
      count: int32 scalar, updates done so far.
      log_moving_average: log of the moving average of E_Q[e^f] (float32 scalar).

    Example:
      >>> from gendiff.ssl import mine
      >>> est = mine(decay=0.9)
      >>> state = est.init()
      >>> int(state.count), float(state.log_moving_average)
      (0, 0.0)
      >>> _, (_, state) = est.update(jnp.zeros((2, 2)), state)  # m_1 = E_Q[e^0] = 1
      >>> _, (_, state) = est.update(jnp.full((2, 2), np.log(3.0)), state)  # 0.9 * 1 + 0.1 * 3
      >>> int(state.count), round(float(jnp.exp(state.log_moving_average)), 5)
      (2, 1.2)
    """

    count: jax.Array
    log_moving_average: jax.Array


class Mine(NamedTuple):
    """A pure ``(init, update)`` pair; see :func:`mine`.

    Example:
      >>> from gendiff.ssl import Mine, mine
      >>> est = mine()
      >>> isinstance(est, Mine)
      True
      >>> # -G at the first step: -1/N on the diagonal, e^f / (N (N - 1) m_1) off it
      >>> jax.grad(lambda s: est.update(s, est.init())[0])(jnp.zeros((2, 2)))
      Array([[-0.5,  0.5],
             [ 0.5, -0.5]], dtype=float32)
    """

    init: Callable[[], MineState]
    update: Callable[[jax.Array, MineState], tuple[jax.Array, tuple[dict, MineState]]]


def mine(decay: float = 0.99) -> Mine:
    """MINE with the moving-average bias correction of its gradient, as an (init, update) pair.

    The gradient of the DV bound (3) is E_P[grad f] - E_Q[e^f grad f] / E_Q[e^f]; in a
    minibatch the denominator is a noisy mean, which biases the ratio. MINE replaces it by a
    moving average m_t = decay m_{t-1} + (1 - decay) E_Q[e^f] over batches, giving

        G = E_P[grad f] - E_Q[e^f grad f] / m_t,

    the gradient of the surrogate E_P[f] - E_Q[e^f] / stop_gradient(m_t). ``update`` returns
    minus that surrogate as the loss, so ``jax.grad`` of it is -G, and reports the DV bound
    itself as the estimate. The first update sets m_1 = E_Q[e^f] (no initial bias). The
    average is kept in log space, so large critic values do not overflow.

    Args:
      decay: decay in [0, 1) of the moving average (Belghazi et al. use a small rate
        1 - decay, e.g. 0.01).

    Returns:
      ``Mine(init, update)``: ``init()`` gives the starting MineState; ``update(scores,
      state)`` takes the (N, N) critic matrix and returns ``(loss, (metrics, new_state))``,
      ready for ``jax.value_and_grad(..., has_aux=True)``. Metrics: 'loss', 'mi' (the DV
      bound of this batch) and 'moving_average' (m_t).

    Raises:
      ValueError: for a decay outside [0, 1).

    References:
      Belghazi et al., "Mutual information neural estimation", ICML 2018, section 3.2 and
      Algorithm 1.

    Example:
      >>> est = mine(decay=0.9)
      >>> loss, (metrics, state) = est.update(jnp.array([[2.0, 0.0], [0.0, 2.0]]), est.init())
      >>> round(float(metrics["mi"]), 4), float(metrics["moving_average"])
      (2.0, 1.0)
    """
    if not 0.0 <= float(decay) < 1.0:
        raise ValueError(f"decay must lie in [0, 1), got {decay!r}.")
    decay = float(decay)

    def init() -> MineState:
        return MineState(count=jnp.zeros((), jnp.int32), log_moving_average=jnp.zeros(()))

    def update(scores: jax.Array, state: MineState):
        scores = check_square_scores(scores)
        log_batch_mean = _log_mean_exp_off_diagonal(scores)
        lbm = jax.lax.stop_gradient(log_batch_mean).astype(jnp.float32)
        # m_t = decay m_{t-1} + (1 - decay) E_Q[e^f], in log space; m_1 = E_Q[e^f].
        log_ma = jnp.where(
            state.count == 0,
            lbm,
            jnp.logaddexp(
                math.log(decay) if decay > 0 else -jnp.inf,
                math.log1p(-decay) + lbm - state.log_moving_average,
            )
            + state.log_moving_average,
        )
        joint = jnp.mean(jnp.diagonal(scores))
        # Surrogate E_P[f] - E_Q[e^f] / m_t, with E_Q[e^f] / m_t = exp(log E_Q[e^f] - log m_t).
        surrogate = joint - jnp.exp(log_batch_mean - log_ma.astype(scores.dtype))
        loss = -surrogate
        metrics = {"loss": loss, "mi": joint - log_batch_mean, "moving_average": jnp.exp(log_ma)}
        return loss, (metrics, MineState(count=state.count + 1, log_moving_average=log_ma))

    return Mine(init=init, update=update)
