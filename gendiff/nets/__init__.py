"""Flax linen networks: time/label embeddings, residual MLP, DDPM U-Net, image classifier."""

from gendiff.nets.classifier import ImageClassifier
from gendiff.nets.embeddings import LabelEmbedding, TimeEmbedding, sinusoidal_embedding
from gendiff.nets.mlp import MLPDenoiser
from gendiff.nets.unet import UNET_PRESETS, UNet, unet_config

__all__ = [
    "ImageClassifier",
    "LabelEmbedding",
    "MLPDenoiser",
    "TimeEmbedding",
    "UNET_PRESETS",
    "UNet",
    "sinusoidal_embedding",
    "unet_config",
]
