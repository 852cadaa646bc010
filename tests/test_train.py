"""Tests for gendiff.train: EMA, optimizer, train step, checkpoints and the loop."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gendiff import train as gt

# ---------------------------------------------------------------------------
# A small linear-regression problem with a random input perturbation, so the
# loss depends on the per-step key.

DIM, BATCH = 3, 8
W_TRUE = np.array([1.0, -2.0, 0.5], np.float32)


def regression_batch(step: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(step)
    x = rng.normal(size=(BATCH, DIM)).astype(np.float32)
    return {"x": x, "y": x @ W_TRUE, "step": np.full((BATCH,), step, np.int32)}


def regression_loss(params, batch, key):
    x = batch["x"] + 0.01 * jax.random.normal(key, batch["x"].shape)
    err = x @ params["w"] + params["b"] - batch["y"]
    return jnp.mean(err**2), {"mae": jnp.mean(jnp.abs(err))}


def fresh_state(tx):
    return gt.create_train_state({"w": jnp.zeros(DIM), "b": jnp.zeros(())}, tx)


ADAM = {"optimizer": "adam", "learning_rate": 0.05, "warmup_steps": 3, "grad_clip_norm": 10.0}


def run(workdir, num_steps, loss_fn=regression_loss, get_batch=regression_batch, **kwargs):
    tx = gt.make_optimizer(ADAM)
    options = dict(checkpoint_every=5, log_every=100, progress=False) | kwargs
    return gt.train(
        fresh_state(tx),
        gt.make_train_step(loss_fn, tx, ema_decay=0.9),
        get_batch,
        jax.random.key(42),
        num_steps=num_steps,
        workdir=str(workdir),
        **options,
    )


def assert_trees_equal(a, b):
    jax.tree.map(lambda u, v: np.testing.assert_array_equal(np.asarray(u), np.asarray(v)), a, b)


# ---------------------------------------------------------------------------
# EMA


def test_ema_constant_target_closed_form():
    # ema_n = c + (p0 - c) d^n for a constant target c.
    p0 = {"a": jnp.array([1.0, -3.0]), "b": jnp.array(4.0)}
    c = {"a": jnp.array([0.5, 2.0]), "b": jnp.array(-1.0)}
    avg, d, n = gt.ema(0.9), 0.9, 7
    state = avg.init(p0)
    for _ in range(n):
        state = avg.update(c, state)
    assert int(state.count) == n
    expected = jax.tree.map(lambda p, t: t + (p - t) * d**n, p0, c)
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6), state.params, expected)


def test_ema_warmup_closed_form():
    # With warm-up, d_k = (1 + k) / (10 + k) while that is below decay, and
    # prod_{k<n} (1 + k) / (10 + k) = n! 9! / (n + 9)! = 1 / C(n + 9, 9).
    avg, n = gt.ema(0.999, warmup=True), 6
    state = avg.init(jnp.array(5.0))
    for _ in range(n):
        state = avg.update(jnp.array(1.0), state)
    np.testing.assert_allclose(state.params, 1.0 + 4.0 / math.comb(n + 9, 9), rtol=1e-6)


def test_ema_rejects_decay_outside_unit_interval():
    with pytest.raises(ValueError, match="decay"):
        gt.ema(1.5)


# ---------------------------------------------------------------------------
# Optimizer


def test_schedule_values():
    constant = gt.make_schedule({"learning_rate": 1e-3, "warmup_steps": 10})
    cosine = gt.make_schedule(
        {"learning_rate": 1e-3, "warmup_steps": 10, "schedule": "cosine", "num_steps": 110}
    )
    for t, want_constant, want_cosine in [
        (0, 0.0, 0.0),
        (5, 5e-4, 5e-4),
        (10, 1e-3, 1e-3),
        (35, 1e-3, 1e-3 * (1 + math.cos(math.pi / 4)) / 2),  # a quarter of the decay
        (60, 1e-3, 5e-4),  # half way: (1 + cos(pi/2)) / 2 = 1/2
        (110, 1e-3, 0.0),
        (500, 1e-3, 0.0),
    ]:
        np.testing.assert_allclose(constant(t), want_constant, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(cosine(t), want_cosine, rtol=1e-6, atol=1e-12)
    assert float(gt.make_schedule({"learning_rate": 0.1})(0)) == pytest.approx(0.1)


def test_optimizer_follows_schedule():
    # Under a constant gradient g, Adam's bias-corrected moments are exactly g and
    # g^2, so the update at count t is -lr(t) g / (|g| + eps).
    config = {"optimizer": "adam", "learning_rate": 0.1, "warmup_steps": 4, "eps": 0.5}
    tx, schedule = gt.make_optimizer(config), gt.make_schedule(config)
    g = jnp.array([2.0, -1.0])
    opt_state = tx.init(jnp.zeros(2))
    for t in range(6):
        update, opt_state = tx.update(g, opt_state)
        np.testing.assert_allclose(update, -schedule(t) * g / (jnp.abs(g) + 0.5), rtol=1e-5)
    assert float(schedule(2)) == pytest.approx(0.05)


def test_gradient_clipping_applied():
    # First Adam step: update = -lr g / (|g| + eps); with clipping g -> g / ||g|| * c.
    base = {"optimizer": "adam", "learning_rate": 1.0, "eps": 1.0}
    g = jnp.array([30.0, 40.0])  # norm 50
    clipped = gt.make_optimizer(base | {"grad_clip_norm": 1.0})
    update, _ = clipped.update(g, clipped.init(jnp.zeros(2)))
    np.testing.assert_allclose(update, -jnp.array([0.6 / 1.6, 0.8 / 1.8]), rtol=1e-5)
    plain = gt.make_optimizer(base | {"grad_clip_norm": 0})
    update, _ = plain.update(g, plain.init(jnp.zeros(2)))
    np.testing.assert_allclose(update, -jnp.array([30 / 31, 40 / 41]), rtol=1e-5)


def test_adamw_applies_decoupled_weight_decay():
    # Zero gradient: Adam's term vanishes and only -lr * wd * p remains.
    tx = gt.make_optimizer({"optimizer": "adamw", "learning_rate": 0.1, "weight_decay": 0.5})
    p = jnp.array([2.0, -4.0])
    update, _ = tx.update(jnp.zeros(2), tx.init(p), p)
    np.testing.assert_allclose(update, -0.1 * 0.5 * p, rtol=1e-6)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"optimizer": "sgd", "learning_rate": 0.1}, r"'adam', 'adamw'"),
        ({"learning_rate": 0.1, "schedule": "linear"}, r"'constant', 'cosine'"),
        (
            {"learning_rate": 0.1, "schedule": "cosine", "num_steps": 5, "warmup_steps": 5},
            "num_steps",
        ),
        ({"optimizer": "adam", "learning_rate": 0.1, "weight_decay": 0.1}, "adamw"),
        ({"optimizer": "adam"}, "learning_rate"),
    ],
)
def test_bad_optimizer_config(config, message):
    with pytest.raises(ValueError, match=message):
        gt.make_optimizer(config)


def test_make_optimizer_accepts_config_dict():
    import ml_collections

    config = ml_collections.ConfigDict(
        {
            "optimizer": "adamw",
            "learning_rate": 1e-3,
            "weight_decay": 0.0,
            "warmup_steps": 0,
            "grad_clip_norm": 1.0,
            "b1": 0.9,
            "b2": 0.99,
            "eps": 1e-8,
        }
    )
    tx = gt.make_optimizer(config)
    update, _ = tx.update(jnp.ones(2), tx.init(jnp.zeros(2)), jnp.zeros(2))
    np.testing.assert_allclose(update, -1e-3 * jnp.ones(2), rtol=1e-4)


# ---------------------------------------------------------------------------
# Train step


def test_train_step_metrics_and_ema():
    tx = optax.sgd(0.1)
    step = jax.jit(gt.make_train_step(regression_loss, tx, ema_decay=0.75))
    state = fresh_state(tx)
    batch = jax.tree.map(jnp.asarray, regression_batch(0))
    key = jax.random.key(0)
    new_state, metrics = step(state, batch, key)
    # Gradient of mean((x w + b - y)^2) at w = 0, b = 0 with the perturbed x.
    x = batch["x"] + 0.01 * jax.random.normal(key, batch["x"].shape)
    g_w = -2.0 * x.T @ batch["y"] / BATCH
    g_b = -2.0 * jnp.mean(batch["y"])
    np.testing.assert_allclose(metrics["loss"], jnp.mean(batch["y"] ** 2), rtol=1e-5)
    np.testing.assert_allclose(metrics["grad_norm"], jnp.sqrt(g_w @ g_w + g_b**2), rtol=1e-5)
    np.testing.assert_allclose(new_state.params["w"], -0.1 * g_w, rtol=1e-5)
    # ema_1 = 0.75 * p_0 + 0.25 * p_1 with p_0 = 0.
    np.testing.assert_allclose(new_state.ema_params["w"], 0.25 * new_state.params["w"], rtol=1e-6)
    assert int(new_state.step) == 1 and bool(metrics["finite"]) and "mae" in metrics


def test_train_step_fits_regression():
    tx = gt.make_optimizer({"optimizer": "adam", "learning_rate": 0.05})
    step = jax.jit(gt.make_train_step(regression_loss, tx, ema_decay=0.9))
    state, key = fresh_state(tx), jax.random.key(0)
    losses = []
    for s in range(300):
        state, metrics = step(state, regression_batch(s), jax.random.fold_in(key, s))
        losses.append(float(metrics["loss"]))
    assert losses[-1] < 1e-2 * losses[0]
    np.testing.assert_allclose(state.params["w"], W_TRUE, atol=0.05)


def test_train_step_jit_matches_eager():
    tx = gt.make_optimizer(ADAM)
    step = gt.make_train_step(regression_loss, tx, ema_decay=0.9)
    batch, key = regression_batch(3), jax.random.key(7)
    eager_state, eager_metrics = step(fresh_state(tx), batch, key)
    jit_state, jit_metrics = jax.jit(step)(fresh_state(tx), batch, key)
    for a, b in [(eager_state, jit_state), (eager_metrics, jit_metrics)]:
        jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7), a, b)


# ---------------------------------------------------------------------------
# Sharding helpers (single process; multi-device runs are in test_train_distributed.py)


def test_shard_batch_and_slice_single_process():
    mesh = gt.make_mesh()
    assert gt.local_batch_slice(8, mesh) == slice(0, 8)
    batch = gt.shard_batch({"x": np.arange(8.0).reshape(4, 2)}, mesh)
    np.testing.assert_array_equal(batch["x"], np.arange(8.0).reshape(4, 2))
    assert batch["x"].sharding == gt.batch_sharding(mesh)
    with pytest.raises(ValueError, match="leading batch axis"):
        gt.shard_batch({"step": np.int32(3)}, mesh)


def test_replicate_does_not_alias_input():
    a = jnp.ones(3)
    tree = gt.replicate({"p": a, "q": a}, gt.make_mesh())
    pointers = {a.unsafe_buffer_pointer()}
    for leaf in tree.values():
        pointers |= {s.data.unsafe_buffer_pointer() for s in leaf.addressable_shards}
    assert len(pointers) == 1 + 2 * jax.local_device_count()


def test_maybe_initialize_distributed_single_process():
    assert gt.maybe_initialize_distributed() is False
    with pytest.raises(ValueError, match="process_id"):
        gt.maybe_initialize_distributed("localhost:1234", 2, None)


# ---------------------------------------------------------------------------
# Checkpoints


def test_checkpointer_refuses_non_finite(tmp_path):
    with gt.Checkpointer(tmp_path, save_every=2) as ckpt:
        assert ckpt.save(2, {"w": jnp.ones(2), "n": jnp.int32(3)})
        assert not ckpt.save(3, {"w": jnp.ones(2), "n": jnp.int32(3)})  # not due
        with pytest.raises(FloatingPointError, match=r"step 4.*\['w'\].*step 2"):
            ckpt.save(4, {"w": jnp.array([1.0, jnp.inf]), "n": jnp.int32(3)})
        assert ckpt.latest_step() == 2
    assert sorted(os.listdir(tmp_path)) == ["2"]


KILL_MID_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import jax.numpy as jnp
    from gendiff.train import Checkpointer

    ckpt = Checkpointer(sys.argv[1], save_every=1)
    ckpt.save(1, {"w": jnp.full((1 << 20,), 1.0)})
    ckpt.wait()
    ckpt.save(2, {"w": jnp.full((1 << 20,), 2.0)})  # asynchronous: returns mid-write
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_checkpoint_survives_kill_mid_save(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", KILL_MID_SAVE, str(tmp_path)], capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert any("tmp" in name for name in os.listdir(tmp_path))  # the kill hit mid-save
    with gt.Checkpointer(tmp_path, save_every=1) as ckpt:
        assert ckpt.latest_step() == 1
        restored = ckpt.restore({"w": jnp.zeros((1 << 20,))})
    np.testing.assert_array_equal(restored["w"], 1.0)
    assert sorted(os.listdir(tmp_path)) == ["1"]  # the partial step was cleaned up


# ---------------------------------------------------------------------------
# Loop


class Preempted(Exception):
    pass


def test_resume_after_interruption_matches_straight_run(tmp_path):
    straight, straight_metrics = run(tmp_path / "straight", 20)

    def preempted_batch(step):
        if step == 12:
            raise Preempted
        return regression_batch(step)

    with pytest.raises(Preempted):  # checkpoints at 5 and 10 survive, steps 10-11 are lost
        run(tmp_path / "resumed", 20, get_batch=preempted_batch)
    steps_seen = []

    def recording_batch(step):
        steps_seen.append(step)
        return regression_batch(step)

    resumed, resumed_metrics = run(tmp_path / "resumed", 20, get_batch=recording_batch)
    assert steps_seen == list(range(10, 20))
    assert_trees_equal(resumed, straight)
    assert resumed_metrics["loss"] == straight_metrics["loss"]

    # Already complete: returns the restored state without taking a step.
    done, done_metrics = run(tmp_path / "resumed", 20, get_batch=None)
    assert_trees_equal(done, straight)
    assert done_metrics["step"] == 20 and done_metrics["loss"] == straight_metrics["loss"]

    records = gt.read_metrics(tmp_path / "resumed" / "metrics.jsonl")
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    assert {"loss", "grad_norm", "mae", "steps_per_s", "wall_time"} <= set(records[-1])


def test_nan_guard_stops_and_keeps_finite_checkpoints(tmp_path):
    nan_from = 7

    def exploding_loss(params, batch, key):
        loss, aux = regression_loss(params, batch, key)
        return jnp.where(batch["step"][0] >= nan_from, jnp.nan, loss), aux

    with pytest.raises(FloatingPointError, match=r"step 8.*last good checkpoint \(step 5\)"):
        run(tmp_path, 20, loss_fn=exploding_loss, log_every=1)
    with pytest.raises(FloatingPointError, match=r"step 10.*last good checkpoint \(step 5\)"):
        run(tmp_path / "quiet", 20, loss_fn=exploding_loss, log_every=100)
    for workdir in [tmp_path, tmp_path / "quiet"]:
        with gt.Checkpointer(workdir / "checkpoints", save_every=5) as ckpt:
            assert ckpt.latest_step() == 5 < nan_from
            restored = ckpt.restore(fresh_state(gt.make_optimizer(ADAM)))
        assert gt.non_finite_paths(restored) == []


def test_loop_does_not_recompile(tmp_path):
    compiles, seen = [], {}

    def on_event(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    def counting_batch(step):
        seen[step] = len(compiles)
        return regression_batch(step)

    jax.monitoring.register_event_duration_secs_listener(on_event)
    try:
        run(tmp_path, 10, get_batch=counting_batch, checkpoint_every=3, log_every=1)
    finally:
        jax.monitoring.unregister_event_duration_listener(on_event)
    # By step 5 every path (step, logging, checkpoint at 3) has run once; steps 5-8,
    # including the checkpoint at 6, must not compile anything.
    assert seen[5] > seen[0] and seen[9] == seen[5], seen


def test_progress_bar_and_metrics_file(tmp_path, capsys):
    _, metrics = run(tmp_path, 4, progress=True, log_every=2)
    assert "train" in capsys.readouterr().err
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4]
    assert metrics["step"] == 4 and metrics["finite"] is True
