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

from gendiff import data as gt_data
from gendiff import train as gt
from gendiff.data import GeneratedBatches

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
    return gt.fit(
        fresh_state(tx),
        gt.make_train_step(loss_fn, tx, ema_decay=0.9),
        GeneratedBatches(get_batch, BATCH),
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
        ({"learning_rate": 0.1, "schedule": "cosine", "warmup_steps": 5}, "num_steps"),
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
    import asyncio, os, signal, sys, threading
    import jax.numpy as jnp
    from orbax.checkpoint._src.path import atomicity
    from gendiff.train import Checkpointer

    # Hold the second save at its commit (the atomic rename), so the kill lands after the data
    # is written and before the step is final, on every machine however fast its disk.
    reached_commit = threading.Event()
    commit = atomicity.AtomicRenameTemporaryPath.finalize

    async def held_finalize(self, *args, **kwargs):
        if "2" in os.path.basename(str(self._final_path)):
            reached_commit.set()
            await asyncio.sleep(3600)
        return await commit(self, *args, **kwargs)

    atomicity.AtomicRenameTemporaryPath.finalize = held_finalize
    ckpt = Checkpointer(sys.argv[1], save_every=1)
    ckpt.save(1, {"w": jnp.full((1 << 20,), 1.0)})
    ckpt.wait()
    ckpt.save(2, {"w": jnp.full((1 << 20,), 2.0)})  # asynchronous: returns mid-write
    assert reached_commit.wait(timeout=100), "the second save never reached its commit"
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
    with pytest.raises(FloatingPointError, match=r"step 8.*no checkpoint was written yet"):
        run(tmp_path / "early", 20, loss_fn=exploding_loss, log_every=1, checkpoint_every=10)
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


def test_cosine_warmup_longer_than_run_is_shortened_with_a_warning():
    config = {"learning_rate": 1.0, "schedule": "cosine", "num_steps": 20, "warmup_steps": 100}
    with pytest.warns(UserWarning, match=r"shortened to 2 steps.*optim.warmup_steps"):
        schedule = gt.make_schedule(config)
    # warm-up of 2 steps, then a cosine decay over the remaining 18
    np.testing.assert_allclose(
        [schedule(t) for t in (1, 2, 11, 20)], [0.5, 1.0, 0.5, 0.0], atol=1e-6
    )


# ---------------------------------------------------------------------------
# Several players (GAN-style): one compiled step, players in order, n_critic updates


def test_players_step_matches_sequential_updates():
    """A critic with 3 updates per step (own batch chunk each) then a generator, against the
    same updates written out by hand."""
    tx_c, tx_g = optax.sgd(0.1), optax.adam(0.05)

    def critic_loss(p, batch, key):
        fake = p["g"]["mu"] + 0.1 * jax.random.normal(key, batch["x"].shape)
        score = lambda x: jnp.tanh(x @ p["c"]["w"])
        return jnp.mean(score(fake)) - jnp.mean(score(batch["x"])), {"gap": jnp.mean(fake)}

    def generator_loss(p, batch, key):
        fake = p["g"]["mu"] + 0.1 * jax.random.normal(key, batch["x"].shape)
        return -jnp.mean(jnp.tanh(fake @ p["c"]["w"])), {}

    clip = lambda c: jax.tree.map(lambda w: jnp.clip(w, -0.5, 0.5), c)
    players = [
        gt.Player("c", critic_loss, tx_c, steps=3, split_batch=True, post_update=clip),
        gt.Player("g", generator_loss, tx_g),
    ]
    params = {"c": {"w": jnp.array([0.3, -0.2])}, "g": {"mu": jnp.array([1.0, 2.0])}}
    state = gt.create_players_state(params, {"c": tx_c, "g": tx_g})
    batch = {"x": jnp.asarray(np.random.default_rng(0).normal(size=(6, 2)), jnp.float32)}
    key = jax.random.key(3)
    step = jax.jit(gt.make_players_step(players, ema_decay=0.5))
    new, metrics = step(state, batch, key)

    p, opt_c, opt_g = params, tx_c.init(params["c"]), tx_g.init(params["g"])
    for j in range(3):
        k = jax.random.fold_in(jax.random.fold_in(key, 0), j)
        chunk = {"x": batch["x"][2 * j : 2 * j + 2]}
        g = jax.grad(lambda c: critic_loss({**p, "c": c}, chunk, k)[0])(p["c"])
        u, opt_c = tx_c.update(g, opt_c, p["c"])
        p = {**p, "c": clip(optax.apply_updates(p["c"], u))}
    k = jax.random.fold_in(jax.random.fold_in(key, 1), 0)
    g = jax.grad(lambda gp: generator_loss({**p, "g": gp}, batch, k)[0])(p["g"])
    u, opt_g = tx_g.update(g, opt_g, p["g"])
    p = {**p, "g": optax.apply_updates(p["g"], u)}

    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new.params, p)
    assert int(new.step) == 1 and bool(metrics["finite"])
    assert {"c/loss", "c/grad_norm", "c/gap", "g/loss", "g/grad_norm"} <= set(metrics)
    ema = jax.tree.map(lambda a, b: 0.5 * a + 0.5 * b, params, p)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new.ema_params, ema)


