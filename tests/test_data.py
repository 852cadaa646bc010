"""Tests of the dataset container, the digits and IDX loaders, and `load`."""


import numpy as np
import pytest

from gendiff import data
from gendiff._testing import write_idx
from gendiff.data.dataset import scale_levels
from gendiff.data.digits import split_indices
from gendiff.data.mnist_idx import read_idx

# ---------------------------------------------------------------- container


def test_validate_images_accepts_and_reports():
    data.validate_images(np.linspace(-1, 1, 2 * 4 * 4 * 3).reshape(2, 4, 4, 3), "ok")
    with pytest.raises(ValueError, match=r"found min -1\.0, max 1\.5"):
        data.validate_images(np.array([-1.0, 0.0, 1.5]).reshape(1, 3, 1, 1), "x")
    with pytest.raises(ValueError, match="1 NaN and 1 inf"):
        data.validate_images(np.array([np.nan, np.inf, 0.0]).reshape(1, 3, 1, 1), "x")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\).*\(3, 8, 8\)"):
        data.validate_images(np.zeros((3, 8, 8)), "x")


def test_scale_levels_maps_grid_onto_unit_interval():
    np.testing.assert_array_equal(scale_levels(np.arange(17), 17), np.arange(17) / 8 - 1)
    np.testing.assert_allclose(
        scale_levels(np.array([0, 255, 51]), 256), [-1.0, 1.0, -0.6], rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"\[0, 16\].*max 17"):
        scale_levels(np.array([0, 17]), 17)


def test_array_dataset_checks_fields():
    images = np.zeros((4, 2, 2, 1), np.float32)
    labels = np.array([0, 1, 2, 1], np.int32)
    ds = data.ArrayDataset(images, labels, 256, 3, "tiny")
    assert len(ds) == 4 and ds.example_shape == (2, 2, 1)
    with pytest.raises(ValueError, match="float32"):
        data.ArrayDataset(images.astype(np.float64), labels, 256, 3, "tiny")
    with pytest.raises(ValueError, match=r"int32 of shape \(4,\)"):
        data.ArrayDataset(images, labels.astype(np.int64), 256, 3, "tiny")
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        data.ArrayDataset(images, labels, 256, 2, "tiny")
    with pytest.raises(ValueError, match="both labels and num_classes"):
        data.ArrayDataset(images, labels, 256, None, "tiny")
    with pytest.raises(ValueError, match="in \\[-1, 1\\]"):
        data.ArrayDataset(images + 2, labels, 256, 3, "tiny")
    with pytest.raises(ValueError, match=r"points \(N, D\)"):
        data.ArrayDataset(np.zeros((4, 2, 2), np.float32), None, None, None, "tiny")
    # Points may leave [-1, 1] but must be finite.
    data.ArrayDataset(np.full((4, 2), 3.0, np.float32), None, None, None, "points")
    with pytest.raises(ValueError, match="NaN"):
        data.ArrayDataset(np.full((4, 2), np.nan, np.float32), None, None, None, "points")


# ---------------------------------------------------------------- digits


def test_digits_split_is_stratified_disjoint_and_fixed():
    labels = np.repeat(np.arange(3), [10, 21, 5])
    train, test = split_indices(labels, "train"), split_indices(labels, "test")
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(labels.size))
    np.testing.assert_array_equal(np.bincount(labels[test]), [2, 4, 1])  # round(0.2 * n_c)
    np.testing.assert_array_equal(split_indices(labels, "test"), test)
    with pytest.raises(ValueError, match="train, test"):
        split_indices(labels, "validation")


def test_digits_matches_sklearn():
    from sklearn.datasets import load_digits

    raw = load_digits()
    train, test = data.load("digits", "train"), data.load("digits", "test")
    assert (len(train), len(test)) == (1438, 359)
    assert (
        train.images.shape[1:] == (8, 8, 1) and train.num_levels == 17 and train.num_classes == 10
    )
    idx = split_indices(raw.target, "test")
    np.testing.assert_array_equal(test.images[..., 0], raw.images[idx] / 8 - 1)
    np.testing.assert_array_equal(test.labels, raw.target[idx])
    idx = split_indices(raw.target, "train")  # read without scikit-learn, as sklearn reads it
    np.testing.assert_array_equal(train.images[..., 0], raw.images[idx] / 8 - 1)
    np.testing.assert_array_equal(train.labels, raw.target[idx])
    # Each class keeps ~20% of its examples in the test split.
    frac = np.bincount(test.labels) / np.bincount(raw.target)
    assert np.all(np.abs(frac - 0.2) < 0.01)


# ---------------------------------------------------------------- MNIST IDX


