"""Gaussian-latent VAEs end to end: VAE, beta-VAE, IWAE, InfoVAE and the 2-layer ladder VAE.

  python -m experiments.vae                          # VAE on 8x8 digits
  python -m experiments.vae --preset beta            # rate_distortion.png and latents.png
  python -m experiments.vae --preset iwae            # VAE vs IWAE (k = 5, 50)
  # Burda et al.'s nets on binary MNIST (DIR: the t10k IDX files)
  python -m experiments.vae --preset mnist_binary --config.data_dir=DIR

Each arm of ``config.arms`` (see experiments/configs/vae.py) is trained in ``workdir/ARM`` with
the same batches and number of steps, then evaluated on the test split:

- ``ARM_test_nll``: -log p(x) estimated by the IWAE bound with ``eval.num_importance_samples``
  (5000) draws, in nats per example and ``ARM_test_bpd`` in bits per dimension;
- ``ARM_test_elbo``, ``ARM_test_kl`` (the rate), ``ARM_test_distortion``, all in nats;
- ``ARM_active_units`` (Burda et al.'s Var_x E_q[u] > 0.01; the top layer for the HVAE);
- ``ARM_fd_digits`` with its floor and noise values on the digits (samples are the decoder
  means at z ~ p(z)), and ``ARM_mmd_prior``: MMD^2 between the aggregated posterior and N(0, I).

With a Bernoulli likelihood the images are binarised afresh at every step (dynamic
binarisation) and the test images once, with a fixed key, the same for every arm.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from matplotlib.figure import Figure

from experiments import common
from experiments.configs import vae as configs
from gendiff import data, nets, vae
from gendiff import eval as evaluation
from gendiff.train import is_main_process

ARM_KINDS = ("vae", "beta", "iwae", "infovae", "hvae")
LIKELIHOODS = ("discretized_logistic", "bernoulli", "gaussian")


def parse_arms(spec: str) -> list[tuple[str, str, float | None]]:
    """'vae,iwae:50,beta:0.5' -> [('vae', 'vae', None), ('iwae50', 'iwae', 50), ...].

    Example:
        >>> parse_arms("vae, iwae:5, beta:0.5")
        [('vae', 'vae', None), ('iwae5', 'iwae', 5), ('beta0.5', 'beta', 0.5)]
    """
    arms = []
    for item in spec.split(","):
        kind, _, value = item.strip().partition(":")
        if kind not in ARM_KINDS:
            raise ValueError(
                f"Unknown arm {item.strip()!r}: expected one of {ARM_KINDS}, optionally "
                "with ':VALUE' (iwae:K, hvae:K, beta:B)."
            )
        if kind == "beta":
            if not value or float(value) <= 0:
                raise ValueError(f"Arm {item.strip()!r} needs a positive beta, e.g. 'beta:0.5'.")
            arms.append((f"beta{value}", kind, float(value)))
        elif kind in ("iwae", "hvae") and value:
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"Arm {item.strip()!r}: k must be an integer >= 1.")
            arms.append(
                (f"{kind}{value}" if kind == "iwae" or value != "1" else kind, kind, int(value))
            )
        elif kind == "iwae":
            raise ValueError("Arm 'iwae' needs its number of samples, e.g. 'iwae:50'.")
        elif value:
            raise ValueError(f"Arm {kind!r} takes no value, got {item.strip()!r}.")
        else:
            arms.append((kind, kind, None))
    names = [a[0] for a in arms]
    if len(set(names)) != len(names):
        raise ValueError(f"Arms must be distinct, got {names}.")
    return arms


def make_likelihood(config, dataset: data.ArrayDataset) -> tuple[vae.Likelihood, str]:
    """The decoder likelihood of ``config.likelihood`` and the matching decoder head."""
    if config.likelihood == "bernoulli":
        return vae.Bernoulli(), "logits"
    if config.likelihood == "discretized_logistic":
        if dataset.num_levels is None:
            raise ValueError(
                f"likelihood 'discretized_logistic' needs data on levels; {dataset.name!r} "
                "is continuous."
            )
        return vae.DiscretizedLogistic(dataset.num_levels), "mean_log_scale"
    if config.likelihood == "gaussian":
        return vae.Gaussian(variance=config.gaussian_variance), "mean"
    raise ValueError(f"Unknown likelihood {config.likelihood!r}; expected one of {LIKELIHOODS}.")


def decoder_mean(likelihood: vae.Likelihood, params) -> jax.Array:
    """The decoder's mean image in [-1, 1] (Bernoulli: 2 sigmoid(logits) - 1)."""
    if isinstance(likelihood, vae.Bernoulli):
        return 2.0 * jax.nn.sigmoid(params) - 1.0
    mean = params[0] if isinstance(params, tuple) else params
    return jnp.clip(mean, -1.0, 1.0)


