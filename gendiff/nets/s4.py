"""An S4D layer (Gu et al. 2022, diagonal S4) and a token model built from it, channels-last.

Every channel h of u (batch, length, H) drives its own diagonal SSM of N modes,

    x'(t) = diag(Lambda_h) x(t) + B_h u_h(t),   y_h(t) = C_h . x(t)   (2 Re(C_h . x(t)) if complex),

discretised with a learned step delta_h = exp(log_dt_h) by :func:`gendiff.ssm.discretize`
('zoh' or 'bilinear'), unrolled into the kernel K_h[l] = sum_n C_hn Bbar_hn Lambda_bar_hn^l
(:func:`gendiff.ssm.kernel_vandermonde`) and applied as a causal convolution
(:func:`gendiff.ssm.causal_conv`), plus the skip D_h u_h. The system is linear and time-invariant:
the same kernel is applied at every position, whatever the input.

Initialisations of Lambda (n = 0..N-1):
  - 'lin'  (S4D-Lin):  Lambda_n = -1/2 + i pi n, complex; each mode stands for a conjugate pair,
    so the real output is 2 Re(C x).
  - 'real' (S4D-Real): Lambda_n = -(n + 1), real.
Re(Lambda) is kept negative by storing log(-Re Lambda). B starts at 1, log_dt is uniform in
[log 1e-3, log 1e-1], C is standard normal (complex for 'lin', variance 1/2 per part).

:class:`S4DPLRConv` is the full S4 convolution instead: A_h = diag(Lambda_h) - P_h P_h^* (normal
plus rank one), initialised to the NPLR form of HiPPO-LegS (:func:`gendiff.ssm.dplr.nplr_legs`),
discretised bilinearly, with the kernel from :func:`gendiff.ssm.dplr.kernel_dplr`.
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gendiff.nets.embeddings import check_tokens
from gendiff.ssm import DISCRETIZATIONS, causal_conv, discretize, kernel_vandermonde
from gendiff.ssm.dplr import kernel_dplr, nplr_legs

__all__ = ["S4D_INITS", "S4DConv", "S4DLayer", "S4DPLRConv", "S4Model", "diagonal_system"]

S4D_INITS = ("lin", "real")


def _uniform(low: float, high: float):
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, low, high)


def diagonal_system(
    log_neg_re_lambda: jax.Array,
    log_dt: jax.Array,
    B: jax.Array,
    C: jax.Array,
    im_lambda: jax.Array | None = None,
    discretization: str = "zoh",
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The discrete diagonal systems of H channels from the S4D parameters.

    Lambda = -exp(log_neg_re_lambda) (+ i im_lambda), delta = exp(log_dt), each channel
    discretised by :func:`gendiff.ssm.discretize` (a diagonal A stays diagonal).

    Args:
      log_neg_re_lambda: (H, N) log of -Re(Lambda).
      log_dt: (H,) log step sizes.
      B: (H, N) real input vectors.
      C: (H, N) real, or (H, N, 2) real and imaginary parts for a complex system.
      im_lambda: (H, N) Im(Lambda), or None for a real system.
      discretization: 'zoh' or 'bilinear'.

    Returns:
      (Lambda_bar, Bbar, C), each (H, N), complex when ``im_lambda`` is given.

    Example:
      >>> Lb, Bb, C = diagonal_system(jnp.zeros((1, 1)), jnp.log(jnp.full(1, 0.5)),
      ...                             jnp.ones((1, 1)), jnp.ones((1, 1)))
      >>> round(float(Lb[0, 0]), 4)  # exp(-0.5)
      0.6065
    """
    if discretization not in ("zoh", "bilinear"):
        raise ValueError(
            f"S4D supports discretization 'zoh' or 'bilinear' of {DISCRETIZATIONS}, "
            f"got {discretization!r}"
        )
    Lam = -jnp.exp(log_neg_re_lambda)
    if im_lambda is not None:
        Lam = Lam + 1j * im_lambda
        B = B.astype(Lam.dtype)
        C = C[..., 0] + 1j * C[..., 1]

    def one_channel(lam, b, dt):
        Abar, Bbar = discretize(jnp.diag(lam), b, jnp.exp(dt), discretization)
        return jnp.diagonal(Abar), Bbar

    Lam_bar, Bbar = jax.vmap(one_channel)(Lam, B, log_dt)
    return Lam_bar, Bbar, C


