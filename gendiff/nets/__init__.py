"""Flax linen networks: time/label embeddings, residual MLP, DDPM U-Net, image classifiers
(clean and noisy inputs), transformer layers, the sequence models Mamba and S4D, a sequence
classifier over them, a ViT encoder and masked-token predictor, MI critics, GAN generators and
critics (MLP, DCGAN, conditional, projection, PacGAN, spectral norm), the domain-adversarial
network of DANN, the Inception-v3 of FID (local weights only), an energy MLP, VAE encoders and decoders (MLP, conv, ladder), the VQ-VAE's and
a causal transformer prior over its codes.

Names are loaded on first use: ``from gendiff.nets import UNet`` does not import the
sequence models or the Pallas scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gendiff._lazy import lazy_exports

_EXPORTS = {
    "CodePrior": "code_prior",
    "sample_codes": "code_prior",
    "LadderVAE": "hvae",
    "VAE": "vae",
    "ConvDecoder": "vae",
    "ConvEncoder": "vae",
    "MLPDecoder": "vae",
    "MLPEncoder": "vae",
    "VQDecoder": "vqvae",
    "VQEncoder": "vqvae",
    "ConvFeatures": "dann",
    "ConvTokenEncoder": "conv_encoder",
    "DCGAN_LAYOUTS": "gan",
    "DCGANCritic": "gan",
    "DCGANGenerator": "gan",
    "GENERATOR_NORMS": "gan",
    "DomainAdversarialNet": "dann",
    "EnergyMLP": "energy",
    "FeatureMLP": "dann",
    "FIDInceptionV3": "inception",
    "ImageClassifier": "classifier",
    "LabelEmbedding": "embeddings",
    "MLP": "mi_critic",
    "MLPCritic": "gan",
    "MLPDenoiser": "mlp",
    "MLPGenerator": "gan",
    "MambaBlock": "mamba",
    "MambaLM": "mamba",
    "MultiHeadAttention": "transformer",
    "NoisyImageClassifier": "noisy_classifier",
    "PacCritic": "gan",
    "S4DConv": "s4",
    "S4DLayer": "s4",
    "S4DPLRConv": "s4",
    "S4Model": "s4",
    "SequenceClassifier": "sequence_classifier",
    "SPECTRAL_COLLECTION": "spectral",
    "SeparableCritic": "mi_critic",
    "TimeEmbedding": "embeddings",
    "TokenPredictor": "vit",
    "TransformerBlock": "transformer",
    "UNET_PRESETS": "unet",
    "UNet": "unet",
    "ViTEncoder": "vit",
    "convert_checkpoint": "inception_weights",
    "dcgan_layout": "gan",
    "load_inception_variables": "inception_weights",
    "save_inception_variables": "inception_weights",
    "mean_pool": "vit",
    "positional_encoding": "transformer",
    "sinusoidal_embedding": "embeddings",
    "spectral_layer": "spectral",
    "spectral_refresh": "spectral",
    "unet_config": "unet",
}

__all__ = [
    "CodePrior",
    "sample_codes",
    "LadderVAE",
    "VAE",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "VQDecoder",
    "VQEncoder",
    "ConvFeatures",
    "ConvTokenEncoder",
    "DCGAN_LAYOUTS",
    "DCGANCritic",
    "DCGANGenerator",
    "GENERATOR_NORMS",
    "DomainAdversarialNet",
    "EnergyMLP",
    "FeatureMLP",
    "FIDInceptionV3",
    "ImageClassifier",
    "LabelEmbedding",
    "MLP",
    "MLPCritic",
    "MLPDenoiser",
    "MLPGenerator",
    "MambaBlock",
    "MambaLM",
    "MultiHeadAttention",
    "NoisyImageClassifier",
    "PacCritic",
    "S4DConv",
    "S4DLayer",
    "S4DPLRConv",
    "S4Model",
    "SequenceClassifier",
    "SPECTRAL_COLLECTION",
    "SeparableCritic",
    "TimeEmbedding",
    "TokenPredictor",
    "TransformerBlock",
    "UNET_PRESETS",
    "UNet",
    "ViTEncoder",
    "convert_checkpoint",
    "dcgan_layout",
    "load_inception_variables",
    "save_inception_variables",
    "mean_pool",
    "positional_encoding",
    "sinusoidal_embedding",
    "spectral_layer",
    "spectral_refresh",
    "unet_config",
]
assert sorted(__all__) == sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from gendiff.nets.classifier import ImageClassifier
    from gendiff.nets.code_prior import CodePrior, sample_codes
    from gendiff.nets.conv_encoder import ConvTokenEncoder
    from gendiff.nets.dann import ConvFeatures, DomainAdversarialNet, FeatureMLP
    from gendiff.nets.embeddings import LabelEmbedding, TimeEmbedding, sinusoidal_embedding
    from gendiff.nets.energy import EnergyMLP
    from gendiff.nets.gan import (
        DCGAN_LAYOUTS,
        GENERATOR_NORMS,
        DCGANCritic,
        DCGANGenerator,
        MLPCritic,
        MLPGenerator,
        PacCritic,
        dcgan_layout,
    )
    from gendiff.nets.hvae import LadderVAE
    from gendiff.nets.inception import FIDInceptionV3
    from gendiff.nets.inception_weights import (
        convert_checkpoint,
        load_inception_variables,
        save_inception_variables,
    )
    from gendiff.nets.mamba import MambaBlock, MambaLM
    from gendiff.nets.mi_critic import MLP, SeparableCritic
    from gendiff.nets.mlp import MLPDenoiser
    from gendiff.nets.noisy_classifier import NoisyImageClassifier
    from gendiff.nets.s4 import S4DConv, S4DLayer, S4DPLRConv, S4Model
    from gendiff.nets.sequence_classifier import SequenceClassifier
    from gendiff.nets.spectral import SPECTRAL_COLLECTION, spectral_layer, spectral_refresh
    from gendiff.nets.transformer import MultiHeadAttention, TransformerBlock, positional_encoding
    from gendiff.nets.unet import UNET_PRESETS, UNet, unet_config
    from gendiff.nets.vae import VAE, ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
    from gendiff.nets.vit import TokenPredictor, ViTEncoder, mean_pool
    from gendiff.nets.vqvae import VQDecoder, VQEncoder
