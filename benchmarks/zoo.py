"""The generative zoo: every family on the 8x8 digits, one wall-clock budget, one scorer.

With ``--dataset mnist --data-dir DIR`` the same families (each with its own MNIST setting where
it needs one) train on the MNIST t10k split (8,000 / 2,000 images, gendiff.data
'mnist_idx_t10k'), scored in the features of a classifier of that split (``fd_classifier``).

Each family is trained and sampled by its own experiment (``experiments.<name>``, its preset and
a few overrides, no copied code), with ``time_limit_s`` set to the same ``--budget`` seconds of
training (a family whose preset needs less stops earlier). Every family's 1,000 samples are then
scored by one scorer (:func:`experiments.common.sample_quality`, one key, one digits classifier
shared by every run), so the floor and noise values are the same on every row:

- ``fd`` (FD-digits) with its ``fd_floor`` (train vs test digits) and ``fd_noise`` values;
- ``label_coverage`` and ``label_entropy`` (nats, log 10 = 2.303 at most): the classes the
  independent digits classifier assigns to the samples, and how evenly (mode collapse);
- ``bpd``: test bits per dimension on the 17-level digits where the family has a likelihood
  or a bound (``bpd_kind`` says which; a second estimate of the same model goes to ``bpd_2``);
- ``train_s`` (set-up, compilation and training), ``steps``, ``sample_s_per_1000``
  (compilation excluded) and ``nfe`` (network evaluations per sample).

Outputs in ``--workdir``: ``zoo.json`` (one object per family), ``zoo.md`` (the table),
``zoo.png`` (one labelled row of samples per family) and ``zoo_cost.png`` (FD against sampling
cost), and one experiment workdir per family.

Usage:
    python -m benchmarks.zoo                             # every family, --budget 180 s each (~30 min)
    python -m benchmarks.zoo --families ddpm gan vae --budget 60
    python -m benchmarks.zoo --quick                     # tiny settings: the table's structure
    python -m benchmarks.zoo --dataset mnist --data-dir DIR   # the MNIST t10k split
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import importlib
import json
import os
import platform
import sys
import time
from typing import Callable

import jax
import matplotlib
import ml_collections
import numpy as np

from gendiff.eval import NUM_SAMPLES
from gendiff.eval.images import save_figure
from gendiff.eval.io import write_bytes, write_json
from gendiff.train import is_main_process

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

DEFAULT_BUDGET_S = 180.0

DATASETS = {"digits": "digits", "mnist": "mnist_idx_t10k"}
DATASET_TITLES = {"digits": "the 8x8 digits", "mnist": "the MNIST split (t10k, 8,000 / 2,000)"}
"""``--dataset`` choices: gendiff.data names (MNIST: the t10k files split 8,000 / 2,000)."""


@dataclasses.dataclass(frozen=True)
class Family:
    """One row of the zoo: which experiment trains it and where its figures are.

    Attributes:
      label: the row's name in the table and the picture.
      module: the experiment module (``experiments.<name>``).
      preset: its preset.
      overrides: dotted config fields set on the preset (``{"sample.nfe": 20}``).
      quick: further overrides for ``--quick`` (a few steps, small networks).
      nfe: network evaluations per sample, ``nfe(config, metrics)``.
      prefix: of the experiment's metric names (the VAE's arms: ``"vae_"``); ending in "/",
        the key of the family's own dict in the metrics (``"pcd1/"``: the RBM of that rule);
        ``{dataset}`` stands for the dataset's name.
      bpd: ``(metric name, kind)`` of the test bits/dim, or None; a name ending in ``elbo`` or
        ``log_likelihood`` is in nats per image and is converted.
      bpd_2: a second estimate of the same model's bits/dim, or None.
      samples: the .npy of the samples in the experiment's workdir.
      reuse: the family whose trained workdir this one re-evaluates (same model, another
        sampler) instead of training again.
      steps: the training steps of the row, ``steps(metrics)`` (default: ``num_steps``).
      mnist: further overrides on the MNIST split (``--dataset mnist``); None: the family
        has no MNIST setting and is refused there.
      limits: the config's wall-clock limits (dotted ``time_limit_s`` fields) as fractions of
        the budget, for families that train in stages.
    """

    label: str
    module: str
    preset: str
    overrides: dict
    quick: dict
    nfe: Callable[[ml_collections.ConfigDict, dict], int]
    prefix: str = ""
    bpd: tuple[str, str] | None = None
    bpd_2: tuple[str, str] | None = None
    samples: str = "samples.npy"
    reuse: str | None = None
    limits: tuple[tuple[str, float], ...] = (("time_limit_s", 1.0),)
    steps: Callable[[dict], int] | None = None
    mnist: dict | None = dataclasses.field(default_factory=dict)


def _denoiser_quick(**extra) -> dict:
    """--quick for the U-Net families: an MLP denoiser (cheap steps, so a few hundred)."""
    return {
        "num_steps": 300,
        "log_every": 100,
        "model.name": "mlp",
        "model.hidden": 128,
        "model.depth": 2,
        "optim.warmup_steps": 10,
        "optim.ema_decay": 0.95,
        **extra,
    }


_VLB_QUICK = {"eval.vlb_examples": 20, "eval.vlb_batch": 20}


_VAE_QUICK = {  # the preset's MLPs (cheap steps)
    "num_steps": 1000,
    "log_every": 250,
    "optim.warmup_steps": 20,
    "eval.num_importance_samples": 20,
    "eval.num_test": 100,
}


def _vae_family(label: str, arm: str) -> Family:
    """One arm of experiments.vae: its IWAE bound and its ELBO are two bounds of one model."""
    return Family(
        label,
        "experiments.vae",
        "digits",
        {"arms": arm},
        _VAE_QUICK,
        nfe=lambda c, m: 1,
        prefix=f"{arm}_",
        bpd=("test_bpd", "IWAE bound, k = {k}"),
        bpd_2=("test_elbo", "ELBO"),
        samples=f"samples_{arm}.npy",
    )


FAMILIES: dict[str, Family] = {
    "ddpm": Family(
        "DDPM, ancestral",
        "experiments.ddpm",
        "cpu",
        {"sample.sampler": "", "eval.ode_bpd_examples": 100},
        # No ODE solve in --quick (its compilation alone is seconds): tests/test_experiment_ddpm.py
        _denoiser_quick(
            **{"diffusion.num_diffusion_steps": 50, "eval.ode_bpd_examples": 0}, **_VLB_QUICK
        ),
        nfe=lambda c, m: c.diffusion.num_diffusion_steps,
        bpd=("test_bpd", "variational bound"),
        # The same network's probability-flow ODE likelihood on the first test digits.
        bpd_2=(
            "ode_bpd",
            (
                "probability-flow ODE, first {ode_bpd_examples} test digits, their bound "
                "{ode_bpd_vlb:.3f}"
            ),
        ),
    ),
    "ddpm_dpm_solver": Family(
        "DDPM, DPM-Solver++(2M)-SDE",
        "experiments.ddpm",
        "cpu",
        {"sample.sampler": "dpm_solver_pp_2m_sde", "sample.nfe": 20},
        _denoiser_quick(**{"diffusion.num_diffusion_steps": 50}, **_VLB_QUICK),
        nfe=lambda c, m: c.sample.nfe,
        bpd=("test_bpd", "variational bound"),
        reuse="ddpm",
    ),
    "score_sde": Family(
        "score SDE (VP), PC sampler",
        "experiments.score_sde",
        "cpu",
        {},
        _denoiser_quick(
            **{
                "num_steps": 1000,
                "sde.num_steps": 50,
                "eval.vlb_examples": 10,
                "eval.vlb_batch": 10,
            }
        ),
        nfe=lambda c, m: 2 * c.sde.num_steps if c.sde.corrector != "none" else c.sde.num_steps,
        bpd=("test_bpd", "probability-flow ODE"),
    ),
    "flow_matching": Family(
        "flow matching (OT path), RK4",
        "experiments.flow_matching",
        "cpu",
        {"eval.samplers": "rk4:25", "eval.sampler": "rk4:25"},
        _denoiser_quick(**{"eval.samplers": "rk4:2", "eval.sampler": "rk4:2"}),
        nfe=lambda c, m: 4 * int(c.eval.sampler.split(":")[1]),
    ),
    "rectified_flow": Family(
        "rectified flow, Euler",
        "experiments.flow_matching",
        "cpu",
        {"sigma_min": 0.0, "eval.samplers": "euler:10", "eval.sampler": "euler:10"},
        _denoiser_quick(**{"eval.samplers": "euler:4", "eval.sampler": "euler:4"}),
        nfe=lambda c, m: int(c.eval.sampler.split(":")[1]),
    ),
    "distilled": Family(
        "progressive distillation, student",
        "experiments.progressive_distillation",
        "cpu",
        {},
        _denoiser_quick(
            **{
                "distill.steps_per_round": 100,
                "distill.teacher_sampling_steps": 16,
                "distill.final_sampling_steps": 8,
            }
        ),
        nfe=lambda c, m: c.distill.final_sampling_steps,
        steps=lambda m: m["teacher_num_steps"] + m["distill_num_steps"],
        # The teacher; the distillation rounds (1,000 steps by default) come on top.
        limits=(("time_limit_s", 0.6),),
    ),
    "gan": Family(
        "GAN (DCGAN)",
        "experiments.gan",
        "digits",
        {},
        {
            "num_steps": 300,
            "log_every": 150,
            "checkpoint_every": 300,
            "batch_size": 32,
            "generator_optim.learning_rate": 1e-3,
            "critic_optim.learning_rate": 1e-3,
        },  # fmt: skip
        nfe=lambda c, m: 1,
        mnist={},  # the same DCGAN at 28x28
    ),
    "vae": _vae_family("VAE", "vae"),
    "hvae": _vae_family("ladder VAE (2 layers)", "hvae"),
    "vqvae": Family(
        "VQ-VAE + transformer prior",
        "experiments.vqvae",
        "digits",
        {"compare_no_restarts": False},
        {
            "num_steps": 300,
            "log_every": 100,
            "optim.warmup_steps": 10,
            "model.channels": (16,),
            "vq.code_dim": 8,
            "prior.num_steps": 300,
            "prior.log_every": 100,
            "prior.features": 32,
            "prior.depth": 1,
            "prior.optim.warmup_steps": 10,
        },
        # One prior evaluation per code of the grid, then the decoder once.
        nfe=lambda c, m: int(np.prod(m["code_grid"])) + 1,
        samples="prior_samples.npy",
        limits=(("time_limit_s", 0.5), ("prior.time_limit_s", 0.5)),
    ),
    "rbm": Family(
        "RBM (PCD-1, 64 hidden)",
        "experiments.rbm",
        "cpu",
        {"methods": ("pcd1",), "num_hidden": 64, "num_steps": 20_000, "log_every": 1000},
        {
            "num_steps": 2000,
            "log_every": 500,
            "num_hidden": 16,
            "eval.gibbs_sweeps": 200,
            "eval.ais_betas": 1000,
            "eval.ais_chains": 32,
        },  # fmt: skip
        nfe=lambda c, m: c.eval.gibbs_sweeps,  # Gibbs sweeps (no network)
        prefix="pcd1/",
        bpd=("test_log_likelihood", "AIS log Z, digits binarised at mid-grey"),
        samples="pcd1/samples.npy",
    ),
    "ebm": Family(
        "EBM (energy MLP), Langevin",
        "experiments.ebm",
        "digits",
        {"num_steps": 20_000},
        {"num_steps": 300, "log_every": 100, "num_chains": 200, "model.hidden": 64},
        nfe=lambda c, m: c.eval.langevin_steps,  # one energy gradient per Langevin step
        prefix="{dataset}/",
        samples="{dataset}/samples.npy",
        # On 784 dimensions the digits preset's Langevin sampler stays near noise (quick run on
        # 28x28 stand-ins: FD 2023 against noise 1981): no MNIST setting yet.
        mnist=None,
    ),
    "gmm": Family(
        "Gaussian mixture (EM)",
        "experiments.gmm_density",
        "cpu",
        {},
        {"num_components": (4,), "num_iters": 20, "num_restarts": 1, "num_copies": 1},
        nfe=lambda c, m: 0,  # no network: a draw is a categorical and a Gaussian
        # Full 784 x 784 covariances cost N K D^2 per EM iteration: diagonal ones on MNIST.
        mnist={"covariance_type": "diag"},
        bpd=("test_bpd", "dequantisation bound"),
    ),
}
"""The zoo's rows, in the order of the table."""


