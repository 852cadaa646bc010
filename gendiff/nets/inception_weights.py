"""Weights of the FID Inception-v3 (:class:`gendiff.nets.inception.FIDInceptionV3`): local files only.

Nothing is downloaded. The user supplies one of

- a ``.npz`` in this project's layout: one array per variable, under its flat name
  (``params/Mixed_5b/branch1x1/conv/kernel``, ``batch_stats/Mixed_5b/branch1x1/bn/mean``, ...;
  see :func:`gendiff.nets.inception.variable_shapes`), written by :func:`save_inception_variables`;
- pytorch-fid's checkpoint ``pt_inception-2015-12-05-6726825d.pth`` (the TensorFlow FID graph of
  2015-12-05 ported to PyTorch), published at
  https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
  It is read by :mod:`gendiff.nets.torch_checkpoint` (no PyTorch needed, no pickled code run) and
  converted by :func:`convert_state_dict`; :func:`convert_checkpoint` writes the ``.npz`` once.

Check the file before use: ``sha256sum pt_inception-2015-12-05-6726825d.pth``. By the torch.hub
naming convention the ``6726825d`` in the name is the start of the file's SHA-256; record the full
hash next to any FID you publish.

Conversion (PyTorch -> Flax): ``X.conv.weight`` (out, in, kh, kw) -> ``params/X/conv/kernel``
(kh, kw, in, out); ``X.bn.weight``/``bias`` -> ``params/X/bn/scale``/``bias``;
``X.bn.running_mean``/``running_var`` -> ``batch_stats/X/bn/mean``/``var``;
``X.bn.num_batches_tracked`` is dropped; ``fc.weight`` (1008, 2048) -> ``params/fc/kernel``
(2048, 1008); ``fc.bias`` -> ``params/fc/bias``. Dots in X become slashes.
"""

from __future__ import annotations

import os

import numpy as np

from gendiff.nets.inception import flatten, unflatten, variable_shapes
from gendiff.nets.torch_checkpoint import read_state_dict

_BN_NAMES = {
    "weight": "params/{}/scale",
    "bias": "params/{}/bias",
    "running_mean": "batch_stats/{}/mean",
    "running_var": "batch_stats/{}/var",
}


