"""Sample quality against the number of network evaluations (NFE), for every sampler.

For each dataset (toy2d two moons, scored by the sliced Wasserstein distance to the test split;
8x8 digits, scored by the Fréchet distance in digits-classifier features), the benchmark trains
once and caches under ``--workdir``:

- a v-prediction network on the VP path (the simple DDPM loss with continuous t), sampled by
  every sampler of ``gendiff.samplers.SAMPLERS`` (:data:`DIFFUSION_SAMPLERS`) through its common
  signature, with ``denoise_final=True``: every sampler returns the model's x_0 prediction at
  its last time and spends at most NFE evaluations, that last one included;
- a velocity network on the rectified-flow path (flow matching), sampled with Euler;
- on the digits, the progressive-distillation run of ``experiments.progressive_distillation``
  (its own teacher, on a cosine discrete path with v-prediction), whose students are sampled at
  the step counts they were distilled for.

Every sampler is run at each NFE in {1, 2, 4, 10, 20, 50, 100, 1000} whose budget it accepts (see
``gendiff.samplers.registry``: e.g. RK4 needs 4 evaluations a step plus the final one); a skipped
entry is null. The deterministic samplers start from the same prior draws; the stochastic ones
draw them from the same key. The adaptive ODE solver runs at rtol = atol = 1e-3 (a budget its
tolerance outgrows fails at run time and is recorded as null).

``"sampling_overhead"`` is the time of one jitted DPM-Solver++(2M) run of N steps over N times
one jitted model call (same batch), for the MLP on toy2d and the tiny U-Net on the digits, with
freshly initialised parameters (the timing does not depend on them); ``--overhead-only`` measures
just that. Prints one JSON object and writes the same figures to ``--workdir``/samplers.png:

    {"benchmark": "samplers", "nfe": [1, 2, ...], "toy2d": {"metric": "swd", "floor": ...,
     "samplers": {"ddim": [..], ...}}, "digits": {...}, "goals": {...}, ...}

Usage:
    python -m benchmarks.samplers                         # digits about 2.5 h on 2 CPU cores (1000-NFE runs)
    python -m benchmarks.samplers --datasets toy2d --nfe 1 10 100
    python -m benchmarks.samplers --overhead-only          # the sampling-overhead ratios only
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from experiments import common
from experiments import progressive_distillation as distillation
from experiments.configs import progressive_distillation as distillation_configs
from experiments.configs import score_sde as sde_configs
from gendiff import data, ddpm, flow_matching, samplers
from gendiff.eval import NUM_SAMPLES
from gendiff.paths import RectifiedFlowPath, VPPath

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

NFES = (1, 2, 4, 10, 20, 50, 100, 1000)
DIFFUSION_SAMPLERS = tuple(samplers.SAMPLERS)
ADAPTIVE_TOLERANCE = 1e-3


def diffusion_sampler(name: str, model_fn, path, x_T, nfe: int) -> Callable | None:
    """``sample(key) -> x`` spending at most ``nfe`` evaluations of the v-prediction ``model_fn``
    through ``SAMPLERS[name]`` (denoise_final=True), or None where the sampler does not accept
    that budget. Deterministic samplers start from ``x_T``; stochastic ones draw from the key."""
    sampler = samplers.SAMPLERS[name]
    options = {"prediction": "v", "denoise_final": True}
    if name == "ode_adaptive":
        options |= {"rtol": ADAPTIVE_TOLERANCE, "atol": ADAPTIVE_TOLERANCE}
    if name in samplers.DETERMINISTIC:
        options["x_init"] = x_T
    try:  # the budget check raises before anything is traced
        jax.eval_shape(lambda k: sampler(k, model_fn, path, x_T.shape, nfe=nfe, **options), jax.random.key(0))  # fmt: skip
    except ValueError:
        return None
    return lambda key: sampler(key, model_fn, path, x_T.shape, nfe=nfe, **options)


def prior_draw(key, path, shape):
    """The x_T the deterministic samplers start from."""
    return path.prior_sample(jax.random.split(key)[0], shape)


def _time(fn, *args, repeats: int = 5) -> float:
    """The best of ``repeats`` wall-clock times of an already compiled ``fn(*args)``, in seconds."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def sampling_overhead(num_steps: int = 20, batch: int = 256) -> dict:
    """Time of one jitted DPM-Solver++(2M) run of N steps over N times one jitted model call.

    Both use the same network, batch and freshly initialised parameters: the MLP denoiser of the
    toy2d preset on (batch, 2) points and the tiny U-Net on (batch, 8, 8, 1) digits. A ratio of 1
    means the sampler adds nothing to the N evaluations it makes.
    """
    out = {"num_steps": num_steps, "batch": batch}
    path = VPPath()
    for dataset, preset, shape in (("toy2d", "toy2d", (2,)), ("digits", "cpu", (8, 8, 1))):
        config = sde_configs.get_config(preset)
        net = common.build_denoiser(config.model, shape)
        x = jax.random.normal(jax.random.key(0), (batch, *shape))
        t = jnp.full((batch,), 0.5)
        params = net.init(jax.random.key(1), x, t)
        model_fn = functools.partial(net.apply, params)
        call = jax.jit(model_fn)
        run = jax.jit(
            lambda x: samplers.SAMPLERS["dpm_solver_pp_2m"](
                None, model_fn, path, x.shape, nfe=num_steps, x_init=x, denoise_final=False,
                prediction="v",
            )
        )  # fmt: skip
        one_call, whole_run = _time(call, x, t), _time(run, x)
        out[dataset] = {
            "model_call_ms": 1e3 * one_call,
            "sampler_run_ms": 1e3 * whole_run,
            "ratio": whole_run / (num_steps * one_call),
        }
    return out