class S4DConv(nn.Module):
    """The S4D state-space convolution y = K * u + D u, per channel: (batch, L, H) -> same.

    Attributes:
      d_state: number of modes N per channel.
      lambda_init: 'lin' (complex S4D-Lin) or 'real' (S4D-Real).
      discretization: 'zoh' or 'bilinear'.
      dt_min, dt_max: range of the initial steps (log-uniform).

    Example:
      >>> conv = S4DConv(d_state=4)
      >>> u = jnp.zeros((2, 10, 3))
      >>> params = jax.jit(conv.init)(jax.random.key(0), u)  # jit: one compilation, not op by op
      >>> jax.jit(conv.apply)(params, u).shape
      (2, 10, 3)
    """

    d_state: int = 32
    lambda_init: str = "lin"
    discretization: str = "zoh"
    dt_min: float = 1e-3
    dt_max: float = 1e-1

    @nn.compact
    def __call__(self, u: jax.Array) -> jax.Array:
        if u.ndim != 3:
            raise ValueError(f"u must have shape (batch, length, H), got {u.shape}")
        if self.lambda_init not in S4D_INITS:
            raise ValueError(
                f"unknown S4D lambda_init {self.lambda_init!r}; expected one of {S4D_INITS}"
            )
        _, L, H = u.shape
        N = self.d_state
        n = jnp.arange(N, dtype=jnp.float32)
        is_complex = self.lambda_init == "lin"
        re0 = 0.5 * jnp.ones(N) if is_complex else n + 1.0  # -Re(Lambda_n) at initialisation
        constant = lambda value: lambda key, shape: jnp.broadcast_to(value, shape)
        system = dict(
            log_neg_re_lambda=self.param("log_neg_re_lambda", constant(jnp.log(re0)), (H, N)),
            log_dt=self.param(
                "log_dt", _uniform(math.log(self.dt_min), math.log(self.dt_max)), (H,)
            ),
            B=self.param("B", nn.initializers.ones, (H, N)),
        )
        if is_complex:
            system["im_lambda"] = self.param("im_lambda", constant(jnp.pi * n), (H, N))
            system["C"] = self.param("C", nn.initializers.normal(math.sqrt(0.5)), (H, N, 2))
        else:
            system["C"] = self.param("C", nn.initializers.normal(1.0), (H, N))
        D = self.param("D", nn.initializers.ones, (H,))

        Lam_bar, Bbar, C = diagonal_system(**system, discretization=self.discretization)
        K = jax.vmap(kernel_vandermonde, in_axes=(0, 0, 0, None))(Lam_bar, Bbar, C, L)  # (H, L)
        K = 2.0 * K.real if is_complex else K  # conjugate pairs: K + conj(K) = 2 Re K
        y = jax.vmap(causal_conv, in_axes=(0, None))(u.astype(jnp.float32), K.T)
        return (y + D * u).astype(u.dtype)  # skip connection D u


