"""Baum-Welch on synthetic sequences: are the parameters recovered, and how well does Viterbi
decode the hidden states?

  python -m experiments.hmm

A true HMM with K states and M-component Gaussian-mixture emissions in 2-D (F0:3005-3029)
generates ``num_sequences`` training and as many held-out sequences
(:func:`gendiff.classic.hmm_sample`). :func:`gendiff.classic.baum_welch` fits an HMM of the
same K and M; states are matched to the true ones by their mean emission. Reported: the
largest errors of pi, A, the state means and the mixture weights; the held-out
log-likelihood per sequence of the fit and of the true model; the Viterbi accuracy on held-out
sequences with the fitted and with the true parameters (its ceiling).
"""

from __future__ import annotations

import itertools
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import hmm as configs
from gendiff import classic


def true_hmm(config: ml_collections.ConfigDict) -> classic.HMMParams:
    """The generating HMM of ``config`` (see experiments/configs/hmm.py)."""
    K, M = int(config.num_states), int(config.num_mixture_components)
    off = (1 - config.self_transition) / max(K - 1, 1)
    transition = np.full((K, K), off) + (config.self_transition - off) * np.eye(K)
    angles = 2 * math.pi * np.arange(K) / K
    centres = config.state_spacing * np.stack([np.cos(angles), np.sin(angles)], 1)
    shifts = config.component_offset * (np.arange(M) - (M - 1) / 2)
    means = centres[:, None, :] + np.stack([shifts, np.zeros(M)], 1)[None]
    weights = np.tile(np.linspace(1.0, 2.0, M) / np.linspace(1.0, 2.0, M).sum(), (K, 1))
    cov = np.broadcast_to(0.3 * np.eye(2), (K, M, 2, 2))
    initial = np.full(K, 1.0 / K)
    return classic.HMMParams(
        *(jnp.asarray(a, jnp.float32) for a in (initial, transition, weights, means, cov))
    )


def match_states(true_means: np.ndarray, fitted_means: np.ndarray) -> list[int]:
    """perm[k] = the fitted state matched to true state k (by mean emission, all K! orders)."""
    K = len(true_means)
    cost = ((true_means[:, None] - fitted_means[None]) ** 2).sum(-1)
    return list(min(itertools.permutations(range(K)), key=lambda p: cost[range(K), p].sum()))


@jax.jit
def _decode(params, x):
    log_e = jax.vmap(lambda s: classic.hmm_emission_log_prob(s, params))(x)
    states, _ = jax.vmap(classic.hmm_viterbi, in_axes=(None, None, 0))(
        jnp.log(params.initial), jnp.log(params.transition), log_e
    )
    return states


def _viterbi_accuracy(params, x, z, perm):
    states = _decode(params, x)
    return float(np.mean(np.asarray(perm)[np.asarray(z)] == np.asarray(states)))


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Fits the HMM and writes metrics.json in ``workdir``.

    Returns:
        The errors, held-out log-likelihoods, Viterbi accuracies, iterations and wall_s.

    Example:
        >>> from experiments.configs import hmm as configs
        >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/hmm")
    """
    start = time.time()
    if not 0.0 < config.self_transition < 1.0:
        raise ValueError(
            f"config.self_transition must lie in (0, 1), got {config.self_transition}."
        )
    truth = true_hmm(config)
    key = jax.random.key(config.seed)
    x, _ = classic.hmm_sample(
        jax.random.fold_in(key, 0), truth, config.num_sequences, config.length
    )
    x_test, z_test = classic.hmm_sample(
        jax.random.fold_in(key, 1), truth, config.num_sequences, config.length
    )
    fit = classic.baum_welch(
        jax.random.fold_in(key, 2),
        x,
        config.num_states,
        num_mixture_components=config.num_mixture_components,
        num_iters=config.num_iters,
        tol=config.tol,
    )
    p = fit.params
    state_means = lambda q: np.einsum("km,kmd->kd", np.asarray(q.weights), np.asarray(q.means))
    perm = match_states(state_means(truth), state_means(p))
    A = np.asarray(p.transition)[np.ix_(perm, perm)]
    trace = np.asarray(fit.log_likelihoods)
    result = {
        "num_iters": int(fit.num_iters),
        "em_monotone": bool(np.all(np.diff(trace) > -1e-4 * np.abs(trace[:-1]))),
        "max_error_initial": float(
            np.abs(np.asarray(p.initial)[perm] - np.asarray(truth.initial)).max()
        ),
        "max_error_transition": float(np.abs(A - np.asarray(truth.transition)).max()),
        "max_error_state_means": float(np.abs(state_means(p)[perm] - state_means(truth)).max()),
        "test_log_lik_fit": float(jnp.mean(jax.jit(classic.hmm_log_prob)(x_test, p))),
        "test_log_lik_true": float(jnp.mean(jax.jit(classic.hmm_log_prob)(x_test, truth))),
        "viterbi_accuracy_fit": _viterbi_accuracy(p, x_test, z_test, perm),
        "viterbi_accuracy_true": _viterbi_accuracy(
            truth, x_test, z_test, list(range(config.num_states))
        ),
        "num_sequences": int(config.num_sequences),
        "length": int(config.length),
    }
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/hmm")