def train_model(config, workdir: str, train_ds, loss) -> Callable:
    """Trains (or resumes from ``workdir``) the network of ``config``; returns its EMA model_fn."""
    net = common.build_denoiser(config.model, train_ds.example_shape)
    init_key, train_key = jax.random.split(jax.random.key(config.seed))
    state, _ = common.train_network(config, workdir, net, train_ds, loss, init_key, train_key)
    return functools.partial(net.apply, state.ema_params)


def training_config(dataset: str, num_steps: int):
    """The training config of the diffusion and flow networks (score_sde's presets)."""
    config = sde_configs.get_config("toy2d" if dataset == "toy2d" else "cpu")
    config.progress = False
    if num_steps:
        config.num_steps = num_steps
    return config


class Quality:
    """Scores ``num`` samples against the test split with the experiments' scorer
    (:func:`experiments.common.sample_scorer`: SWD for points, FD in digits-classifier features
    for images), and holds its floor (train vs test) and noise values of the same size."""

    def __init__(self, train_ds, test_ds, workdir: str, num: int):
        scorer = common.sample_scorer(jax.random.key(0), train_ds, test_ds, workdir, num)
        self.metric, self.score = scorer.metric, scorer.distance
        baselines = scorer.baselines()
        self.floor = baselines[f"{self.metric}_floor"]
        self.noise = baselines[f"{self.metric}_noise"]


def run_dataset(dataset: str, args) -> dict:
    name = "toy2d/two_moons" if dataset == "toy2d" else "digits"
    train_ds, test_ds = data.load(name, "train"), data.load(name, "test")
    workdir = os.path.join(args.workdir, dataset)
    num = args.num_samples
    quality = Quality(train_ds, test_ds, workdir, num)
    shape = (num, *train_ds.example_shape)
    key = jax.random.key(args.seed)
    config = training_config(dataset, args.train_steps)
    curves: dict[str, list[float | None]] = {}

    def curve(make: Callable[[int], Callable | None]) -> list[float | None]:
        values = []
        for nfe in args.nfe:
            sample = make(nfe)
            try:
                values.append(
                    None if sample is None else quality.score(np.asarray(jax.jit(sample)(key)))
                )
            except jax.errors.JaxRuntimeError as error:  # the adaptive solver outgrew its budget
                if "maximum number of solver steps" not in str(error):
                    raise
                values.append(None)
        return values

    vp = VPPath()
    loss = functools.partial(ddpm.denoising_loss, path=vp, prediction="v")
    model_fn = train_model(config, os.path.join(workdir, "diffusion_v"), train_ds, loss)
    x_T = prior_draw(key, vp, shape)
    for sampler in DIFFUSION_SAMPLERS:
        start = time.perf_counter()
        curves[sampler] = curve(lambda nfe: diffusion_sampler(sampler, model_fn, vp, x_T, nfe))
        print(f"{dataset} {sampler}: {curves[sampler]} ({time.perf_counter() - start:.0f} s)")

    rf = RectifiedFlowPath()
    velocity_fn = train_model(
        config,
        os.path.join(workdir, "flow"),
        train_ds,
        functools.partial(flow_matching.flow_matching_loss, path=rf),
    )
    curves["flow_matching_euler"] = curve(
        lambda nfe: (
            lambda key: samplers.SAMPLERS["ode_euler"](
                key, velocity_fn, rf, shape, nfe=nfe, prediction="velocity", denoise_final=False
            )
        )
    )

    result = {"metric": quality.metric, "num_samples": num, "samplers": curves}
    result["floor"], result["noise"] = quality.floor, quality.noise
    if dataset == "digits":
        result.update(distilled_students(os.path.join(workdir, "distillation"), quality, key, num))
        curves["distilled_student"] = [result["students"].get(str(nfe)) for nfe in args.nfe]
    return result


