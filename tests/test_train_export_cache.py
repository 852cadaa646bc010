"""Tests for gendiff.train.ExportCache and its use by fit and the experiments: a program kept
on disk is loaded without tracing, computes what jax.jit computes, and a damaged or
unexportable program falls back with a warning."""

import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gendiff import train as gt
from gendiff.data import GeneratedBatches
from gendiff.train import ExportCache


def never_traced(*args):
    raise AssertionError("a program loaded from the cache must not trace its function")


def affine(params, batch, key):  # pytree in (with a typed key), pytree out (with a key)
    noise = jax.random.normal(key, (batch["x"].shape[0], 2))
    y = batch["x"] @ params["w"] + params["b"] + 0.1 * noise
    return {"y": y, "norm": jnp.sum(params["w"] ** 2)}, jax.random.split(key)[0]


def affine_args(n=5):
    params = {"w": jnp.arange(6.0).reshape(3, 2), "b": jnp.ones(2)}
    return params, {"x": jnp.linspace(-1.0, 1.0, 3 * n).reshape(n, 3)}, jax.random.key(3)


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        if jax.dtypes.issubdtype(u.dtype, jax.dtypes.prng_key):
            u, v = jax.random.key_data(u), jax.random.key_data(v)
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_a_stored_program_is_loaded_without_tracing_and_matches_jit(tmp_path):
    args = affine_args()
    expected = jax.jit(affine)(*args)
    first = ExportCache(tmp_path, "affine-v1").jit(affine, name="affine")(*args)
    assert [f for f in os.listdir(tmp_path) if f.startswith("affine-")]
    second = ExportCache(tmp_path, "affine-v1").jit(never_traced, name="affine")(*args)
    assert_trees_equal(first, expected)
    assert_trees_equal(second, expected)
    assert jax.dtypes.issubdtype(second[1].dtype, jax.dtypes.prng_key)


def test_another_fingerprint_or_argument_shape_is_another_program(tmp_path):
    ExportCache(tmp_path, "affine-v1").jit(affine, name="affine")(*affine_args())
    for fingerprint, n in (("affine-v2", 5), ("affine-v1", 7)):  # both are traced afresh
        cache = ExportCache(tmp_path, fingerprint)
        with pytest.raises(AssertionError, match="must not trace"), pytest.warns(UserWarning):
            cache.jit(never_traced, name="affine")(*affine_args(n))
    out = ExportCache(tmp_path, "affine-v1").jit(affine, name="affine")(*affine_args(n=7))
    assert out[0]["y"].shape == (7, 2)
    assert len(os.listdir(tmp_path)) == 2


def test_a_damaged_program_is_replaced_with_a_warning(tmp_path):
    args = affine_args()
    ExportCache(tmp_path, "affine-v1").jit(affine, name="affine")(*args)
    (path,) = [tmp_path / f for f in os.listdir(tmp_path)]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable exported program"):
        out = ExportCache(tmp_path, "affine-v1").jit(affine, name="affine")(*args)
    assert_trees_equal(out, jax.jit(affine)(*args))
    reloaded = ExportCache(tmp_path, "affine-v1").jit(never_traced, name="affine")(*args)
    assert_trees_equal(reloaded, out)


def test_a_function_that_cannot_be_exported_is_jitted_with_a_warning(tmp_path):
    def with_callback(x):
        return jax.pure_callback(np.sin, jax.ShapeDtypeStruct(x.shape, x.dtype), x) + 1.0

    with pytest.warns(UserWarning, match="cannot be exported"):
        out = ExportCache(tmp_path, "cb").jit(with_callback, name="cb")(jnp.ones(3))
    np.testing.assert_allclose(out, np.sin(1.0) + 1.0, rtol=1e-6)
    assert os.listdir(tmp_path) == []


def test_bad_fingerprint():
    with pytest.raises(ValueError, match="fingerprint must be a non-empty string"):
        ExportCache("/tmp", "")


# ----------------------------------------------------------------------------- through fit

BATCH = 8


def batch_of(step):
    rng = np.random.default_rng(step)
    x = rng.normal(size=(BATCH, 3)).astype(np.float32)
    return {"x": x, "y": x @ np.array([1.0, -2.0, 0.5], np.float32)}


def loss_fn(params, batch, key):
    x = batch["x"] + 0.01 * jax.random.normal(key, batch["x"].shape)
    err = x @ params["w"] - batch["y"]
    return jnp.mean(err**2), {"mae": jnp.mean(jnp.abs(err))}