def _set(config: ml_collections.ConfigDict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for name in parents:
        node = node[name]
    if leaf not in node:
        raise KeyError(f"config has no field {dotted!r}")
    with node.ignore_type():
        node[leaf] = value


def family_config(
    family: Family, budget_s: float, quick: bool, dataset: str = "digits", data_dir: str = ""
) -> ml_collections.ConfigDict:
    """The family's preset with its overrides, the budget, the dataset (a key of
    :data:`DATASETS`; ``data_dir`` holds MNIST's IDX files) and the zoo's evaluation size.

    Example:
      >>> c = family_config(FAMILIES["ddpm_dpm_solver"], 60.0, quick=False)
      >>> c.sample.sampler, c.sample.nfe, c.time_limit_s, c.eval.num_samples
      ('dpm_solver_pp_2m_sde', 20, 60.0, 1000)
    """
    configs = importlib.import_module(family.module.replace("experiments.", "experiments.configs."))
    config = configs.get_config(family.preset)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {list(DATASETS)}.")
    extra = {}
    if dataset != "digits":
        if family.mnist is None:
            raise ValueError(f"family {family.label!r} has no {dataset} setting.")
        extra = family.mnist
    for dotted, value in {
        **family.overrides,
        **(family.quick if quick else {}),
        **extra,
    }.items():
        _set(config, dotted, value)
    if "datasets" in config:  # experiments.ebm: a tuple of datasets
        config.datasets = (DATASETS[dataset],)
    else:
        config.dataset = DATASETS[dataset]
    config.data_dir = data_dir
    config.progress = False
    for dotted, fraction in family.limits:
        *parents, leaf = dotted.split(".")
        node = config
        for name in parents:
            node = node[name]
        with node.ignore_type():
            node[leaf] = float(budget_s) * fraction
    config.eval.num_samples = NUM_SAMPLES if not quick else 200
    if "sample_batch" in config.eval:
        config.eval.sample_batch = min(config.eval.sample_batch, config.eval.num_samples)
    return config


def _train_seconds(workdir: str, started: float) -> float:
    """From the run's start to its last logged training step (every fit of the run)."""
    last = started
    for path in glob.glob(os.path.join(workdir, "**", "metrics.jsonl"), recursive=True):
        with open(path) as f:
            for line in f:
                if line.strip():
                    last = max(last, json.loads(line).get("wall_time", last))
    return last - started


def run_family(
    name: str,
    workdir: str,
    budget_s: float,
    quick: bool,
    trained: dict,
    scorer,
    dataset: str = "digits",
    data_dir: str = "",
) -> dict:
    """Trains (or re-evaluates) one family through its experiment, scores its samples with
    ``scorer`` (the zoo's one :func:`experiments.common.sample_scorer`); returns its row."""
    family = FAMILIES[name]
    config = family_config(family, budget_s, quick, dataset, data_dir)
    module = importlib.import_module(family.module)
    directory = os.path.join(workdir, family.reuse or name)
    if family.reuse:  # the same network, already trained: only sample and score again
        base = trained[family.reuse]
        config.num_steps = base["steps"]
    started = time.time()
    metrics = module.train_and_evaluate(config, directory)
    wall = time.time() - started
    p = family.prefix.format(dataset=DATASETS[dataset])
    if p.endswith("/"):  # the family's own dict of the experiment's metrics
        metrics, p = metrics[p[:-1]], ""
    # The samples of this row (a re-evaluation overwrites the experiment's own file).
    samples = os.path.join(workdir, f"samples_{name}.npy")
    drawn = np.load(os.path.join(directory, family.samples.format(dataset=DATASETS[dataset])))
    if is_main_process():
        np.save(samples, drawn)
    figures = scorer(drawn)
    fd = "fd_digits" if dataset == "digits" else "fd_classifier"
    dims = int(np.prod(drawn.shape[1:]))
    row = {
        "family": name,
        "label": family.label,
        "fd": figures[fd],
        "fd_floor": figures[f"{fd}_floor"],
        "fd_noise": figures[f"{fd}_noise"],
        "label_coverage": figures["label_coverage"],
        "label_entropy": figures["label_entropy"],
        "fd_own_scorer": metrics.get(f"{p}{fd}"),  # the experiment's own key and rows
        "num_samples": scorer.num_samples,
        "steps": int(
            family.steps(metrics)
            if family.steps
            else metrics.get("num_steps", config.get("num_steps", 0))
        ),
        "train_s": trained[family.reuse]["train_s"]
        if family.reuse
        else metrics.get(f"{p}train_s") or _train_seconds(directory, started),
        "wall_s": wall,
        "sample_s_per_1000": metrics.get(f"{p}sample_s_per_1000"),
        "nfe": int(family.nfe(config, metrics)),
        "budget_s": budget_s,
        "bpd": None,
        "bpd_kind": None,
        "bpd_2": None,
        "bpd_2_kind": None,
        "samples": samples,
    }
    for slot, spec in (("bpd", family.bpd), ("bpd_2", family.bpd_2)):
        if spec and f"{p}{spec[0]}" in metrics:
            value = metrics[f"{p}{spec[0]}"]
            if spec[0].endswith(("elbo", "log_likelihood")):  # nats per image -> bits per dim
                value = -value / (dims * np.log(2.0))
            k = config.eval.get("num_importance_samples")  # the VAEs' bound
            kind = spec[1].format(k=k, **{n: v for n, v in metrics.items() if n.isidentifier()})
            row[slot], row[f"{slot}_kind"] = float(value), kind
    return row


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[dict], header: str, dataset: str = "digits") -> str:
    """The zoo table (one line per family) as Markdown."""
    fd = "FD-digits" if dataset == "digits" else "FD (classifier features)"
    images, levels = ("digits", 17) if dataset == "digits" else ("images", 256)
    lines = [
        header,
        "",
        f"| family | {fd} | FD / floor | label coverage | label entropy | test bits/dim "
        "| train s (steps) | sample s / 1000 | NFE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bpd = "-"
        if r["bpd"] is not None:
            bpd = f"{r['bpd']:.3f} ({r['bpd_kind']})"
            if r["bpd_2"] is not None:
                bpd += f"; {r['bpd_2']:.3f} ({r['bpd_2_kind']})"
        lines.append(
            f"| {r['label']} | {_fmt(r['fd'])} | {_fmt(r['fd'] / r['fd_floor'])} "
            f"| {_fmt(r['label_coverage'], 1)} | {_fmt(r['label_entropy'], 3)} | {bpd} "
            f"| {r['train_s']:.0f} ({r['steps']}) | {_fmt(r['sample_s_per_1000'])} | {r['nfe']} |"
        )
    if rows:
        lines += [
            "",
            f"{fd} of {rows[0]['num_samples']:,} samples against the test {images}, one scorer"
            f" for every row: floor {rows[0]['fd_floor']:.2f} (train {images}), noise "
            f"{rows[0]['fd_noise']:.2f}. Label coverage and entropy (nats, at most log 10 = "
            f"2.303) of the classes the independent classifier assigns; bits/dim on the "
            f"{levels}-level test {images}, except where the kind says binarised.",
        ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], grid_png: str, cost_png: str, per_row: int = 12) -> None:
    """One labelled row of samples per family, and FD against sampling cost."""
    fig = Figure(figsize=(per_row * 0.55 + 2.6, len(rows) * 0.6 + 0.3))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, r in zip(axes, rows):
        samples = np.load(r["samples"])[:per_row, ..., 0]
        # Strokes light on dark, as in samples.png; grey gaps between the samples.
        strip = np.concatenate([np.pad(s, 1, constant_values=0.0) for s in samples], axis=1)
        ax.imshow(strip, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(
            f"{r['label']}\nFD {r['fd']:.1f}", rotation=0, ha="right", va="center", fontsize=7
        )
    fig.subplots_adjust(left=0.28, right=0.99, top=0.99, bottom=0.01, hspace=0.15)
    save_figure(grid_png, fig)

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    colours = matplotlib.colormaps["tab20"].colors  # one colour per row (13 rows and more)
    for i, r in enumerate(rows):
        cost = r["sample_s_per_1000"] or float("nan")
        ax.scatter(cost, r["fd"], color=colours[i % len(colours)])
        ax.annotate(
            r["label"], (cost, r["fd"]), fontsize=6, xytext=(3, 3), textcoords="offset points"
        )
    ax.axhline(rows[0]["fd_floor"], color="k", ls=":", lw=1, label="floor (train digits)")
    ax.axhline(rows[0]["fd_noise"], color="k", ls="--", lw=1, label="noise")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sampling seconds per 1,000 samples (compilation excluded)")
    ax.set_ylabel(f"FD-digits ({rows[0]['num_samples']:,} samples)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    save_figure(cost_png, fig)


def run(
    families: list[str],
    workdir: str,
    budget_s: float,
    quick: bool,
    dataset: str = "digits",
    data_dir: str = "",
) -> list[dict]:
    """Every family in turn; writes zoo.json, zoo.md, zoo.png and zoo_cost.png."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {list(DATASETS)}.")
    refused = [f for f in families if f in FAMILIES and dataset != "digits"
               and FAMILIES[f].mnist is None]  # fmt: skip
    if refused:
        raise ValueError(f"families {refused} have no {dataset} setting; leave them out.")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; expected some of {list(FAMILIES)}.")
    for name in families:
        reuse = FAMILIES[name].reuse
        if reuse and reuse not in families:
            raise ValueError(f"family {name!r} re-evaluates {reuse!r}: list {reuse!r} too.")
    if not budget_s > 0:
        raise ValueError(f"--budget must be > 0 seconds, got {budget_s}.")
    from experiments import common
    from gendiff import data

    os.makedirs(workdir, exist_ok=True)
    # One classifier for every run's own figures and for the zoo's scorer.
    env = common.FEATURE_CLASSIFIER_ENV
    before = os.environ.get(env)
    os.environ[env] = before or os.path.join(workdir, "classifier")
    try:
        train, test = (data.load(DATASETS[dataset], split, data_dir) for split in ("train", "test"))
        num_samples = 200 if quick else NUM_SAMPLES
        scorer = common.sample_scorer(jax.random.key(0), train, test, workdir, num_samples)
        rows, trained = [], {}
        for name in families:
            row = run_family(name, workdir, budget_s, quick, trained, scorer, dataset, data_dir)
            trained[name] = row
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:  # the caller's environment as it was
        if before is None:
            del os.environ[env]
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    header = (
        f"Generative zoo on {DATASET_TITLES[dataset]}, {time.strftime('%Y-%m-%d')}, {machine}, "
        f"training budget {budget_s:.0f} s per family{' (--quick)' if quick else ''}."
    )
    write_json(os.path.join(workdir, "zoo.json"), {"header": header, "rows": rows})
    write_bytes(os.path.join(workdir, "zoo.md"), markdown(rows, header, dataset).encode())
    plot(rows, os.path.join(workdir, "zoo.png"), os.path.join(workdir, "zoo_cost.png"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="runs/benchmarks/zoo")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds per family")
    parser.add_argument("--quick", action="store_true", help="tiny settings (the test's run)")
    parser.add_argument("--dataset", default="digits", choices=list(DATASETS))
    parser.add_argument("--data-dir", default="", help="the MNIST IDX files, for --dataset mnist")
    args = parser.parse_args()
    from experiments import common

    directory = common.enable_compilation_cache()
    common.enable_export_cache(directory and os.path.join(directory, common.EXPORT_SUBDIR))
    families = args.families
    if args.dataset != "digits" and "--families" not in sys.argv:  # every family that can
        families = [f for f in families if FAMILIES[f].mnist is not None]
    run(families, args.workdir, args.budget, args.quick, args.dataset, args.data_dir)


if __name__ == "__main__":
    main()
