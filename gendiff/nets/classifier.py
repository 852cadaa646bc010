"""A small convolutional image classifier whose penultimate layer serves as a feature space."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax


class ImageClassifier(nn.Module):
    """Convolutional classifier for channels-last images (batch, H, W, C).

    Layers: a 3x3 convolution with `channels[0]` filters, then one stride-2 3x3
    convolution per remaining entry of `channels` (each halves H and W), ReLU
    after each; flatten; a dense layer of width `feature_dim` with ReLU (the
    features); dropout (training only); a dense layer to `num_classes` logits.
    For 8x8x1 digits with the defaults: 8x8x16 -> 4x4x32 -> 128 features -> 10 logits.

    Attributes:
      num_classes: number of output classes.
      channels: convolution widths.
      feature_dim: width of the penultimate (feature) layer.
      dropout_rate: dropout on the features when train=True.

    Example:
      >>> model = ImageClassifier()
      >>> x = jnp.zeros((4, 8, 8, 1))
      >>> params = model.init(jax.random.key(0), x)
      >>> model.apply(params, x).shape, model.apply(params, x, return_features=True).shape
      ((4, 10), (4, 128))
    """

    num_classes: int = 10
    channels: Sequence[int] = (16, 32)
    feature_dim: int = 128
    dropout_rate: float = 0.1

    @nn.compact
    def __call__(
        self, x: jax.Array, *, train: bool = False, return_features: bool = False
    ) -> jax.Array:
        """Logits (batch, num_classes), or features (batch, feature_dim) if return_features.

        Args:
          x: images of shape (batch, H, W, C).
          train: enables dropout (needs a 'dropout' PRNG stream in `apply`).
          return_features: return the penultimate ReLU activations instead of logits.
        """
        if x.ndim != 4:
            raise ValueError(f"x must have shape (batch, H, W, C), got shape {x.shape}.")
        for i, width in enumerate(self.channels):
            stride = 1 if i == 0 else 2
            x = nn.relu(nn.Conv(width, (3, 3), strides=(stride, stride))(x))
        features = nn.relu(nn.Dense(self.feature_dim)(x.reshape(x.shape[0], -1)))
        if return_features:
            return features
        h = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
        return nn.Dense(self.num_classes)(h)