class _FlatModel:
    """A one-layer VAE (MLP or conv encoder and decoder) and its objectives."""

    def __init__(self, config, shape, likelihood, head):
        m = config.model
        if m.name == "mlp":
            enc = nets.MLPEncoder(tuple(m.hidden), m.latent_dim, m.activation)
            dec = nets.MLPDecoder(tuple(reversed(m.hidden)), shape, head, m.activation)
        elif m.name == "conv":
            enc = nets.ConvEncoder(tuple(m.channels), m.latent_dim)
            dec = nets.ConvDecoder(tuple(reversed(m.channels)), shape, head)
        else:
            raise ValueError(f"Unknown model {m.name!r}; expected 'mlp' or 'conv'.")
        self.net, self.shape, self.lik, self.config = nets.VAE(enc, dec), shape, likelihood, config
        self.latent_dim = m.latent_dim

    def init(self, key):
        return self.net.init(key, jnp.zeros((1, *self.shape)))

    def fns(self, params):
        enc = functools.partial(self.net.apply, params, method="encode")
        dec = functools.partial(self.net.apply, params, method="decode")
        return enc, dec

    def loss(self, kind: str, value, params, x, key, warmup=1.0):
        """The arm's loss; ``warmup`` scales the rate of the ELBO arms (vae, beta)."""
        enc, dec = self.fns(params)
        c = self.config
        if kind in ("vae", "beta"):
            return vae.vae_loss(
                key,
                enc,
                dec,
                x,
                likelihood=self.lik,
                beta=warmup * (c.beta if value is None else value),
                free_bits=c.free_bits or None,
            )
        if kind == "iwae":
            bound = vae.iwae_bound(key, enc, dec, x, value, likelihood=self.lik)
            return -jnp.mean(bound), {f"iwae_bound_k{value}": jnp.mean(bound)}
        return vae.infovae_loss(
            key, enc, dec, x, likelihood=self.lik, alpha=c.infovae.alpha, lam=c.infovae.lam
        )

    def log_likelihood(self, params, x, key, k: int, chunk: int):
        enc, dec = self.fns(params)
        return vae.log_likelihood(key, enc, dec, x, k, likelihood=self.lik, chunk_size=chunk)

    def terms(self, params, x, key):
        """Per example: elbo, kl, distortion, the posterior mean and one draw of z."""
        enc, dec = self.fns(params)
        mu, log_var = enc(x)
        t, z = vae.elbo_from_posterior(key, dec, x, mu, log_var, likelihood=self.lik)
        return dict(elbo=t.elbo, kl=t.kl, distortion=t.distortion), mu, z[0]

    def generate(self, params, key, num: int):
        z = jax.random.normal(key, (num, self.latent_dim))
        return self.net.apply(params, z, method="decode")


class _LadderModel:
    """The 2-layer ladder VAE (:class:`gendiff.nets.LadderVAE`) and its objectives."""

    def __init__(self, config, shape, likelihood, head):
        h = config.hvae
        self.net = nets.LadderVAE(
            tuple(h.hidden1),
            tuple(h.hidden2),
            h.latent1,
            h.latent2,
            shape,
            head,
            config.model.activation,
        )
        self.shape, self.lik, self.free_bits = shape, likelihood, config.free_bits

    def init(self, key):
        x = jnp.zeros((1, *self.shape))
        return self.net.init(key, x, key, likelihood=self.lik)

    def _log_weight_fn(self, params, x):
        return lambda key: self.net.apply(params, x, key, likelihood=self.lik).log_weight

    def loss(self, kind, value, params, x, key, warmup=1.0):
        """The arm's loss; ``warmup`` scales the rate of the ELBO arm (hvae)."""
        if value is None or value == 1:
            t = self.net.apply(params, x, key, likelihood=self.lik)
            elbo, distortion = jnp.mean(t.elbo), -jnp.mean(t.reconstruction)
            kl_top, kl_bottom = jnp.mean(t.kl_top), jnp.mean(t.kl_bottom)
            if self.free_bits:  # free bits per layer: lambda nats per latent dimension
                kl_top = jnp.maximum(kl_top, self.free_bits * self.net.latent2)
                kl_bottom = jnp.maximum(kl_bottom, self.free_bits * self.net.latent1)
            metrics = {"elbo": elbo, "kl": jnp.mean(t.kl), "distortion": distortion}
            return distortion + warmup * (kl_top + kl_bottom), metrics
        bound = vae.importance_weighted_bound(key, self._log_weight_fn(params, x), value)
        return -jnp.mean(bound), {f"iwae_bound_k{value}": jnp.mean(bound)}

    def log_likelihood(self, params, x, key, k: int, chunk: int):
        bound = vae.importance_weighted_bound(
            key, self._log_weight_fn(params, x), k, chunk_size=chunk
        )
        return jax.lax.stop_gradient(bound)

    def terms(self, params, x, key):
        t = self.net.apply(params, x, key, likelihood=self.lik)
        (mu, log_var), _ = self.net.apply(params, x, method="encode_top")
        z = mu + jnp.exp(0.5 * log_var) * jax.random.normal(jax.random.fold_in(key, 1), mu.shape)
        return dict(elbo=t.elbo, kl=t.kl, distortion=-t.reconstruction), mu, z

    def generate(self, params, key, num: int):
        return self.net.apply(params, key, num, method="generate")


