"""Evaluation that needs networks or files: the sample-quality scorer, FD-digits, PNGs, writing.

- :class:`SampleScorer` (``quality``): the one sample-quality scorer (FD in classifier
  features, SWD and MMD, classifier accuracy), always with its floor and noise values.
- ``digits_fd``: the FD-digits feature classifier, trained through ``gendiff.train.fit``
  and cached (:func:`load_or_train`, :class:`DigitsFeatureExtractor`, :func:`fd_digits`).
- ``inception``: paper-comparable FID, Inception Score, KID and precision/recall on
  pytorch-fid's Inception-v3 with local weights (:class:`InceptionFeatures`, :func:`image_metrics`,
  reference statistics in .npz).
- ``images``: PNG grids of images and scatter plots of points (matplotlib, imported lazily).
- ``io``: the one atomic file writer, which writes on process 0 only.
- ``probe``: the one linear-probe protocol for representation learners (:func:`linear_probe`),
  L2-regularised logistic regression on frozen features, solved in JAX, and
  :func:`probe_encoder`, the same protocol run from a frozen encoder.

The pure distances themselves live in :mod:`gendiff.metrics`. Names are loaded on first use,
so ``from gendiff.eval import write_json`` does not import Flax, optax or orbax.

Example:
  >>> from gendiff import eval as evaluation
  >>> evaluation.NUM_SAMPLES
  1000
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gendiff._lazy import lazy_exports

_EXPORTS = {
    "ClassifierConfig": "digits_fd",
    "DigitsFeatureExtractor": "digits_fd",
    "fd_digits": "digits_fd",
    "load_or_train": "digits_fd",
    "InceptionFeatures": "inception",
    "fid_statistics": "inception",
    "image_metrics": "inception",
    "load_reference_statistics": "inception",
    "save_reference_statistics": "inception",
    "to_unit_range": "inception",
    "grid_image_size": "images",
    "save_figure": "images",
    "save_image_grid": "images",
    "save_scatter": "images",
    "write_atomically": "io",
    "write_bytes": "io",
    "write_json": "io",
    "NUM_SAMPLES": "quality",
    "LogisticRegression": "probe",
    "ProbeResult": "probe",
    "fit_logistic_regression": "probe",
    "linear_probe": "probe",
    "encode_features": "probe",
    "probe_encoder": "probe",
    "SampleScorer": "quality",
}

__all__ = [
    "InceptionFeatures",
    "fid_statistics",
    "image_metrics",
    "load_reference_statistics",
    "save_reference_statistics",
    "to_unit_range",
    "NUM_SAMPLES",
    "ClassifierConfig",
    "DigitsFeatureExtractor",
    "LogisticRegression",
    "ProbeResult",
    "SampleScorer",
    "fd_digits",
    "fit_logistic_regression",
    "grid_image_size",
    "linear_probe",
    "encode_features",
    "probe_encoder",
    "load_or_train",
    "save_figure",
    "save_image_grid",
    "save_scatter",
    "write_atomically",
    "write_bytes",
    "write_json",
]
assert sorted(__all__) == sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from gendiff.eval.digits_fd import (
        ClassifierConfig,
        DigitsFeatureExtractor,
        fd_digits,
        load_or_train,
    )
    from gendiff.eval.images import grid_image_size, save_figure, save_image_grid, save_scatter
    from gendiff.eval.inception import (
        InceptionFeatures,
        fid_statistics,
        image_metrics,
        load_reference_statistics,
        save_reference_statistics,
        to_unit_range,
    )
    from gendiff.eval.io import write_atomically, write_bytes, write_json
    from gendiff.eval.probe import (
        LogisticRegression,
        ProbeResult,
        encode_features,
        fit_logistic_regression,
        linear_probe,
        probe_encoder,
    )
    from gendiff.eval.quality import NUM_SAMPLES, SampleScorer
