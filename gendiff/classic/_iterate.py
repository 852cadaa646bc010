"""The EM driver shared by Baum-Welch and EM-PPCA: iterate until the log-likelihood settles."""

import jax
import jax.numpy as jnp


def iterate_em(em_step, params, num_iters: int, tol: float, dtype):
    """Runs ``ll, params = em_step(params)`` until ``|ll - ll_prev| < tol`` or ``num_iters``.

    Returns:
      ``(params, ll, trace, iters)``: the last parameters and log-likelihood, the per-iteration
      log-likelihoods (entries after the stop repeat the last value) and the iteration count.
    """

    def cond(carry):
        i, _, _, _, done = carry
        return (i < num_iters) & ~done

    def body(carry):
        i, params, prev, trace, _ = carry
        ll, params = em_step(params)
        return i + 1, params, ll, trace.at[i].set(ll), jnp.abs(ll - prev) < tol

    trace = jnp.zeros((num_iters,), dtype)
    carry = (jnp.int32(0), params, jnp.asarray(-jnp.inf, dtype), trace, jnp.bool_(False))
    iters, params, ll, trace, _ = jax.lax.while_loop(cond, body, carry)
    trace = jnp.where(jnp.arange(num_iters) < iters, trace, ll)
    return params, ll, trace, iters