@functools.cache
def _legs_init(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Lambda, P, B) of the NPLR HiPPO-LegS, computed once per state size."""
    with jax.ensure_compile_time_eval():  # concrete even when first called under jit
        Lambda, P, _, B, _ = nplr_legs(N)
        return np.asarray(Lambda), np.asarray(P), np.asarray(B)


def _complex(x: jax.Array) -> jax.Array:
    """(..., 2) real and imaginary parts -> complex (...)."""
    return x[..., 0] + 1j * x[..., 1]


class S4DPLRConv(nn.Module):
    """The S4 (DPLR) state-space convolution y = Re(K) * u + D u, per channel: (batch, L, H).

    Channel h has A_h = diag(Lambda_h) - P_h P_h^* in the basis where its normal part is
    diagonal, with Lambda_h = -exp(log_neg_re_lambda_h) + i im_lambda_h, complex B_h and C_h,
    step exp(log_dt_h), discretised bilinearly. At initialisation (Lambda, P, B) is the NPLR form
    of HiPPO-LegS, identical across channels; C is complex standard normal. All N eigenvalues
    are kept (no conjugate-pair halving), so the kernel of the initial system is real; its real
    part is used throughout. Each call forms the dense N x N Abar per channel once (O(H N^3 log L)
    for C (I - Abar^L), see :func:`gendiff.ssm.dplr.kernel_dplr`).

    Attributes:
      d_state: state size N.
      dt_min, dt_max: range of the initial steps (log-uniform).

    Example:
      >>> conv = S4DPLRConv(d_state=4)
      >>> u = jnp.zeros((2, 10, 3))
      >>> params = conv.init(jax.random.key(0), u)
      >>> conv.apply(params, u).shape
      (2, 10, 3)
    """

    d_state: int = 32
    dt_min: float = 1e-3
    dt_max: float = 1e-1

    @nn.compact
    def __call__(self, u: jax.Array) -> jax.Array:
        if u.ndim != 3:
            raise ValueError(f"u must have shape (batch, length, H), got {u.shape}")
        _, L, H = u.shape
        N = self.d_state
        Lambda0, P0, B0 = _legs_init(N)
        parts = lambda z: np.stack([z.real, z.imag], axis=-1)  # complex (N,) -> (N, 2)
        constant = lambda value: lambda key, shape: jnp.broadcast_to(value, shape)
        log_neg_re = self.param("log_neg_re_lambda", constant(jnp.log(-Lambda0.real)), (H, N))
        im_lambda = self.param("im_lambda", constant(Lambda0.imag), (H, N))
        P = _complex(self.param("P", constant(parts(P0)), (H, N, 2)))
        B = _complex(self.param("B", constant(parts(B0)), (H, N, 2)))
        C = _complex(self.param("C", nn.initializers.normal(math.sqrt(0.5)), (H, N, 2)))
        log_dt = self.param("log_dt", _uniform(math.log(self.dt_min), math.log(self.dt_max)), (H,))
        D = self.param("D", nn.initializers.ones, (H,))

        Lambda = -jnp.exp(log_neg_re) + 1j * im_lambda
        kernel = lambda lam, p, b, c, dt: kernel_dplr(lam, p, p, b, c, jnp.exp(dt), L)
        K = jax.vmap(kernel)(Lambda, P, B, C, log_dt).real  # (H, L), Q = P
        y = jax.vmap(causal_conv, in_axes=(0, None))(u.astype(jnp.float32), K.T)
        return (y + D * u).astype(u.dtype)  # skip connection D u


class S4DLayer(nn.Module):
    """S4D convolution, then GELU and a position-wise Dense mixing the channels.

    Attributes: as :class:`S4DConv`.

    Example:
      >>> layer = S4DLayer(d_state=4)
      >>> u = jnp.zeros((2, 10, 3))
      >>> params = layer.init(jax.random.key(0), u)
      >>> layer.apply(params, u).shape
      (2, 10, 3)
    """

    d_state: int = 32
    lambda_init: str = "lin"
    discretization: str = "zoh"
    dt_min: float = 1e-3
    dt_max: float = 1e-1

    @nn.compact
    def __call__(self, u: jax.Array) -> jax.Array:
        y = S4DConv(
            self.d_state,
            self.lambda_init,
            self.discretization,
            self.dt_min,
            self.dt_max,
            name="ssm",
        )(u)
        return nn.Dense(u.shape[-1], name="out")(nn.gelu(y))


class S4Model(nn.Module):
    """Token model: embedding -> num_layers x (x + S4D(RMSNorm(x))) -> RMSNorm -> logits.

    Attributes:
      vocab_size: number of tokens.
      d_model: residual width H.
      num_layers: number of residual S4D layers.
      d_state, lambda_init, discretization: passed to every :class:`S4DLayer`.

    Example:
      >>> model = S4Model(vocab_size=10, d_model=8, num_layers=2, d_state=4)
      >>> tokens = jnp.zeros((2, 5), jnp.int32)
      >>> params = jax.jit(model.init)(jax.random.key(0), tokens)  # jit: one compilation, not op by op
      >>> jax.jit(model.apply)(params, tokens).shape
      (2, 5, 10)
    """

    vocab_size: int
    d_model: int = 64
    num_layers: int = 2
    d_state: int = 32
    lambda_init: str = "lin"
    discretization: str = "zoh"

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Args: tokens (batch, length) integers in [0, vocab_size). Returns: logits
        (batch, length, vocab_size); position t depends only on tokens 0..t."""
        check_tokens(tokens)
        h = nn.Embed(self.vocab_size, self.d_model, name="embed")(tokens)
        for i in range(self.num_layers):
            layer = S4DLayer(self.d_state, self.lambda_init, self.discretization, name=f"layer_{i}")
            h = h + layer(nn.RMSNorm(name=f"norm_{i}")(h))
        h = nn.RMSNorm(name="norm_f")(h)
        return nn.Dense(self.vocab_size, name="lm_head")(h)