def _evaluate(
    model, params, test_x, key, config
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Test figures of one arm, and the posterior means and draws of z over the test set."""
    e = config.eval
    ll_fn = jax.jit(
        functools.partial(model.log_likelihood, k=e.num_importance_samples, chunk=e.chunk_size)
    )
    terms_fn = jax.jit(model.terms)
    lls, sums, mus, zs = [], {}, [], []
    for i, start in enumerate(range(0, len(test_x), e.batch)):
        x = jnp.asarray(test_x[start : start + e.batch])
        lls.append(np.asarray(ll_fn(params, x, jax.random.fold_in(key, 2 * i))))
        t, mu, z = terms_fn(params, x, jax.random.fold_in(key, 2 * i + 1))
        for name, v in t.items():
            sums.setdefault(name, []).append(np.asarray(v))
        mus.append(np.asarray(mu))
        zs.append(np.asarray(z))
    nll = -float(np.mean(np.concatenate(lls)))
    dims = int(np.prod(test_x.shape[1:]))
    figures = {"test_nll": nll, "test_bpd": nll / (dims * np.log(2.0))}
    figures.update({f"test_{k}": float(np.mean(np.concatenate(v))) for k, v in sums.items()})
    mus, zs = np.concatenate(mus), np.concatenate(zs)
    figures["active_units"] = int(vae.active_units(mus))
    figures["mmd_prior"] = float(vae.mmd_to_prior(jax.random.fold_in(key, 10**6), jnp.asarray(zs)))
    return figures, mus, zs


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains every arm of ``config.arms``, evaluates it, writes metrics.json and the PNGs.

    Args:
        config: from ``experiments.configs.vae`` (presets digits, beta, iwae, hvae, infovae,
            mnist_binary).
        workdir: the run directory (one sub-directory per arm).

    Returns:
        The metrics written to metrics.json, ``ARM_NAME`` per arm (see the module docstring),
        and wall_s.

    Example:
        >>> from experiments.configs import vae as configs
        >>> metrics = train_and_evaluate(configs.get_config("digits"), "/tmp/vae")
    """
    start = time.time()
    arms = parse_arms(config.arms)
    train_ds, test_ds = common.load_splits(config)
    if len(train_ds.example_shape) != 3:
        raise ValueError(f"Dataset {config.dataset!r} must hold images (N, H, W, C).")
    likelihood, head = make_likelihood(config, train_ds)
    shape = train_ds.example_shape
    key = jax.random.key(config.seed)
    init_key, train_key, eval_key, sample_key, bin_key = jax.random.split(key, 5)
    binary = isinstance(likelihood, vae.Bernoulli)
    test_x = test_ds.images[: config.eval.num_test or None]
    if binary:
        test_x = np.asarray(vae.binarize(bin_key, jnp.asarray(test_x)))
    likelihood.check_data(test_x[:1000])
    # The step travels with the batch, for the KL warm-up of the ELBO arms.
    batches = data.WithStep(
        data.ArrayBatches.from_dataset(train_ds, config.batch_size, config.seed)
    )

    result, latents = {}, {}
    for name, kind, value in arms:
        arm_start = time.time()
        model = (_LadderModel if kind == "hvae" else _FlatModel)(config, shape, likelihood, head)

        def loss_fn(params, batch, key, model=model, kind=kind, value=value):
            x = batch["image"]
            if binary:
                key, sub = jax.random.split(key)
                x = vae.binarize(sub, x)
            warmup = vae.kl_warmup(batch["step"][0], config.kl_warmup_steps)  # 1 when off
            return model.loss(kind, value, params, x, key, warmup)

        state, _ = common.fit_network(
            config, os.path.join(workdir, name), model.init(init_key), loss_fn, batches, train_key
        )
        params = state.ema_params
        train_s = time.time() - arm_start
        figures, mus, zs = _evaluate(model, params, test_x, eval_key, config)
        figures["train_s"] = train_s
        samples = common.draw_samples(
            lambda p, k, n, model=model: decoder_mean(likelihood, model.generate(p, k, n)),
            params,
            sample_key,
            config,
            timing=figures,  # sample_s_per_1000, sample_compile_s
        )
        if config.eval.score_samples:
            figures.update(common.sample_quality(eval_key, samples, train_ds, test_ds, workdir))
        common.save_samples(
            os.path.join(workdir, f"samples_{name}.png"),
            samples,
            test_ds,
            title=f"{name}, {config.dataset}, {int(state.step)} steps",
        )
        figures["eval_s"] = time.time() - arm_start - train_s
        result.update({f"{name}_{k}": v for k, v in figures.items()})
        latents[name] = (value, figures, mus, zs)
        # The figures so far, in case a long run is stopped before its last arm.
        common.write_json(os.path.join(workdir, "metrics_partial.json"), result)

    if is_main_process() and len(arms) > 1 and all(kind == "beta" for _, kind, _ in arms):
        _plot_rate_distortion(os.path.join(workdir, "rate_distortion.png"), latents, config)
    if is_main_process() and config.model.latent_dim == 2:
        labels = None if test_ds.labels is None else test_ds.labels[: len(test_x)]
        _plot_latents(os.path.join(workdir, "latents.png"), latents, labels, config)
    result.update(
        dataset=config.dataset,
        num_train=len(train_ds),
        num_test=len(test_x),
        num_steps=int(config.num_steps),
        num_importance_samples=int(config.eval.num_importance_samples),
        wall_s=time.time() - start,
    )
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


def _plot_rate_distortion(path: str, latents: dict, config) -> None:
    """Test distortion against rate, one point per beta (Alemi et al. 2018's plane)."""
    fig = Figure(figsize=(5, 4), dpi=100)
    ax = fig.add_subplot()
    rates = [f["test_kl"] for _, f, _, _ in latents.values()]
    dists = [f["test_distortion"] for _, f, _, _ in latents.values()]
    ax.plot(rates, dists, "o-")
    for beta, f, _, _ in latents.values():
        ax.annotate(f"beta={beta:g}", (f["test_kl"], f["test_distortion"]), fontsize=8)
    ax.set_xlabel("rate KL(q(z|x) || p(z)) [nats]")
    ax.set_ylabel("distortion -E_q log p(x|z) [nats]")
    ax.set_title(f"beta-VAE on {config.dataset}, {config.model.latent_dim} latents", fontsize=10)
    fig.tight_layout()
    evaluation.save_figure(path, fig)


def _plot_latents(path: str, latents: dict, labels, config) -> None:
    """Per arm: draws z ~ q(z | x) over the test set (the aggregated posterior), coloured by
    class, over the prior's 1-, 2- and 3-sigma circles."""
    n = len(latents)
    fig = Figure(figsize=(3.2 * n, 3.4), dpi=100)
    theta = np.linspace(0, 2 * np.pi, 200)
    for i, (name, (_, f, _, zs)) in enumerate(latents.items()):
        ax = fig.add_subplot(1, n, i + 1)
        ax.scatter(zs[:, 0], zs[:, 1], s=3, c=labels, cmap="tab10", alpha=0.7)
        for r in (1, 2, 3):
            ax.plot(r * np.cos(theta), r * np.sin(theta), "k--", lw=0.6)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: MMD^2 to prior {f['mmd_prior']:.3f}", fontsize=8)
    fig.suptitle(
        f"q(z) = E_x q(z|x) on the {config.dataset} test set vs p(z) = N(0, I)", fontsize=9
    )
    fig.tight_layout()
    evaluation.save_figure(path, fig)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/vae")
