"""Flax linen networks: time/label embeddings, residual MLP, DDPM U-Net, image classifiers
(clean and noisy inputs), transformer layers, the sequence models Mamba and S4D, a sequence
classifier over them, a ViT encoder and masked-token predictor, MI critics, GAN generators and
critics (MLP, DCGAN, conditional, projection, PacGAN, spectral norm), the domain-adversarial
network of DANN, the Inception-v3 of FID (local weights only), an energy MLP, VAE encoders and decoders (MLP, conv, ladder), the VQ-VAE's and
a causal transformer prior over its codes."""

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
