"""Tests of the TFDS loaders on `tfds.testing.mock_data` (random records, no network).

The mock serves `num_examples` records for any split string, so split slicing such as
'train[:10%]' cannot be checked here.
"""

import subprocess
import sys

import numpy as np
import pytest

from gendiff import data

tfds = pytest.importorskip("tensorflow_datasets")


@pytest.mark.parametrize(
    "name,shape", [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))]
)
def test_load_reads_every_record(tmp_path, name, shape):
    with tfds.testing.mock_data(num_examples=7):
        ds = data.load(name, "test", data_dir=tmp_path)
        source = tfds.data_source(name, split="test", data_dir=tmp_path)
        first = source[0]
    assert ds.images.shape == (7, *shape) and ds.images.dtype == np.float32
    assert ds.labels.shape == (7,) and ds.labels.dtype == np.int32
    assert (ds.num_levels, ds.num_classes, ds.name) == (256, 10, name)
    # Pixel v in 0..255 becomes 2 v / 255 - 1: the first record comes back exactly.
    np.testing.assert_allclose(ds.images[0], first["image"] / 127.5 - 1, atol=1e-6)
    assert ds.labels[0] == first["label"]
    assert ds.images.std() > 0.1  # random pixels, not a constant fill


def test_importing_gendiff_data_does_not_import_tfds():
    code = "import sys, gendiff.data; print('tensorflow_datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