def test_players_step_trains_through_fit(tmp_path):
    """fit serves the multi-player state: checkpoints, resume and metrics as for one player."""
    tx = optax.sgd(0.05)

    def c_loss(p, b, k):  # the critic fits the data mean
        return jnp.mean((p["c"] - b["x"]) ** 2), {}

    def g_loss(p, b, k):  # the generator follows the critic
        return jnp.sum((p["g"] - jax.lax.stop_gradient(p["c"])) ** 2), {}

    players = [gt.Player("c", c_loss, tx, steps=2), gt.Player("g", g_loss, tx)]
    source = GeneratedBatches(lambda s: {"x": np.full((4, 1), 3.0, np.float32)}, 4)

    def go(num_steps):
        state = gt.create_players_state({"c": jnp.zeros(1), "g": jnp.zeros(1)}, {"c": tx, "g": tx})
        return gt.fit(
            state,
            gt.make_players_step(players, 0.9),
            source,
            jax.random.key(0),
            num_steps=num_steps,
            workdir=tmp_path,
            checkpoint_every=10,
            progress=False,
        )

    state, last = go(10)
    state, last = go(200)  # resumes at 10
    np.testing.assert_allclose(state.params["c"], 3.0, atol=1e-3)
    np.testing.assert_allclose(state.params["g"], 3.0, atol=1e-3)
    assert last["step"] == 200 and "c/loss" in last and "g/grad_norm" in last


def test_players_bad_input():
    tx = optax.sgd(0.1)
    loss = lambda p, b, k: (jnp.sum(p["a"]), {})
    with pytest.raises(ValueError, match="unique"):
        gt.make_players_step([gt.Player("a", loss, tx), gt.Player("a", loss, tx)], 0.9)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        gt.make_players_step([gt.Player("a", loss, tx, steps=0)], 0.9)
    with pytest.raises(ValueError, match="same players"):
        gt.create_players_state({"a": jnp.zeros(1)}, {"b": tx})


# ---------------------------------------------------------------------------
# Robustness: damaged checkpoints, one run per workdir, global batches


