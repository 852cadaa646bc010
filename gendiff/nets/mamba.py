"""The Mamba block and a Mamba language model (Gu & Dao 2023), channels-last.

For x of shape (batch, length, d_model), with d_inner = expand d_model:

    (u, z)        = in_proj(x)                          two (batch, length, d_inner) halves
    u             = SiLU(causal depthwise conv1d(u))    kernel d_conv, left zero padding
    (dt, B, C)    = x_proj(u)                           widths dt_rank, d_state, d_state
    delta_raw     = dt_proj(dt)                         (batch, length, d_inner), no bias
    y             = selective_scan(u, delta_raw, A, B, C, D, z=z,
                                   delta_bias=dt_bias, delta_softplus=True)
    out           = out_proj(y)

so delta = softplus(dt_proj(dt) + dt_bias), A = -exp(A_log) and y is gated by SiLU(z).
Initialisation (the reference implementation's):
  - dt_proj weights uniform in [-dt_rank^-1/2, dt_rank^-1/2];
  - dt_bias = softplus^{-1}(dt) with dt log-uniform in [dt_min, dt_max] = [1e-3, 1e-1], so the
    initial steps softplus(dt_bias) lie in that range;
  - A_log = log(1, ..., d_state) per channel (S4D-Real: A = -(1, ..., d_state));
  - D = 1.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.nets.embeddings import check_tokens
from gendiff.ssm import selective_scan

__all__ = ["MambaBlock", "MambaLM", "dt_bias_init", "s4d_real_log_init"]


def _inverse_softplus(y: jax.Array) -> jax.Array:
    """x with softplus(x) = y > 0: x = y + log(1 - exp(-y))."""
    return y + jnp.log(-jnp.expm1(-y))


def _symmetric_uniform(bound: float):
    """Initializer drawing uniformly from [-bound, bound]."""
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(
        key, shape, dtype, -bound, bound
    )


def dt_bias_init(dt_min: float = 1e-3, dt_max: float = 1e-1, dt_floor: float = 1e-4):
    """Initializer of the step bias: softplus^{-1}(dt), dt log-uniform in [dt_min, dt_max].

    Example:
      >>> b = dt_bias_init()(jax.random.key(0), (1000,))
      >>> bool((jax.nn.softplus(b) >= 1e-3 - 1e-9).all() & (jax.nn.softplus(b) <= 0.1 + 1e-7).all())
      True
    """
    if not 0.0 < dt_min <= dt_max:
        raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")

    def init(key, shape, dtype=jnp.float32):
        r = jax.random.uniform(key, shape, jnp.float32)
        dt = jnp.exp(r * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        return _inverse_softplus(jnp.maximum(dt, dt_floor)).astype(dtype)

    return init


def s4d_real_log_init(key, shape, dtype=jnp.float32):
    """A_log[c, n] = log(n + 1) for shape (d, N): A = -exp(A_log) = -(1, ..., N) per channel."""
    del key
    return jnp.broadcast_to(jnp.log(jnp.arange(1, shape[-1] + 1, dtype=dtype)), shape)


class MambaBlock(nn.Module):
    """One Mamba mixer (see the module docstring): (batch, length, d_model) -> same shape.

    Attributes:
      d_state: state size N per channel.
      d_conv: width of the causal depthwise convolution.
      expand: d_inner = expand * d_model.
      dt_rank: width of the low-rank step projection; None = ceil(d_model / 16).
      dt_min, dt_max: range of the initial steps softplus(dt_bias).
      scan_method: method of :func:`gendiff.ssm.selective_scan`.

    Example:
      >>> block = MambaBlock(d_state=4)
      >>> x = jnp.zeros((2, 6, 8))
      >>> params = jax.jit(block.init)(jax.random.key(0), x)  # jit: one compilation, not op by op
      >>> jax.jit(block.apply)(params, x).shape
      (2, 6, 8)
    """

    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    dt_rank: int | None = None
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    scan_method: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, length, d_model), got {x.shape}")
        d_model = x.shape[-1]
        d_inner = self.expand * d_model
        dt_rank = self.dt_rank or math.ceil(d_model / 16)

        u, z = jnp.split(nn.Dense(2 * d_inner, use_bias=False, name="in_proj")(x), 2, axis=-1)
        u = nn.Conv(
            d_inner,
            kernel_size=(self.d_conv,),
            padding=[(self.d_conv - 1, 0)],  # left padding only: output t sees inputs <= t
            feature_group_count=d_inner,  # depthwise
            name="conv1d",
        )(u)
        u = nn.silu(u)
        dt, B, C = jnp.split(
            nn.Dense(dt_rank + 2 * self.d_state, use_bias=False, name="x_proj")(u),
            [dt_rank, dt_rank + self.d_state],
            axis=-1,
        )
        bound = dt_rank**-0.5
        delta_raw = nn.Dense(
            d_inner,
            use_bias=False,
            kernel_init=_symmetric_uniform(bound),
            name="dt_proj",
        )(dt)
        dt_bias = self.param("dt_bias", dt_bias_init(self.dt_min, self.dt_max), (d_inner,))
        A_log = self.param("A_log", s4d_real_log_init, (d_inner, self.d_state))
        D = self.param("D", nn.initializers.ones, (d_inner,))
        y = selective_scan(
            u,
            delta_raw,
            -jnp.exp(A_log),  # A = -exp(A_log) < 0
            B,
            C,
            D,
            z=z,
            delta_bias=dt_bias,
            delta_softplus=True,
            method=self.scan_method,
        )
        return nn.Dense(d_model, use_bias=False, name="out_proj")(y)


class MambaLM(nn.Module):
    """Token model: embedding -> num_layers x (x + Mamba(RMSNorm(x))) -> RMSNorm -> logits.

    Attributes:
      vocab_size: number of tokens.
      d_model: residual width.
      num_layers: number of residual Mamba blocks.
      d_state, d_conv, expand, scan_method: passed to every :class:`MambaBlock`.

    Example:
      >>> lm = MambaLM(vocab_size=10, d_model=8, num_layers=2, d_state=4)
      >>> tokens = jnp.zeros((2, 5), jnp.int32)
      >>> params = jax.jit(lm.init)(jax.random.key(0), tokens)  # jit: one compilation, not op by op
      >>> jax.jit(lm.apply)(params, tokens).shape
      (2, 5, 10)
    """

    vocab_size: int
    d_model: int = 64
    num_layers: int = 2
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    scan_method: str = "auto"

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Args: tokens (batch, length) integers in [0, vocab_size). Returns: logits
        (batch, length, vocab_size); position t depends only on tokens 0..t."""
        check_tokens(tokens)
        h = nn.Embed(self.vocab_size, self.d_model, name="embed")(tokens)
        for i in range(self.num_layers):
            block = MambaBlock(
                self.d_state,
                self.d_conv,
                self.expand,
                scan_method=self.scan_method,
                name=f"block_{i}",
            )
            h = h + block(nn.RMSNorm(name=f"norm_{i}")(h))
        h = nn.RMSNorm(name="norm_f")(h)
        return nn.Dense(self.vocab_size, name="lm_head")(h)
