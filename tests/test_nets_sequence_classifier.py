"""The sequence classifier over Mamba, S4D and transformer blocks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.nets import SequenceClassifier
from gendiff.nets.sequence_classifier import MIXERS, POOLINGS


@pytest.mark.parametrize("mixer", MIXERS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_the_readout_sees_the_first_and_the_last_position(mixer, pooling):
    """Both ends of the sequence reach the logits: the first position through the whole stack
    of (causal, for Mamba and S4D) blocks, the last one also with the last-position readout."""
    model = SequenceClassifier(
        mixer, 10, d_model=8, num_layers=2, d_state=4, num_heads=2, pooling=pooling
    )
    x = jax.random.normal(jax.random.key(1), (2, 64, 1))
    params = model.init(jax.random.key(0), x)
    logits = model.apply(params, x)
    assert logits.shape == (2, 10)
    for position in (0, -1):
        changed = model.apply(params, x.at[:, position].add(1.0))
        assert np.abs(changed - logits).max() > 1e-4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mixer="lstm"), "Unknown mixer 'lstm'"),
        (dict(mixer="s4", pooling="max"), "Unknown pooling 'max'"),
    ],
)
def test_bad_options_are_rejected(kwargs, message):
    model = SequenceClassifier(num_classes=10, d_model=8, num_layers=1, d_state=4, **kwargs)
    with pytest.raises(ValueError, match=message):
        model.init(jax.random.key(0), jnp.zeros((1, 8, 1)))
    with pytest.raises(ValueError, match="batch, length, features"):
        SequenceClassifier("s4", 10).init(jax.random.key(0), jnp.zeros((8, 1)))
