"""The domain-adversarial network of DANN (Ganin et al. 2016): a feature extractor G_f, a label
classifier G_y on the features, and a domain classifier G_d on the features through the
gradient reversal layer.

One minimisation of ``CE(G_y(G_f(x_s)), y_s) + BCE(G_d(R_lambda(G_f(x)))), d)`` trains G_d to
tell the domains apart and, through the reversed gradient, G_f to make them indistinguishable
(Ganin et al. 2016, eq. (9)-(10) and Figure 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from gendiff.gan.grl import gradient_reversal

__all__ = ["ConvFeatures", "DomainAdversarialNet", "FeatureMLP"]


class FeatureMLP(nn.Module):
    """A feature extractor for vectors: ``len(widths)`` x (Dense, ReLU).

    Takes the keywords of :class:`gendiff.nets.ImageClassifier`'s feature call (``train``,
    ``return_features``), so either serves as the extractor of :class:`DomainAdversarialNet`.

    Attributes:
      widths: widths of the hidden layers; the last is the feature dimension.

    Example:
      >>> f = FeatureMLP(widths=(16, 8))
      >>> x = jnp.zeros((3, 2))
      >>> f.apply(f.init(jax.random.key(0), x), x).shape
      (3, 8)
    """

    widths: Sequence[int] = (64, 64)

    @nn.compact
    def __call__(
        self, x: jax.Array, *, train: bool = False, return_features: bool = True
    ) -> jax.Array:
        """Args: x (batch, ...), flattened inside; train, return_features: ignored (there
        is no dropout, and the output is always the features).

        Returns: features (batch, widths[-1]).
        """
        if getattr(x, "ndim", 0) < 2:
            raise ValueError(
                f"FeatureMLP expects x of shape (batch, ...), got {getattr(x, 'shape', None)}."
            )
        if not self.widths:
            raise ValueError("FeatureMLP needs at least one hidden width.")
        h = x.reshape(x.shape[0], -1)
        for width in self.widths:
            h = nn.relu(nn.Dense(width)(h))
        return h


class ConvFeatures(nn.Module):
    """A conv feature extractor for images, after Ganin et al.'s MNIST network: per entry of
    ``channels``, a 3x3 convolution, ReLU and 2x2 max pooling; then flatten. For 8x8 inputs
    and channels (32, 48): 8x8x32 -> 4x4x32 -> 4x4x48 -> 2x2x48 -> 192 features.

    Takes the keywords of :class:`gendiff.nets.ImageClassifier`'s feature call.

    Attributes:
      channels: convolution widths.

    Example:
      >>> f = ConvFeatures(channels=(4, 8))
      >>> x = jnp.zeros((3, 8, 8, 3))
      >>> f.apply(f.init(jax.random.key(0), x), x).shape
      (3, 32)
    """

    channels: Sequence[int] = (32, 48)

    @nn.compact
    def __call__(
        self, x: jax.Array, *, train: bool = False, return_features: bool = True
    ) -> jax.Array:
        """Args: x (batch, H, W, C); train, return_features: ignored.

        Returns: features (batch, H W channels[-1] / 4^len(channels)).
        """
        if getattr(x, "ndim", 0) != 4:
            raise ValueError(
                f"ConvFeatures expects images (batch, H, W, C), got {getattr(x, 'shape', None)}."
            )
        h = x
        for width in self.channels:
            h = nn.relu(nn.Conv(width, (3, 3))(h))
            h = nn.max_pool(h, (2, 2), strides=(2, 2))
        return h.reshape(h.shape[0], -1)


class DomainAdversarialNet(nn.Module):
    """G_f, G_y and G_d of DANN.

    ``extractor(x, train=..., return_features=True)`` gives the features f; the label
    classifier is ``label_widths`` x (Dense, ReLU) then Dense(num_classes) on f; the domain
    classifier is
    ``domain_widths`` x (Dense, ReLU) then Dense(1) on ``gradient_reversal(f, lam)``, whose
    output is the logit of "x is from the target domain". The reversal changes gradients
    only: the forward outputs do not depend on ``lam``.

    Attributes:
      extractor: the feature extractor G_f (e.g. :class:`FeatureMLP`, or
        :class:`gendiff.nets.ImageClassifier`, whose features are taken).
      num_classes: number of labels.
      domain_widths: hidden widths of the domain classifier.
      label_widths: hidden widths of the label classifier (none: a linear classifier).

    Example:
      >>> net = DomainAdversarialNet(FeatureMLP((16,)), num_classes=2, domain_widths=(8,))
      >>> x = jnp.zeros((5, 2))
      >>> out = net.apply(net.init(jax.random.key(0), x), x, 0.5)
      >>> out["class_logits"].shape, out["domain_logits"].shape, out["features"].shape
      ((5, 2), (5,), (5, 16))
    """

    extractor: nn.Module
    num_classes: int
    domain_widths: Sequence[int] = (64,)
    label_widths: Sequence[int] = ()

    @nn.compact
    def __call__(self, x: jax.Array, lam=1.0, *, train: bool = False) -> dict[str, jax.Array]:
        """Args: x (batch, ...) inputs; lam: the reversal weight lambda >= 0 (a scalar, may be
        traced); train: passed to the extractor (dropout).

        Returns: {"class_logits": (batch, num_classes), "domain_logits": (batch,),
        "features": (batch, feature_dim)}.
        """
        features = self.extractor(x, train=train, return_features=True)
        h = features
        for i, width in enumerate(self.label_widths):
            h = nn.relu(nn.Dense(width, name=f"label_hidden_{i}")(h))
        class_logits = nn.Dense(self.num_classes, name="label_classifier")(h)
        h = gradient_reversal(features, lam)
        for i, width in enumerate(self.domain_widths):
            h = nn.relu(nn.Dense(width, name=f"domain_hidden_{i}")(h))
        domain_logits = nn.Dense(1, name="domain_classifier")(h)[:, 0]
        return {"class_logits": class_logits, "domain_logits": domain_logits, "features": features}