def _corrupt_step(checkpoint_dir, step):
    """Truncates every data file of a checkpoint step to half its size."""
    for root, _, files in os.walk(os.path.join(checkpoint_dir, str(step))):
        for name in files:
            path = os.path.join(root, name)
            size = os.path.getsize(path)
            with open(path, "r+b") as f:
                f.truncate(size // 2)


def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path):
    straight, straight_metrics = run(tmp_path / "straight", 25)
    run(tmp_path / "damaged", 20)  # checkpoints 10, 15, 20 kept
    _corrupt_step(tmp_path / "damaged" / "checkpoints", 20)
    steps_seen = []

    def recording_batch(step):
        steps_seen.append(step)
        return regression_batch(step)

    with pytest.warns(RuntimeWarning, match=r"step 20 .* unreadable"):
        resumed, resumed_metrics = run(tmp_path / "damaged", 25, get_batch=recording_batch)
    assert steps_seen == list(range(15, 25))  # fell back to step 15
    assert_trees_equal(resumed, straight)
    assert resumed_metrics["loss"] == straight_metrics["loss"]
    names = sorted(os.listdir(tmp_path / "damaged" / "checkpoints"))
    assert "20.corrupt" in names and "25" in names


def test_every_checkpoint_damaged_starts_afresh(tmp_path):
    run(tmp_path, 10)
    for step in (5, 10):
        _corrupt_step(tmp_path / "checkpoints", step)
    with pytest.warns(RuntimeWarning, match="unreadable"):
        state, _ = run(tmp_path, 10)
    assert int(state.step) == 10


def test_second_run_on_same_workdir_is_refused(tmp_path):
    with gt.WorkdirLock(tmp_path):
        with pytest.raises(gt.WorkdirInUse, match=r"in use by another run \(pid \d+"):
            run(tmp_path, 5)
    state, _ = run(tmp_path, 5)  # free again once the first run ends
    assert int(state.step) == 5


def test_fit_rejects_a_per_process_batch_function(tmp_path):
    tx = gt.make_optimizer(ADAM)
    with pytest.raises(TypeError, match="global batch definition"):
        gt.fit(
            fresh_state(tx),
            gt.make_train_step(regression_loss, tx, 0.9),
            regression_batch,
            jax.random.key(0),
            num_steps=2,
            workdir=tmp_path,
        )


def test_log_lines_instead_of_a_bar_off_a_terminal(tmp_path, capsys):
    run(tmp_path, 40, progress=True, log_every=10, checkpoint_every=20)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("train step")]
    assert [line.split()[2] for line in lines] == ["10/40", "20/40", "30/40", "40/40"]
    assert "\r" not in err and "loss" in lines[-1]


# ---------------------------------------------------------------------------
# Full-batch solvers through fit: L-BFGS with its line search, a static batch placed on
# the devices once, a tolerance stop, and no files.


def _least_squares(params, batch, key):
    del key
    err = batch["x"] @ params["w"] - batch["y"]
    return 0.5 * jnp.mean(err**2), {}


class _CountingFullBatch:
    """FullBatch that counts how often fit asks for rows."""

    static = True

    def __init__(self, arrays):
        self.inner = gt_data.FullBatch(arrays)
        self.batch_size, self.calls = self.inner.batch_size, 0

    def local_batch(self, step, rows):
        self.calls += 1
        return self.inner.local_batch(step, rows)


