"""VQ-VAE with an EMA codebook, then a causal transformer prior over its codes, and samples.

  python -m experiments.vqvae                  # 8x8 digits: 4x4 codes out of K = 64
  python -m experiments.vqvae --preset mnist --config.data_dir=DIR  # MNIST t10k: 7x7 codes

Stage 1 trains the VQ-VAE (van den Oord et al. 2017): encoder, nearest-code quantisation with
the straight-through gradient, decoder with a discretised logistic likelihood; the loss per
image is the reconstruction NLL in nats per dimension plus beta times the commitment loss. The
codebook follows the EMA update (decay 0.99, Laplace-smoothed counts) and codes whose EMA
count falls below ``vq.restart_threshold`` are restarted at encoder outputs of the batch. The
model and its codebook are two players of one training step (the codebook's update is an
assignment, :func:`gendiff.train.assignment_player`). With ``compare_no_restarts`` a twin is
trained without restarts from the same initialisation and batches.

Stage 2 encodes the training set to code grids, trains :class:`gendiff.nets.CodePrior` on
them (cross-entropy), draws codes with :func:`gendiff.nets.sample_codes`, decodes them and
scores the decoded means (fd_digits with floor and noise on the digits).

metrics.json: ``perplexity`` and ``dead_codes`` of the final model over the whole training set
(codes no training vector chose: unused for a whole epoch), the same ``no_restarts_...``,
``recon_bpd`` on the test set, the prior's ``prior_test_nll_bits`` per code, and the sample
figures. PNGs: reconstructions.png (test images over their reconstructions), codebook.png
(batch perplexity and dead codes over training), prior_samples.png.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from matplotlib.figure import Figure

from experiments import common
from experiments.configs import vqvae as configs
from gendiff import data, nets, vae
from gendiff import eval as evaluation
from gendiff.train import (
    Player,
    assignment_player,
    is_main_process,
    make_optimizer,
    read_metrics,
)


class VQModel:
    """Encoder, decoder and the EMA codebook of one VQ-VAE, and its losses."""

    def __init__(self, config, shape, num_levels: int):
        m, q = config.model, config.vq
        self.encoder = nets.VQEncoder(tuple(m.channels), q.code_dim, m.num_res_blocks)
        self.decoder = nets.VQDecoder(
            tuple(reversed(m.channels)), shape, "mean_log_scale", m.num_res_blocks
        )
        self.lik = vae.DiscretizedLogistic(num_levels)
        self.ema = vae.codebook_ema(q.decay, q.epsilon)
        self.config, self.shape = config, shape

    def init(self, key):
        k_enc, k_dec, k_code = jax.random.split(key, 3)
        q = self.config.vq
        x = jnp.zeros((1, *self.shape))
        enc = self.encoder.init(k_enc, x)
        z_e = self.encoder.apply(enc, x)
        dec = self.decoder.init(k_dec, z_e)
        scale = q.init_scale / q.num_codes
        codebook = jax.random.uniform(
            k_code, (q.num_codes, q.code_dim), minval=-scale, maxval=scale
        )
        return {"model": {"encoder": enc, "decoder": dec}, "codebook": self.ema.init(codebook)}

    def encode(self, params, x):
        """Encoder outputs z_e and their code indices."""
        z_e = self.encoder.apply(params["model"]["encoder"], x)
        return z_e, vae.nearest_code(z_e, params["codebook"].codebook)

    def decode_codes(self, params, indices):
        return self.decoder.apply(params["model"]["decoder"], params["codebook"].codebook[indices])

    def model_loss(self, params, batch, key):
        x = batch["image"]
        z_e = self.encoder.apply(params["model"]["encoder"], x)
        out = vae.quantize(
            z_e,
            jax.lax.stop_gradient(params["codebook"].codebook),
            commitment_cost=self.config.vq.commitment_cost,
        )
        log_px = self.lik.log_prob(x, self.decoder.apply(params["model"]["decoder"], out.z_q))
        recon = -jnp.mean(log_px)  # nats per dimension
        # The codebook loss is left out: the EMA update moves the codes.
        loss = recon + out.commitment_loss
        return loss, {
            "recon_bpd": recon / np.log(2.0),
            "commitment": out.commitment_loss,
            "perplexity": vae.codebook_perplexity(out.indices, self.config.vq.num_codes),
            "dead_in_batch": vae.dead_code_count(out.indices, self.config.vq.num_codes),
        }

    def codebook_rule(self, restarts: bool):
        def rule(params, batch, key):
            z_e, indices = self.encode(params, batch["image"])
            state = self.ema.update(z_e, indices, params["codebook"])
            restarted = jnp.zeros((), jnp.int32)
            if restarts:
                state, restarted = vae.restart_dead_codes_ema(
                    key, state, z_e, threshold=self.config.vq.restart_threshold
                )
            return state, {"restarted": restarted}

        return rule


def _train_vqvae(config, workdir, model: VQModel, batches, init_key, train_key, restarts: bool):
    tx = make_optimizer(config.optim)
    players = [
        Player("model", model.model_loss, tx),
        assignment_player("codebook", model.codebook_rule(restarts)),
    ]
    return common.fit_players(config, workdir, model.init(init_key), players, batches, train_key)


def _codes(model: VQModel, params, images: np.ndarray, batch: int = 500) -> np.ndarray:
    encode = jax.jit(lambda p, x: model.encode(p, x)[1])
    out = [np.asarray(encode(params, images[i : i + batch])) for i in range(0, len(images), batch)]
    return np.concatenate(out)


def _usage_figures(model, params, train_images, test_images) -> tuple[dict, np.ndarray]:
    """Perplexity and dead codes over the whole training set; test reconstruction bits/dim."""
    k = model.config.vq.num_codes
    codes = _codes(model, params, train_images)
    recon = jax.jit(
        lambda p, x: -jnp.mean(model.lik.log_prob(x, model.decode_codes(p, model.encode(p, x)[1])))
    )
    return {
        "perplexity": float(vae.codebook_perplexity(codes, k)),
        "dead_codes": int(vae.dead_code_count(codes, k)),
        "recon_bpd": float(recon(params, test_images)) / np.log(2.0),
    }, codes


def _decoded_mean(params_pair):
    mean, _ = params_pair
    return jnp.clip(mean, -1.0, 1.0)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains the VQ-VAE (and its twin without restarts), then the prior; writes metrics.json.

    Args:
        config: from ``experiments.configs.vqvae`` (presets digits, mnist).
        workdir: the run directory (vqvae/, vqvae_no_restarts/, prior/, the PNGs).

    Returns:
        The metrics written to metrics.json (see the module docstring).

    Example:
        >>> from experiments.configs import vqvae as configs
        >>> metrics = train_and_evaluate(configs.get_config("digits"), "/tmp/vqvae")
    """
    start = time.time()
    train_ds, test_ds = common.load_splits(config)
    if len(train_ds.example_shape) != 3 or train_ds.num_levels is None:
        raise ValueError(f"Dataset {config.dataset!r} must hold images on levels (N, H, W, C).")
    model = VQModel(config, train_ds.example_shape, train_ds.num_levels)
    keys = jax.random.split(jax.random.key(config.seed), 6)
    init_key, train_key, prior_init, prior_train, sample_key, eval_key = keys
    batches = data.ArrayBatches.from_dataset(train_ds, config.batch_size, config.seed)

    state, _ = _train_vqvae(
        config, os.path.join(workdir, "vqvae"), model, batches, init_key, train_key, True
    )
    params = state.params
    result, codes = _usage_figures(model, params, train_ds.images, test_ds.images)
    histories = {"restarts": read_metrics(os.path.join(workdir, "vqvae", "metrics.jsonl"))}
    if config.compare_no_restarts:
        twin, _ = _train_vqvae(
            config,
            os.path.join(workdir, "vqvae_no_restarts"),
            model,
            batches,
            init_key,
            train_key,
            False,
        )
        twin_figures, _ = _usage_figures(model, twin.params, train_ds.images, test_ds.images)
        result.update({f"no_restarts_{k}": v for k, v in twin_figures.items()})
        histories["no restarts"] = read_metrics(
            os.path.join(workdir, "vqvae_no_restarts", "metrics.jsonl")
        )
    result["vqvae_train_s"] = time.time() - start

    recon = jax.jit(lambda p, x: _decoded_mean(model.decode_codes(p, model.encode(p, x)[1])))
    originals = test_ds.images[:50]
    pairs = np.concatenate([originals[:10], np.asarray(recon(params, originals[:10]))])
    for i in range(10, 50, 10):
        pairs = np.concatenate(
            [pairs, originals[i : i + 10], np.asarray(recon(params, originals[i : i + 10]))]
        )
    evaluation.save_image_grid(
        os.path.join(workdir, "reconstructions.png"),
        pairs,
        nrow=10,
        title="test (odd rows), reconstructed (even)",
    )
    if is_main_process():
        _plot_codebook(os.path.join(workdir, "codebook.png"), histories, config)

    # Stage 2: the prior over the code grids of the training images.
    grid = codes.shape[1:]
    length = int(np.prod(grid))
    prior = nets.CodePrior(
        config.vq.num_codes,
        length,
        config.prior.features,
        config.prior.depth,
        config.prior.num_heads,
        config.prior.dropout,
    )
    flat = codes.reshape(len(codes), length).astype(np.int32)
    prior_start = time.time()

    def prior_loss(p, batch, key):
        logits = prior.apply(p, batch["codes"], train=True, rngs={"dropout": key})
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["codes"])
        return jnp.mean(nll), {"nll_bits_per_code": jnp.mean(nll) / np.log(2.0)}

    prior_state, _ = common.fit_network(
        config.prior,
        os.path.join(workdir, "prior"),
        prior.init(prior_init, flat[:1]),
        prior_loss,
        data.ArrayBatches({"codes": flat}, config.prior.batch_size, config.seed),
        prior_train,
    )
    prior_params = prior_state.ema_params
    test_codes = _codes(model, params, test_ds.images).reshape(len(test_ds), length)
    test_logits = jax.jit(prior.apply)(prior_params, jnp.asarray(test_codes, jnp.int32))
    test_nll = optax.softmax_cross_entropy_with_integer_labels(test_logits, test_codes)
    result["prior_test_nll_bits_per_code"] = float(jnp.mean(test_nll)) / np.log(2.0)
    result["uniform_nll_bits_per_code"] = float(np.log2(config.vq.num_codes))
    result["prior_train_s"] = time.time() - prior_start

    def sample(p, key, num):
        c = nets.sample_codes(prior, p["prior"], key, num, temperature=config.prior.temperature)
        return _decoded_mean(model.decode_codes(p["vq"], c.reshape(num, *grid)))

    both = {"prior": prior_params, "vq": params}
    # With sample_s_per_1000 and sample_compile_s.
    samples = common.draw_samples(sample, both, sample_key, config, timing=result)
    if config.eval.score_samples:
        result.update(common.sample_quality(eval_key, samples, train_ds, test_ds, workdir))
    common.save_samples(
        os.path.join(workdir, "prior_samples.png"),
        samples,
        test_ds,
        title=f"VQ-VAE + transformer prior, {config.dataset}, K = {config.vq.num_codes}",
    )
    result.update(
        num_codes=int(config.vq.num_codes),
        code_grid=list(map(int, grid)),
        num_steps=int(config.num_steps),
        wall_s=time.time() - start,
    )
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


def _plot_codebook(path: str, histories: dict, config) -> None:
    """Batch perplexity and dead codes (of the batch) over training, per run."""
    fig = Figure(figsize=(9, 3.5), dpi=100)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, records in histories.items():
        steps = [r["step"] for r in records]
        ax1.plot(steps, [r["model/perplexity"] for r in records], label=name)
        ax2.plot(steps, [r["model/dead_in_batch"] for r in records], label=name)
    ax1.axhline(config.vq.num_codes, color="k", ls=":", lw=0.8)
    ax1.set_title(f"codebook perplexity of the batch (K = {config.vq.num_codes})", fontsize=9)
    ax2.set_title(f"codes unused in the batch ({config.batch_size} images)", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    evaluation.save_figure(path, fig)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/vqvae")