_IDX_FILES = (("train", 6, ".gz"), ("test", 4, ""))  # split, size, suffix (gzip or plain)


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    for split, n, suffix in _IDX_FILES:
        prefix = {"train": "train", "test": "t10k"}[split]
        images = rng.integers(0, 256, (n, 28, 28), np.uint8)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=bool(suffix))
        labels = rng.integers(0, 10, n, np.uint8)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=bool(suffix))
        np.savez(tmp_path / f"{split}.npz", images=images, labels=labels)
    return tmp_path


def test_mnist_idx_reads_plain_and_gzip(idx_dir):
    for split, n, _ in _IDX_FILES:
        ds = data.load("mnist_idx", split, data_dir=idx_dir)
        written = np.load(idx_dir / f"{split}.npz")
        assert ds.images.shape == (n, 28, 28, 1) and ds.images.dtype == np.float32
        assert ds.num_levels == 256 and ds.num_classes == 10
        np.testing.assert_allclose(ds.images[..., 0], written["images"] / 127.5 - 1, atol=1e-6)
        np.testing.assert_array_equal(ds.labels, written["labels"])
        assert ds.labels.dtype == np.int32


def test_read_idx_other_types(tmp_path):
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    write_idx(tmp_path / "a", values, type_code=0x0C)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), values)


def test_mnist_idx_errors(idx_dir):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load("mnist_idx", "test", data_dir=idx_dir / "missing")
    (idx_dir / "t10k-labels-idx1-ubyte").write_bytes(
        b"\x00\x01\x08\x01" + (4).to_bytes(4, "big") + bytes(4)
    )
    with pytest.raises(ValueError, match="magic number 00010801"):
        data.load("mnist_idx", "test", data_dir=idx_dir)
    write_idx(idx_dir / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"labels: expected uint8 \(4,\)"):
        data.load("mnist_idx", "test", data_dir=idx_dir)
    (idx_dir / "t10k-labels-idx1-ubyte").write_bytes(
        b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + bytes(4)
    )
    with pytest.raises(ValueError, match="the file has 12 bytes"):
        data.load("mnist_idx", "test", data_dir=idx_dir)
    with pytest.raises(ValueError, match="needs data_dir"):
        data.load("mnist_idx", "test")


def test_mnist_idx_t10k_split_is_a_fixed_disjoint_8k_2k_partition(tmp_path):
    n = 8_010
    pixels = np.arange(n, dtype=np.int64)[:, None, None] % 256 * np.ones((1, 2, 2), np.int64)
    labels = (np.arange(n) % 10).astype(np.uint8)
    # Each example's identity survives scaling: pixel (0, 0) = index mod 256, label = index mod 10.
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", pixels.astype(np.uint8), compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, compress=True)
    train = data.load("mnist_idx_t10k", "train", data_dir=tmp_path)
    test = data.load("mnist_idx_t10k", "test", data_dir=tmp_path)
    assert (len(train), len(test)) == (8_000, 10) and train.name == "mnist_idx_t10k"
    key = lambda ds: (np.round((ds.images[:, 0, 0, 0] + 1) * 127.5).astype(int), ds.labels)
    ids = lambda ds: {(int(p), int(c)) for p, c in zip(*key(ds))}
    assert len(ids(train) | ids(test)) == len({(i % 256, i % 10) for i in range(n)})
    again = data.load("mnist_idx_t10k", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(again.images, test.images)
    assert not np.array_equal(test.labels, labels[8_000:])  # shuffled, not the file's tail
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", pixels[:100].astype(np.uint8), compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:100], compress=True)
    with pytest.raises(ValueError, match="more than 8000 t10k examples"):
        data.load("mnist_idx_t10k", "train", data_dir=tmp_path)
    with pytest.raises(ValueError, match="valid splits: train, test"):
        data.load("mnist_idx_t10k", "validation", data_dir=tmp_path)
    with pytest.raises(ValueError, match="needs data_dir"):
        data.load("mnist_idx_t10k", "test")


# ---------------------------------------------------------------- load


def test_load_toy2d_is_fixed_per_split():
    train, test = data.load("toy2d/circles", "train"), data.load("toy2d/circles", "test")
    assert train.images.shape == (10_000, 2) and test.images.shape == (2_000, 2)
    assert train.labels is None and train.num_levels is None and train.name == "toy2d/circles"
    np.testing.assert_array_equal(data.load("toy2d/circles", "test").images, test.images)
    assert not np.allclose(train.images[:2_000], test.images)


def test_load_unknown_names():
    with pytest.raises(
        ValueError,
        match="digits, mnist_idx, mnist_idx_t10k, mnist, fashion_mnist, cifar10, toy2d/swiss_roll",
    ):
        data.load("svhn")
    with pytest.raises(ValueError, match="valid names"):
        data.load("toy2d/spiral")
    with pytest.raises(ValueError, match="valid splits: train, test"):
        data.load("toy2d/circles", "validation")