def distilled_students(workdir: str, quality: Quality, key, num: int) -> dict:
    """Runs (or reuses) the progressive distillation and scores each round's student.

    The students sample by DDIM from ``ddim_sample``'s prior draw of ``key``: the same x_T
    as the other samplers of the digits."""
    if not os.path.exists(os.path.join(workdir, "metrics.json")):
        config = distillation_configs.get_config("cpu")
        config.progress = False
        distillation.train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.json")) as f:
        run = json.load(f)
    students = {}
    for name in run:
        if name.startswith("fd_digits_student_"):
            steps = int(name.rsplit("_", 1)[1])
            sample = jax.jit(distillation.load_student(workdir, steps).sample, static_argnums=1)
            students[str(steps)] = quality.score(np.asarray(sample(key, num)))
    return {"students": students, "distillation_run": run}


def goals(record: dict) -> dict:
    """The acceptance goals: fast solvers at 10 NFE vs 1000-step ancestral; student vs teacher."""
    out = {}
    nfe = record["nfe"]
    for dataset in ("toy2d", "digits"):
        if dataset not in record or 10 not in nfe or 1000 not in nfe:
            continue
        curves = record[dataset]["samplers"]
        reference = curves["ancestral"][nfe.index(1000)]
        best = min(
            value
            for name in ("edm_heun", "dpm_solver_pp_2m", "dpm_solver_pp_3m")
            if (value := curves[name][nfe.index(10)]) is not None
        )
        out[f"{dataset}_best_fast_solver_10nfe_over_ancestral_1000"] = best / reference
    digits = record.get("digits", {})
    if "4" in digits.get("students", {}):
        teacher = digits["distillation_run"]["fd_digits_teacher"]
        out["digits_student_4_over_teacher"] = digits["students"]["4"] / teacher
    return out


def plot(record: dict, png: str) -> None:
    datasets = [d for d in ("toy2d", "digits") if d in record]
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        result = record[dataset]
        colors = plt.cm.tab20(np.linspace(0.0, 1.0, len(result["samplers"])))
        for i, (name, values) in enumerate(result["samplers"].items()):
            points = [(n, v) for n, v in zip(record["nfe"], values) if v is not None]
            if points:  # 18 curves: 20 distinct colours, and two marker shapes
                ax.plot(*zip(*points), marker="os"[i % 2], color=colors[i], label=name)
        ax.axhline(result["floor"], color="gray", linestyle="--", label="train vs test")
        ax.set(xscale="log", yscale="log", xlabel="NFE", ylabel=result["metric"], title=dataset)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="runs/benchmarks/samplers")
    parser.add_argument("--datasets", nargs="+", default=["toy2d", "digits"])
    parser.add_argument("--nfe", type=int, nargs="+", default=list(NFES))
    parser.add_argument("--num-samples", type=int, default=NUM_SAMPLES)
    parser.add_argument("--train-steps", type=int, default=0, help="0: the presets' step counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overhead-only", action="store_true", help="only sampling_overhead")
    args = parser.parse_args()

    start = time.time()
    record = {"benchmark": "samplers", "nfe": args.nfe}
    record["sampling_overhead"] = sampling_overhead()
    if args.overhead_only:
        print(json.dumps(record["sampling_overhead"]))
        return
    for dataset in args.datasets:
        record[dataset] = run_dataset(dataset, args)
    record["goals"] = goals(record)
    record["wall_s"] = round(time.time() - start, 1)
    record["backend"] = jax.default_backend()
    os.makedirs(args.workdir, exist_ok=True)
    plot(record, os.path.join(args.workdir, "samplers.png"))
    with open(os.path.join(args.workdir, "samplers.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
