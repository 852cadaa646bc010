"""The two players of a GAN, built from a loss name and the two networks' apply functions.

:func:`gan_players` returns the critic and generator :class:`gendiff.train.Player` s that
:func:`gendiff.train.make_players_step` turns into one compiled step (``n_critic`` critic
updates, then one generator update) and :func:`gendiff.train.fit` trains. The adversarial
losses come from :func:`gendiff.gan.get_gan_loss`, the regularisers from :mod:`gendiff.gan`;
this module only wires them to the networks and the batch.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from gendiff.gan.clipping import clip_weights
from gendiff.gan.packing import pack, unpack
from gendiff.gan.penalties import gradient_penalty as gp_penalty
from gendiff.gan.penalties import r1_penalty
from gendiff.gan.registry import GANLoss, get_gan_loss
from gendiff.train.step import Player

PyTree = Any

__all__ = ["gan_players"]


def _packing_degree(samples: jax.Array, outputs: jax.Array) -> int:
    """m: how many samples the critic judges per output (1, or PacGAN's m)."""
    rows, out_rows = samples.shape[0], outputs.shape[0]
    if outputs.shape not in ((out_rows,), (out_rows, 1)) or out_rows < 1 or rows % out_rows:
        raise ValueError(
            f"the critic must return (batch,) or (batch / m, ) outputs (m samples judged at "
            f"once), got {outputs.shape} for {rows} samples."
        )
    return rows // out_rows


def gan_players(
    loss: str | GANLoss,
    generator_apply: Callable[..., jax.Array],
    critic_apply: Callable[..., jax.Array],
    generator_tx: optax.GradientTransformation,
    critic_tx: optax.GradientTransformation,
    *,
    latent_dim: int,
    n_critic: int = 1,
    gradient_penalty: float = 0.0,
    one_sided: bool = False,
    r1: float = 0.0,
    clip: float | None = None,
    spectral_update: Callable[[PyTree], PyTree] | None = None,
    split_batch: bool = False,
    data_key: str = "x",
    label_key: str | None = None,
    names: tuple[str, str] = ("critic", "generator"),
    loss_params: dict | None = None,
    top_k: float = 1.0,
    latent_categories: int = 0,
) -> tuple[Player, Player]:
    """The critic and generator players of a GAN, in update order.

    Each critic update draws z ~ N(0, I) (latent_dim) for as many fakes as real samples,
    and minimises ``loss.discriminator(D(x_real), D(stop_gradient(G(z))))`` plus
    ``gradient_penalty * GP`` (on interpolates of real and fake) plus ``r1 / 2 * R1`` (on
    real samples). The generator update draws a fresh z for every row of the batch and
    minimises ``loss.generator(D(G(z)))`` with the critic fixed; with ``top_k < 1`` only the
    ``ceil(top_k * n)`` of its n outputs that the critic rates most real enter that loss, so
    the worst-rated fakes get no gradient (Sinha et al. 2020, "Top-k training of GANs:
    improving GAN performance by throwing away bad samples"). When the critic judges m
    samples at once (:class:`gendiff.nets.PacCritic`: B samples give B / m outputs) the
    penalties act on the packed inputs, the critic's actual input space. Conditional GANs
    (``label_key`` set) condition the fakes on the batch's labels, so real and fake rows pair
    up label for label. With ``latent_categories = K`` every fake also draws a code c
    uniformly from {0, ..., K - 1}, given to the generator as its label (z, c) while the
    critic stays unconditional: a discrete part of the latent, so that the generator is a
    mixture of K generators sharing their weights, which can place disconnected modes apart
    where one continuous map of z must join them by bridges (Khayatkhoei et al. 2018,
    "Disconnected manifold learning for generative adversarial networks"; InfoGAN's
    categorical code without its information term).

    Parameters of Flax networks are their whole variables dicts: a spectrally normalised
    critic's entry is ``{"params": ..., "spectral": ...}``, whose power-iteration state gets
    zero gradients and is rewritten by ``spectral_update`` (see :mod:`gendiff.nets.spectral`).
    ``clip`` acts on the critic's whole entry, before that refresh.

    Build the state from the same optimisers and train through fit::

        critic_p, gen_p = gan_players("non_saturating", g.apply, d.apply, g_tx, d_tx,
                                      latent_dim=8)
        state = create_players_state({"critic": d_vars, "generator": g_vars},
                                     {p.name: p.tx for p in (critic_p, gen_p)})
        state, _ = fit(state, make_players_step([critic_p, gen_p], ema_decay=0.999), ...)

    Args:
      loss: a name of :data:`gendiff.gan.GAN_LOSSES` (with ``loss_params``) or a GANLoss.
      generator_apply: ``(generator_params, z[, y]) -> samples`` (e.g. a Flax ``apply``).
      critic_apply: ``(critic_params, x[, y]) -> (batch,) or (batch, 1)`` outputs (or
        batch / m of them for a packing critic). Called with its default
        ``update_stats=False`` for a spectrally normalised Flax critic.
      generator_tx, critic_tx: the two optimisers.
      latent_dim: width of the Gaussian latent z.
      n_critic: critic updates per generator update (WGAN: 5).
      gradient_penalty: weight lambda of the WGAN-GP penalty (WGAN-GP: 10); 0 disables it.
      one_sided: penalise only gradient norms above 1.
      r1: weight gamma of the R1 penalty, added as gamma / 2 * R1; 0 disables it.
      clip: WGAN weight clipping of every critic parameter to [-clip, clip] after each update.
      spectral_update: the refresh of a spectrally normalised critic's power-iteration state
        (:func:`gendiff.nets.spectral_refresh`), run after each critic update (after any
        clipping).
      split_batch: give each of the ``n_critic`` updates its own chunk of the batch (the
        batch size must then be a multiple of n_critic); otherwise each sees the whole batch.
      data_key: the batch entry holding the real samples.
      label_key: the batch entry holding integer labels (conditional GAN), or None.
      names: the players' names, which key their parameters in the state.
      loss_params: keyword parameters of the named loss.
      top_k: the fraction in (0, 1] of the generator's critic outputs (the highest) that
        its loss averages; 1 keeps them all. Every loss here rates real samples higher.
      latent_categories: K > 0 adds a uniform categorical code c in {0, ..., K - 1} to the
        latent, passed as the generator's label (``generator_apply(params, z, c)``); 0 (the
        default) draws z alone. Not with ``label_key`` (a conditional GAN's labels).

    Returns:
      ``(critic, generator)`` Players. Critic metrics: the loss pair's discriminator metrics
      ('adversarial_loss' is its loss), plus 'gp_penalty' / 'gp_input_grad_norm' and
      'r1_penalty' / 'r1_input_grad_norm' when enabled; generator metrics: the loss pair's.

    Warns:
      UserWarning: the loss needs a Lipschitz critic (Wasserstein) and none of a gradient
        penalty, clipping or spectral normalisation is given.

    Example:
      >>> import optax
      >>> g = lambda p, z: p["w"] * z
      >>> d = lambda p, x: x[:, 0] * p["v"]
      >>> critic, generator = gan_players(
      ...     "wasserstein", g, d, optax.sgd(0.1), optax.sgd(0.1), latent_dim=1,
      ...     n_critic=5, gradient_penalty=10.0)
      >>> critic.steps, critic.name, generator.name
      (5, 'critic', 'generator')
    """
    pair = get_gan_loss(loss, **(loss_params or {})) if isinstance(loss, str) else loss
    if not isinstance(pair, GANLoss):
        raise TypeError(f"loss must be a GAN loss name or a GANLoss, got {type(loss).__name__}.")
    if loss_params and not isinstance(loss, str):
        raise ValueError("loss_params go with a loss name, not with a GANLoss.")
    if int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    if int(n_critic) != n_critic or n_critic < 1:
        raise ValueError(f"n_critic must be a positive integer, got {n_critic!r}.")
    for name, value in (("gradient_penalty", gradient_penalty), ("r1", r1)):
        if not float(value) >= 0:
            raise ValueError(f"{name} must be a weight >= 0, got {value}.")
    if clip is not None and not float(clip) > 0:
        raise ValueError(f"clip must be > 0 (or None), got {clip}.")
    if not 0.0 < float(top_k) <= 1.0:
        raise ValueError(
            f"top_k must be a fraction in (0, 1] of the generator's batch, got {top_k}."
        )
    if int(latent_categories) != latent_categories or latent_categories < 0:
        raise ValueError(
            f"latent_categories must be an integer >= 0 (0 = no code), got {latent_categories!r}."
        )
    if latent_categories and label_key is not None:
        raise ValueError(
            "latent_categories draws the generator's labels itself; a conditional GAN "
            f"(label_key={label_key!r}) takes them from the batch: give one or the other."
        )
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two different player names, got {names!r}.")
    if pair.requires_lipschitz and not (gradient_penalty or clip or spectral_update):
        warnings.warn(
            "this GAN loss needs a Lipschitz critic, but no gradient_penalty, clip or "
            "spectral_update was given: the critic is unconstrained.",
            UserWarning,
            stacklevel=2,
        )
    critic_name, generator_name = names
    latent_dim, n_critic = int(latent_dim), int(n_critic)

    def labels_of(batch):
        return () if label_key is None else (batch[label_key],)

    def generate(params, key, n, cond):
        if latent_categories:  # the code c is the generator's label; the critic sees none
            key, key_c = jax.random.split(key)
            cond = (jax.random.randint(key_c, (n,), 0, latent_categories),)
        z = jax.random.normal(key, (n, latent_dim))
        return generator_apply(params[generator_name], z, *cond)

    def critic_loss(params, batch, key):
        key_z, key_gp = jax.random.split(key)
        real = jnp.asarray(batch[data_key])
        cond = labels_of(batch)
        fake = jax.lax.stop_gradient(generate(params, key_z, real.shape[0], cond))
        if fake.shape != real.shape:
            raise ValueError(
                f"the generator's samples have shape {fake.shape}, the data {real.shape}."
            )

        def critic(x):
            return critic_apply(params[critic_name], x, *cond)

        real_out, fake_out = critic(real), critic(fake)
        adversarial, metrics = pair.discriminator(real_out, fake_out)
        metrics = {k: v for k, v in metrics.items() if k != "loss"}
        metrics["adversarial_loss"] = adversarial
        total = adversarial
        if gradient_penalty or r1:
            m = _packing_degree(real, real_out)

            def packed_critic(x_packed):  # the critic as a function of its packed input
                return critic(unpack(x_packed, m))

            if gradient_penalty:
                gp, gp_metrics = gp_penalty(
                    key_gp, packed_critic, pack(real, m), pack(fake, m), one_sided=one_sided
                )
                total = total + gradient_penalty * gp
                metrics.update(gp_penalty=gp, gp_input_grad_norm=gp_metrics["grad_norm"])
            if r1:
                r1_value, r1_metrics = r1_penalty(packed_critic, pack(real, m))
                total = total + 0.5 * r1 * r1_value
                metrics.update(r1_penalty=r1_value, r1_input_grad_norm=r1_metrics["grad_norm"])
        return total, metrics

    def generator_loss(params, batch, key):
        cond = labels_of(batch)
        fake = generate(params, key, jnp.shape(batch[data_key])[0], cond)
        outputs = critic_apply(params[critic_name], fake, *cond)
        if top_k < 1.0:  # the k outputs the critic rates most real (a static k per shape)
            flat = outputs.reshape(-1)  # (n,) or (n, 1): one output per (packed) sample
            outputs = jax.lax.top_k(flat, max(1, math.ceil(top_k * flat.size)))[0]
        return pair.generator(outputs)

    post_updates = []
    if clip is not None:
        post_updates.append(lambda p: clip_weights(p, clip))
    if spectral_update is not None:
        post_updates.append(spectral_update)

    def post_update(p):
        for f in post_updates:
            p = f(p)
        return p

    critic_player = Player(
        critic_name,
        critic_loss,
        critic_tx,
        steps=n_critic,
        split_batch=split_batch,
        post_update=post_update if post_updates else None,
    )
    generator_player = Player(generator_name, generator_loss, generator_tx)
    return critic_player, generator_player
