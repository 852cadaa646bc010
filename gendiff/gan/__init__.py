"""GAN losses (minimax, non-saturating, f-GAN, Wasserstein, hinge, least squares) as pure
functions of discriminator outputs, and the critic regularisers: weight clipping, gradient
penalty, R1; PacGAN packing; the gradient reversal layer of DANN."""

from gendiff.gan.clipping import clip_weights
from gendiff.gan.fgan import fgan_discriminator_loss, fgan_generator_loss
from gendiff.gan.grl import gradient_reversal
from gendiff.gan.hinge import hinge_discriminator_loss, hinge_generator_loss
from gendiff.gan.least_squares import (
    least_squares_discriminator_loss,
    least_squares_generator_loss,
)
from gendiff.gan.minimax import (
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)
from gendiff.gan.packing import pack, unpack
from gendiff.gan.penalties import gradient_penalty, interpolates, r1_penalty
from gendiff.gan.registry import GAN_LOSSES, GANLoss, get_gan_loss
from gendiff.gan.wasserstein import wasserstein_critic_loss, wasserstein_generator_loss

__all__ = [
    "GAN_LOSSES",
    "GANLoss",
    "clip_weights",
    "fgan_discriminator_loss",
    "fgan_generator_loss",
    "get_gan_loss",
    "gradient_penalty",
    "gradient_reversal",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "interpolates",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "pack",
    "r1_penalty",
    "unpack",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]
