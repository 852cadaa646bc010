"""Flax linen networks: time/label embeddings, residual MLP, DDPM U-Net, image classifiers
(clean and noisy inputs), transformer layers, the sequence models Mamba and S4D, and a
sequence classifier over them."""

from gendiff.nets.classifier import ImageClassifier
from gendiff.nets.embeddings import LabelEmbedding, TimeEmbedding, sinusoidal_embedding
from gendiff.nets.mamba import MambaBlock, MambaLM
from gendiff.nets.mlp import MLPDenoiser
from gendiff.nets.noisy_classifier import NoisyImageClassifier
from gendiff.nets.s4 import S4DConv, S4DLayer, S4DPLRConv, S4Model
from gendiff.nets.sequence_classifier import SequenceClassifier
from gendiff.nets.transformer import MultiHeadAttention, TransformerBlock, positional_encoding
from gendiff.nets.unet import UNET_PRESETS, UNet, unet_config

__all__ = [
    "ImageClassifier",
    "LabelEmbedding",
    "MLPDenoiser",
    "MambaBlock",
    "MambaLM",
    "MultiHeadAttention",
    "NoisyImageClassifier",
    "S4DConv",
    "S4DLayer",
    "S4DPLRConv",
    "S4Model",
    "SequenceClassifier",
    "TimeEmbedding",
    "TransformerBlock",
    "UNET_PRESETS",
    "UNet",
    "positional_encoding",
    "sinusoidal_embedding",
    "unet_config",
]