def test_lbfgs_through_fit_stops_at_tolerance_and_writes_nothing(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = x @ np.arange(1.0, 6.0, dtype=np.float32)
    source = _CountingFullBatch({"x": x, "y": y})
    traces = []

    def loss_fn(params, batch, key):
        traces.append(1)  # runs once per trace of the step
        return _least_squares(params, batch, key)

    tx = optax.lbfgs()  # its line search needs the value_fn that the step hands over
    monkeypatch.chdir(tmp_path)
    state, last = gt.fit(
        gt.create_train_state({"w": jnp.zeros(5)}, tx),
        gt.make_train_step(loss_fn, tx, ema_decay=0.0),
        source,
        jax.random.key(0),
        num_steps=500,
        workdir=None,
        log_every=5,
        progress=False,
        stop_when=lambda m: m["grad_norm"] <= 1e-5,
    )
    np.testing.assert_allclose(np.asarray(state.params["w"]), np.arange(1.0, 6.0), rtol=1e-4)
    # Stopped at the first logged step whose gradient was below the tolerance, well before
    # num_steps; a quadratic in 5 unknowns takes L-BFGS a handful of iterations.
    assert last["step"] % 5 == 0 and last["step"] <= 20 and last["grad_norm"] <= 1e-5, last
    assert int(state.step) == last["step"]
    assert source.calls == 1  # the full batch went to the devices once
    assert len(traces) == 3  # one trace of the step (3 loss calls in it); a retrace doubles it
    assert os.listdir(tmp_path) == []  # workdir=None: no checkpoint, metrics or lock


def test_stop_when_with_a_workdir_checkpoints_the_stopping_step(tmp_path):
    tx = optax.sgd(0.5)
    x = np.eye(4, dtype=np.float32)
    state, last = gt.fit(
        gt.create_train_state({"w": jnp.zeros(4)}, tx),
        gt.make_train_step(_least_squares, tx, ema_decay=0.0),
        gt_data.FullBatch({"x": x, "y": np.ones(4, np.float32)}),
        jax.random.key(0),
        num_steps=1000,
        workdir=str(tmp_path),
        log_every=10,
        progress=False,
        stop_when=lambda m: m["loss"] < 1e-3,
    )
    assert last["step"] < 1000 and last["loss"] < 1e-3
    ckpt = gt.Checkpointer(os.path.join(tmp_path, "checkpoints"), 1000)
    try:
        assert ckpt.latest_step() == last["step"]
    finally:
        ckpt.close()
    logged = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert logged[-1]["step"] == last["step"]


def test_time_limit_ends_the_run_at_the_first_logged_step_past_it(tmp_path):
    tx = optax.sgd(0.1)
    state, last = gt.fit(
        gt.create_train_state({"w": jnp.zeros(4)}, tx),
        gt.make_train_step(_least_squares, tx, ema_decay=0.0),
        gt_data.FullBatch({"x": np.eye(4, dtype=np.float32), "y": np.ones(4, np.float32)}),
        jax.random.key(0),
        num_steps=1_000_000,
        workdir=str(tmp_path),
        log_every=7,
        progress=False,
        time_limit_s=0.0,  # already spent at the first logged step
    )
    assert last["step"] == int(state.step) == 7
    ckpt = gt.Checkpointer(os.path.join(tmp_path, "checkpoints"), 1000)
    try:
        assert ckpt.latest_step() == 7
    finally:
        ckpt.close()
    with pytest.raises(ValueError, match="time_limit_s must be >= 0"):
        gt.fit(state, gt.make_train_step(_least_squares, tx, ema_decay=0.0),
               gt_data.FullBatch({"x": np.eye(4, dtype=np.float32), "y": np.ones(4, np.float32)}),
               jax.random.key(0), num_steps=10, workdir=None, time_limit_s=-1.0)  # fmt: skip


def test_non_finite_without_a_workdir_says_nothing_is_kept():
    tx = optax.sgd(1.0)
    with pytest.raises(FloatingPointError, match=r"nothing is kept \(workdir=None\)"):
        gt.fit(
            gt.create_train_state({"w": jnp.zeros(2)}, tx),
            gt.make_train_step(lambda p, b, k: (jnp.sum(p["w"]) / 0.0, {}), tx, ema_decay=0.0),
            gt_data.FullBatch({"x": np.zeros((2, 1), np.float32)}),
            jax.random.key(0),
            num_steps=3,
            workdir=None,
            log_every=1,
            progress=False,
        )


def test_replicate_makes_weak_scalars_strong():
    state = gt.create_train_state({"w": jnp.zeros(3)}, optax.lbfgs())
    weak = [x for x in jax.tree.leaves(state) if getattr(x, "weak_type", False)]
    assert weak, "optax's L-BFGS state should start with weakly typed scalars"
    out = gt.replicate(state, gt.make_mesh())
    assert not any(x.weak_type for x in jax.tree.leaves(out))
    assert jax.tree.map(lambda a: a.dtype, out) == jax.tree.map(lambda a: a.dtype, state)
