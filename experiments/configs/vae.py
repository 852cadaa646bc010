"""Presets for experiments/vae.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.vae                          # VAE on 8x8 digits, about a minute
  python -m experiments.vae --preset beta            # beta sweep with 2 latents
  python -m experiments.vae --preset iwae            # VAE vs IWAE k = 5 and k = 50
  python -m experiments.vae --preset hvae            # 1-layer VAE vs the 2-layer ladder VAE
  python -m experiments.vae --preset infovae         # VAE vs InfoVAE (MMD)
  # Burda et al.'s nets on binary MNIST (DIR: the t10k IDX files)
  python -m experiments.vae --preset mnist_binary --config.data_dir=DIR

``arms`` lists the models trained one after the other with the same batches and steps:
'vae', 'beta:B' (beta-VAE), 'iwae:K' (trained on the IWAE bound with K samples), 'infovae'
(alpha, lambda below), 'hvae' (2-layer ladder VAE on its ELBO) or 'hvae:K' (on its IWAE bound).
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def digits() -> ml_collections.ConfigDict:
    """An MLP VAE (2 x 200 tanh units, 16 latents) on the 8x8 digits, discretised logistic."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"
    c.data_dir = ""
    # 'discretized_logistic' (levels of the dataset), 'bernoulli' (images binarised afresh
    # every step; the test set once with a fixed key) or 'gaussian' (fixed variance).
    c.likelihood = "discretized_logistic"
    c.gaussian_variance = 0.1
    c.arms = "vae"
    c.num_steps = 3000  # per arm
    c.batch_size = 100
    c.checkpoint_every = 3000
    c.log_every = 250
    c.progress = False

    c.model = ml_collections.ConfigDict()
    c.model.name = "mlp"  # 'mlp' or 'conv'
    c.model.hidden = (200, 200)  # MLP widths
    c.model.channels = (32, 64)  # conv widths
    c.model.latent_dim = 16
    c.model.activation = "tanh"
    # The 2-layer ladder VAE (arms 'hvae'): widths x..z1, z1..z2, and the latent sizes.
    c.hvae = ml_collections.ConfigDict()
    c.hvae.hidden1 = (200, 200)
    c.hvae.hidden2 = (100, 100)
    c.hvae.latent1 = 32
    c.hvae.latent2 = 16

    c.beta = 1.0  # the weight of the rate for arm 'vae'
    c.free_bits = 0.0  # nats per latent dimension (0: off)
    c.kl_warmup_steps = 0  # rate weight rises linearly from 0 over these steps (vae, beta, hvae)
    c.infovae = ml_collections.ConfigDict()
    c.infovae.alpha = 0.0
    c.infovae.lam = 100.0

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.warmup_steps = 100
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 100.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.99

    c.eval = ml_collections.ConfigDict()
    c.eval.num_importance_samples = 5000  # k of the test log-likelihood estimate
    c.eval.chunk_size = 100  # importance samples decoded at once
    c.eval.batch = 100  # test examples at once
    c.eval.num_test = 0  # first this many test examples (0 = all)
    c.eval.score_samples = True  # FD of the samples (digits: fd_digits with floor and noise)
    c.eval.num_samples = 1000  # gendiff.eval.NUM_SAMPLES
    c.eval.sample_batch = 500

    c.distributed = distributed()
    return c


def beta() -> ml_collections.ConfigDict:
    """Beta sweep with 2 latents: rate_distortion.png and latents.png."""
    c = digits()
    c.model.latent_dim = 2
    c.arms = "beta:0.25,beta:0.5,beta:1,beta:2,beta:4"
    c.num_steps = 2000
    c.eval.num_importance_samples = 1000
    return c


def iwae() -> ml_collections.ConfigDict:
    """The VAE against IWAE-trained models with k = 5 and k = 50."""
    c = digits()
    c.arms = "vae,iwae:5,iwae:50"
    return c


def hvae() -> ml_collections.ConfigDict:
    """The 1-layer VAE against the 2-layer ladder VAE."""
    c = digits()
    c.arms = "vae,hvae"
    return c


def infovae() -> ml_collections.ConfigDict:
    """The VAE against InfoVAE (alpha = 0, lambda = 100: the ELBO plus 100 MMD^2)."""
    c = digits()
    c.arms = "vae,infovae"
    return c


def mnist_binary() -> ml_collections.ConfigDict:
    """Burda et al.'s nets on dynamically binarised MNIST: VAE, IWAE k = 50, 2-layer HVAE.

    Data: 'mnist_idx_t10k', the 10,000 MNIST test images split 8,000 train / 2,000 test by a
    fixed permutation (the machines hold only the t10k files); Burda et al. trained on 60,000.
    """
    c = digits()
    c.dataset = "mnist_idx_t10k"
    c.data_dir = ""  # the directory of the t10k IDX files: --config.data_dir=DIR
    c.likelihood = "bernoulli"
    c.arms = "vae,iwae:50,hvae"
    c.model.latent_dim = 50
    c.hvae.latent1 = 100
    c.hvae.latent2 = 50
    # ELU, not Burda et al.'s tanh: with tanh the ladder VAE's decoder never uses z1 here
    # (test NLL 205 = the pixel marginals, with or without a KL warm-up), and every arm
    # trains faster (the 1-layer VAE at 1,200 steps: 158.7 nats with tanh, 120.5 with ELU).
    c.model.activation = "elu"
    c.kl_warmup_steps = 1000
    # An IWAE k = 50 step costs about 50 VAE steps: the run takes about 35 minutes on a
    # 2-core CPU, most of it the IWAE arm; the k = 5000 estimate on the 2,000 test images is
    # 10^7 decoder passes per arm.
    c.num_steps = 12_000  # 75 epochs of the 8,000 training images
    c.batch_size = 50
    c.checkpoint_every = 4000
    c.log_every = 100
    c.eval.score_samples = False  # no digit features for 28x28; see samples_*.png
    return c


PRESETS = {
    "cpu": digits,  # the CLI's default preset name
    "digits": digits,
    "beta": beta,
    "iwae": iwae,
    "hvae": hvae,
    "infovae": infovae,
    "mnist_binary": mnist_binary,
}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
