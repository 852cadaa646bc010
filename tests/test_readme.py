"""The README's "Using the pieces" examples run as written.

Each ```python block of that section runs, in order, in one namespace that holds the names the
examples take as given: a key, a toy ``model_fn`` (accepting class labels), data, and the losses
and parameters of the training examples. Files go to a temporary working directory.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import optax
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def readme_blocks(section: str = "Using the pieces") -> list[str]:
    text = README.read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"README has no section {section!r}"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def given_names() -> dict:
    """The names the README's examples use without defining them."""
    key = jax.random.key(0)
    images = jax.random.uniform(jax.random.key(1), (256, 8, 8, 1), minval=-1.0, maxval=1.0)

    def model_fn(x, t, y=None):  # an eps-model of Gaussian data N(0, 0.5^2 I); y is ignored
        del y
        return jnp.zeros_like(x) + 0.0 * t.reshape(-1, *([1] * (x.ndim - 1)))

    def loss_fn(params, batch, key):  # least squares of the image mean
        loss = jnp.mean((batch["image"] - params["mean"]) ** 2)
        return loss, {"mse": loss}

    def critic_loss(params, batch, key):  # a linear critic between data and a shifted generator
        fake = params["generator"]["shift"]
        gap = jnp.mean(batch["image"]) * params["critic"]["w"] - fake * params["critic"]["w"]
        return -gap, {}

    def gen_loss(params, batch, key):
        return -params["generator"]["shift"] * params["critic"]["w"], {}

    return dict(
        key=key,
        model_fn=model_fn,
        x0=images[:8],
        shape=(4, 8, 8, 1),
        labels=jnp.arange(4) % 10,
        images=images,
        params={"mean": jnp.zeros(())},
        loss_fn=loss_fn,
        critic_loss=critic_loss,
        gen_loss=gen_loss,
        pc={"w": jnp.zeros(())},
        pg={"shift": jnp.zeros(())},
        tx_c=optax.chain(optax.sgd(1e-2), optax.clip(0.1)),
        tx_g=optax.sgd(1e-2),
    )


def test_the_section_has_examples():
    assert len(readme_blocks()) >= 3


def test_using_the_pieces_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = given_names()
    for i, block in enumerate(readme_blocks()):
        try:
            exec(compile(block, f"README.md, Using the pieces, block {i}", "exec"), namespace)
        except Exception as error:  # name the block that broke
            pytest.fail(f"README block {i} raised {error!r}:\n{block}")
    # What the blocks left behind is what they say they compute.
    assert namespace["samples"].shape == (64, 8, 8, 1)
    assert namespace["x_T"].shape == namespace["x"].shape == (4, 8, 8, 1)
    assert bool(jnp.all(jnp.isfinite(namespace["x"])))
    assert namespace["stats"]["nfe"] <= 500
    assert int(namespace["state"].step) == 2000
    assert (tmp_path / "runs" / "wgan").is_dir()
    # L-BFGS stopped at its tolerance, at the least-squares solution (the images' mean).
    assert int(namespace["solved"].step) < 1000 and namespace["last"]["grad_norm"] <= 1e-5
    mean = float(jnp.mean(namespace["images"]))
    assert abs(float(namespace["solved"].params["mean"]) - mean) < 1e-5