def convert_state_dict(state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Flat Flax variables of pytorch-fid's Inception state dict (names in the module docstring).

    Example:
      >>> flat = convert_state_dict({"Mixed_5b.branch1x1.conv.weight": np.zeros((64, 192, 1, 1)),
      ...                            "Mixed_5b.branch1x1.bn.running_var": np.ones(64),
      ...                            "Mixed_5b.branch1x1.bn.num_batches_tracked": np.array(0)})
      >>> {name: value.shape for name, value in flat.items()}
      {'params/Mixed_5b/branch1x1/conv/kernel': (1, 1, 192, 64), 'batch_stats/Mixed_5b/branch1x1/bn/var': (64,)}
    """
    flat = {}
    for name, value in state_dict.items():
        value = np.asarray(value)
        module, _, leaf = name.rpartition(".")
        path = module.replace(".", "/")
        if name == "fc.weight":
            flat["params/fc/kernel"] = value.T
        elif name == "fc.bias":
            flat["params/fc/bias"] = value
        elif module.endswith(".conv") and leaf == "weight":
            if value.ndim != 4:
                raise ValueError(
                    f"{name} must be a 4-d (out, in, kh, kw) kernel, got {value.shape}."
                )
            flat[f"params/{path}/kernel"] = value.transpose(2, 3, 1, 0)
        elif module.endswith(".bn") and leaf in _BN_NAMES:
            flat[_BN_NAMES[leaf].format(path)] = value
        elif module.endswith(".bn") and leaf == "num_batches_tracked":
            continue
        else:
            raise ValueError(
                f"unexpected entry {name!r} in the state dict: expected pytorch-fid's Inception-v3 "
                "(names like Mixed_5b.branch1x1.conv.weight, ...bn.running_var, fc.weight)."
            )
    return flat


def check_variables(flat: dict[str, np.ndarray], source: str = "weights") -> None:
    """Raises ValueError naming the first variable that is missing, of the wrong shape, or extra.

    Example:
      >>> flat = {n: np.zeros(s, np.float32) for n, s in variable_shapes().items()}
      >>> check_variables(flat)
      >>> flat["params/fc/bias"] = np.zeros(1000, np.float32)
      >>> check_variables(flat)
      Traceback (most recent call last):
      ...
      ValueError: weights: params/fc/bias must have shape (1008,), got (1000,).
    """
    expected = variable_shapes()
    for name, shape in expected.items():
        if name not in flat:
            raise ValueError(f"{source}: variable {name} of shape {shape} is missing.")
        if tuple(np.shape(flat[name])) != shape:
            raise ValueError(
                f"{source}: {name} must have shape {shape}, got {tuple(np.shape(flat[name]))}."
            )
        if not np.all(np.isfinite(flat[name])):
            raise ValueError(f"{source}: {name} contains NaN or inf values.")
    extra = sorted(set(flat) - set(expected))
    if extra:
        raise ValueError(f"{source}: unexpected variable {extra[0]} (and {len(extra) - 1} more).")


def load_inception_variables(path: str) -> dict:
    """Variables {'params', 'batch_stats'} of FIDInceptionV3 from a local ``.npz`` or ``.pth``.

    Args:
      path: this project's ``.npz`` (flat names) or pytorch-fid's ``.pth`` checkpoint.

    Returns:
      Nested dict of float32 NumPy arrays, for ``FIDInceptionV3().apply(variables, images)``.

    Raises:
      ValueError: unknown suffix, unreadable file, or a variable missing or of the wrong shape
        (the first such variable is named).

    Example:
      >>> import os, tempfile
      >>> from gendiff.nets.inception import random_variables
      >>> path = os.path.join(tempfile.mkdtemp(), "inception.npz")
      >>> save_inception_variables(path, random_variables(0))
      >>> v = load_inception_variables(path)
      >>> v["params"]["fc"]["kernel"].shape
      (2048, 1008)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Inception weights file {path!r} does not exist (nothing is downloaded).")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            flat = {name: data[name] for name in data.files}
    elif path.endswith((".pth", ".pt")):
        flat = convert_state_dict(read_state_dict(path))
    else:
        raise ValueError(f"Inception weights must be a .npz or a .pth/.pt file, got {path!r}.")
    check_variables(flat, source=path)
    return unflatten({name: np.asarray(value, np.float32) for name, value in flat.items()})


def save_inception_variables(path: str, variables: dict) -> None:
    """Writes FIDInceptionV3 variables to ``path`` (.npz, flat names), after checking shapes.

    Example:
      >>> import os, tempfile
      >>> from gendiff.nets.inception import random_variables
      >>> path = os.path.join(tempfile.mkdtemp(), "inception.npz")
      >>> save_inception_variables(path, random_variables(0))
      >>> sorted(np.load(path).files)[0]
      'batch_stats/Conv2d_1a_3x3/bn/mean'
    """
    flat = {name: np.asarray(value, np.float32) for name, value in flatten(variables).items()}
    check_variables(flat)
    if not os.fspath(path).endswith(".npz"):
        raise ValueError(f"path must end in .npz, got {path!r}.")
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def convert_checkpoint(pth_path: str, npz_path: str) -> None:
    """Converts pytorch-fid's ``.pth`` checkpoint to this project's ``.npz`` (run once).

    Example:
      >>> import os, tempfile
      >>> convert_checkpoint(os.path.join(tempfile.mkdtemp(), "absent.pth"), "out.npz")
      Traceback (most recent call last):
      ...
      ValueError: Inception weights file '...absent.pth' does not exist (nothing is downloaded).
    """
    save_inception_variables(npz_path, load_inception_variables(pth_path))


if __name__ == "__main__":  # python -m gendiff.nets.inception_weights IN.pth OUT.npz
    import sys

    convert_checkpoint(sys.argv[1], sys.argv[2])
