"""Tests for the one file writer: atomic, process 0 only (and the writers built on it)."""

import json
import os

import jax
import numpy as np
import pytest

from gendiff.eval import (
    digits_fd,
    load_or_train,
    save_image_grid,
    save_scatter,
    write_atomically,
    write_bytes,
    write_json,
)


def _on_process_1(monkeypatch):
    monkeypatch.setattr(jax, "process_index", lambda *args, **kwargs: 1)


def test_write_json_round_trip_with_sorted_keys(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    assert write_json(path, {"b": 1.5, "a": [1, 2]}) is True
    text = path.read_text()
    assert json.loads(text) == {"a": [1, 2], "b": 1.5}
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert os.listdir(tmp_path / "sub") == ["metrics.json"]  # no temporary file left


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644


def test_write_bytes_replaces_an_existing_file(tmp_path):
    path = tmp_path / "params.msgpack"
    write_bytes(path, b"old")
    write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["params.msgpack"]


def test_a_failing_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "out.bin"

    def half_then_fail(f):
        f.write(b"half of the data")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert os.listdir(tmp_path) == []
    # An existing file keeps its content when a new write fails.
    write_bytes(path, b"complete")
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b"complete"
    assert os.listdir(tmp_path) == ["out.bin"]
    # An object JSON cannot encode fails before the file is touched.
    with pytest.raises(TypeError):
        write_json(path, {"x": object()})
    assert path.read_bytes() == b"complete"


def test_processes_other_than_0_write_nothing(tmp_path, monkeypatch):
    _on_process_1(monkeypatch)
    called = []
    assert write_atomically(tmp_path / "a.bin", called.append) is False
    assert called == []
    assert write_json(tmp_path / "m.json", {"a": 1}) is False
    assert write_bytes(tmp_path / "b.bin", b"x") is False
    save_image_grid(tmp_path / "grid.png", np.zeros((4, 8, 8, 1)))
    save_scatter(tmp_path / "points.png", np.zeros((10, 2)))
    assert os.listdir(tmp_path) == []
    # Inputs are still checked on every process.
    with pytest.raises(ValueError, match="NaN"):
        save_image_grid(tmp_path / "grid.png", np.full((4, 8, 8, 1), np.nan))


def test_feature_classifier_cache_is_written_by_process_0_only(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1.0, 1.0, size=(40, 8, 8, 1)).astype(np.float32)
    labels = np.arange(40) % 10
    config = digits_fd.ClassifierConfig(channels=(4,), feature_dim=8, num_epochs=1)

    def untrained(config, images, labels, seed, workdir):  # stands in for fit
        return config.model().init(jax.random.key(seed), images[:1])

    monkeypatch.setattr(digits_fd, "_train", untrained)
    with monkeypatch.context() as m:
        _on_process_1(m)
        extractor = load_or_train(tmp_path / "cache", images, labels, config=config)
        assert extractor.features(images).shape == (40, 8)
    assert not (tmp_path / "cache").exists() or os.listdir(tmp_path / "cache") == []
    load_or_train(tmp_path / "cache", images, labels, config=config)
    assert sorted(os.listdir(tmp_path / "cache")) == ["meta.json", "params.msgpack"]