def fit_with(workdir, export_cache, num_steps=12, loss=loss_fn):
    tx = optax.adam(0.05)
    return gt.fit(
        gt.create_train_state({"w": jnp.zeros(3)}, tx),
        gt.make_train_step(loss, tx, ema_decay=0.9),
        GeneratedBatches(batch_of, BATCH),
        jax.random.key(0),
        num_steps=num_steps,
        workdir=str(workdir),
        checkpoint_every=5,
        log_every=4,
        progress=False,
        export_cache=export_cache,
    )


def test_fit_through_the_cache_matches_fit_without_it_and_resumes(tmp_path):
    plain, plain_last = fit_with(tmp_path / "plain", None)
    cache = tmp_path / "programs"
    first, first_last = fit_with(tmp_path / "a", ExportCache(cache, "regression"))
    assert [f for f in os.listdir(cache) if f.startswith("train_step-")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the donated state is used: no "not usable" warning
        second, second_last = fit_with(
            tmp_path / "b", ExportCache(cache, "regression"), loss=never_traced
        )
    for state in (first, second):
        assert_trees_equal(state, plain)
    assert first_last["loss"] == second_last["loss"] == plain_last["loss"]
    # A resumed run (from the checkpoint at step 10) goes on through the loaded program too.
    resumed, _ = fit_with(
        tmp_path / "b", ExportCache(cache, "regression"), num_steps=14, loss=never_traced
    )
    longer, _ = fit_with(tmp_path / "longer", None, num_steps=14)
    assert_trees_equal(resumed, longer)


# ----------------------------------------------------------------------------- experiments


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_an_experiment_run_twice_loads_its_programs_and_gives_the_same_metrics(tmp_path):
    from experiments import common
    from experiments import ddpm as experiment
    from experiments.configs import ddpm as configs

    config = configs.get_config("toy2d")
    for field, value in {
        "num_steps": 30, "log_every": 10, "checkpoint_every": 30, "progress": False,
        "optim.warmup_steps": 3,
        "diffusion.num_diffusion_steps": 50, "eval.num_samples": 64, "eval.sample_batch": 64,
    }.items():  # fmt: skip
        config.update_from_flattened_dict({field: value})
    cache = tmp_path / "programs"
    common.enable_export_cache(str(cache))
    try:
        first = experiment.train_and_evaluate(config, str(tmp_path / "a"))
        names = sorted(f.split("-")[0] + os.path.splitext(f)[1] for f in os.listdir(cache))
        loaded = set(os.listdir(cache))
        second = experiment.train_and_evaluate(config, str(tmp_path / "b"))
        assert set(os.listdir(cache)) == loaded  # nothing new: every program was loaded
        config.optim.learning_rate *= 2  # another config: another fingerprint
        experiment.train_and_evaluate(config, str(tmp_path / "c"))
    finally:
        common.enable_export_cache(None)
    # The initial parameters and state are kept as values, the training step as a program.
    assert names == ["init.result", "train_state.result", "train_step.jaxexport"]
    assert len(os.listdir(cache)) == 6
    assert common.next_export_cache() is None
    timing = {k for k in first if k.endswith("_s") or "per_s" in k or k.endswith("_s_per_1000")}
    assert {k: v for k, v in first.items() if k not in timing} == {
        k: v for k, v in second.items() if k not in timing
    }


def test_memoize_keeps_small_results_by_argument_value(tmp_path):
    draw = lambda key, n: jax.random.normal(key, (3,)) * n  # noqa: E731
    cache = ExportCache(tmp_path, "draw-v1")
    first = cache.memoize(draw, name="draw")(jax.random.key(0), jnp.float32(2.0))
    again = cache.memoize(never_traced, name="draw")(jax.random.key(0), jnp.float32(2.0))
    np.testing.assert_array_equal(first, again)
    other = cache.memoize(draw, name="draw")(jax.random.key(1), jnp.float32(2.0))  # a new value
    assert not np.array_equal(first, other) and len(os.listdir(tmp_path)) == 2
    for f in os.listdir(tmp_path):
        (tmp_path / f).write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="unreadable result"):
        redrawn = cache.memoize(draw, name="draw")(jax.random.key(0), jnp.float32(2.0))
    np.testing.assert_array_equal(redrawn, first)
    big = ExportCache(tmp_path / "big", "draw-v1").memoize(draw, name="draw", max_bytes=8)
    big(jax.random.key(0), jnp.float32(2.0))
    assert not (tmp_path / "big").exists()  # 12 bytes > max_bytes: not kept
