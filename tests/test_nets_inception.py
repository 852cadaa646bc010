"""FID Inception-v3: the Flax network against a float64 NumPy implementation written from the
architecture description (random weights), and the weights files (npz, PyTorch checkpoints)."""

import io
import os
import pickle
import struct
import zipfile

import jax
import numpy as np
import pytest

from gendiff.nets.inception import (
    FIDInceptionV3,
    flatten,
    random_variables,
    resize_bilinear,
    variable_shapes,
)
from gendiff.nets.inception_weights import (
    convert_state_dict,
    load_inception_variables,
    save_inception_variables,
)
from gendiff.nets.torch_checkpoint import LEGACY_MAGIC, read_state_dict

# ----------------------------------------------------------------------------- float64 reference


def ref_resize(x, size):
    """PyTorch's bilinear, align_corners=False: src = (i + 0.5) * in / out - 0.5, clamped at 0."""

    def matrix(n_in):
        m = np.zeros((size, n_in))
        for i in range(size):
            src = max((i + 0.5) * n_in / size - 0.5, 0.0)
            i0 = min(int(np.floor(src)), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            frac = src - i0
            m[i, i0] += 1.0 - frac
            m[i, i1] += frac
        return m

    return np.einsum("ih,jw,nhwc->nijc", matrix(x.shape[1]), matrix(x.shape[2]), x, optimize=True)


def ref_conv(v, name, x, stride=(1, 1), pad=(0, 0)):
    """BasicConv2d: cross-correlation without bias, BatchNorm (eps 1e-3), ReLU."""
    p, s = v["params"][name], v["batch_stats"][name]
    w = np.asarray(p["conv"]["kernel"], np.float64)  # (kh, kw, in, out)
    kh, kw = w.shape[:2]
    x = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    win = win[:, :: stride[0], :: stride[1]]  # (n, ho, wo, c, kh, kw)
    y = np.einsum("nhwcij,ijco->nhwo", win, w, optimize=True)
    bn = {k: np.asarray(a, np.float64) for k, a in {**p["bn"], **s["bn"]}.items()}
    y = (y - bn["mean"]) / np.sqrt(bn["var"] + 1e-3) * bn["scale"] + bn["bias"]
    return np.maximum(y, 0.0)


def ref_max_pool(x, stride, pad):
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))
    return win[:, ::stride, ::stride].max(axis=(-2, -1))


def ref_avg_pool_exclude_pad(x):
    """3x3, stride 1, pad 1; each mean over the pixels inside the image only."""
    n, h, w, c = x.shape
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            patch = x[:, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            out[:, i, j] = patch.mean(axis=(1, 2))
    return out


def ref_block_a(v, x):
    c = lambda name, y, **kw: ref_conv(v, name, y, **kw)
    b1 = c("branch1x1", x)
    b5 = c("branch5x5_2", c("branch5x5_1", x), pad=(2, 2))
    b3 = c("branch3x3dbl_1", x)
    b3 = c("branch3x3dbl_3", c("branch3x3dbl_2", b3, pad=(1, 1)), pad=(1, 1))
    bp = c("branch_pool", ref_avg_pool_exclude_pad(x))
    return np.concatenate([b1, b5, b3, bp], axis=-1)


def ref_block_b(v, x):
    c = lambda name, y, **kw: ref_conv(v, name, y, **kw)
    b3 = c("branch3x3", x, stride=(2, 2))
    bd = c("branch3x3dbl_2", c("branch3x3dbl_1", x), pad=(1, 1))
    bd = c("branch3x3dbl_3", bd, stride=(2, 2))
    return np.concatenate([b3, bd, ref_max_pool(x, 2, 0)], axis=-1)


def ref_block_c(v, x):
    c = lambda name, y, **kw: ref_conv(v, name, y, **kw)
    row, col = {"pad": (0, 3)}, {"pad": (3, 0)}  # 1x7 and 7x1
    b1 = c("branch1x1", x)
    b7 = c("branch7x7_3", c("branch7x7_2", c("branch7x7_1", x), **row), **col)
    bd = c("branch7x7dbl_1", x)
    bd = c("branch7x7dbl_3", c("branch7x7dbl_2", bd, **col), **row)
    bd = c("branch7x7dbl_5", c("branch7x7dbl_4", bd, **col), **row)
    bp = c("branch_pool", ref_avg_pool_exclude_pad(x))
    return np.concatenate([b1, b7, bd, bp], axis=-1)


def ref_block_d(v, x):
    c = lambda name, y, **kw: ref_conv(v, name, y, **kw)
    b3 = c("branch3x3_2", c("branch3x3_1", x), stride=(2, 2))
    b7 = c("branch7x7x3_2", c("branch7x7x3_1", x), pad=(0, 3))
    b7 = c("branch7x7x3_4", c("branch7x7x3_3", b7, pad=(3, 0)), stride=(2, 2))
    return np.concatenate([b3, b7, ref_max_pool(x, 2, 0)], axis=-1)


def ref_block_e(v, x, max_pool):
    c = lambda name, y, **kw: ref_conv(v, name, y, **kw)
    b1 = c("branch1x1", x)
    b3 = c("branch3x3_1", x)
    b3 = np.concatenate([c("branch3x3_2a", b3, pad=(0, 1)), c("branch3x3_2b", b3, pad=(1, 0))], -1)
    bd = c("branch3x3dbl_2", c("branch3x3dbl_1", x), pad=(1, 1))
    bd = np.concatenate(
        [c("branch3x3dbl_3a", bd, pad=(0, 1)), c("branch3x3dbl_3b", bd, pad=(1, 0))], -1
    )
    pooled = ref_max_pool(x, 1, 1) if max_pool else ref_avg_pool_exclude_pad(x)
    return np.concatenate([b1, b3, bd, c("branch_pool", pooled)], axis=-1)


def sub(v, name):
    return {"params": v["params"][name], "batch_stats": v["batch_stats"][name]}


def ref_forward(v, images):
    """(pool3, logits, {block: output}) in float64."""
    x = 2.0 * ref_resize(np.asarray(images, np.float64), 299) - 1.0
    x = ref_conv(v, "Conv2d_1a_3x3", x, stride=(2, 2))
    x = ref_conv(v, "Conv2d_2a_3x3", x)
    x = ref_max_pool(ref_conv(v, "Conv2d_2b_3x3", x, pad=(1, 1)), 2, 0)
    x = ref_conv(v, "Conv2d_4a_3x3", ref_conv(v, "Conv2d_3b_1x1", x))
    blocks = {"stem": (x := ref_max_pool(x, 2, 0))}
    for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        blocks[name] = x = ref_block_a(sub(v, name), x)
    blocks["Mixed_6a"] = x = ref_block_b(sub(v, "Mixed_6a"), x)
    for name in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        blocks[name] = x = ref_block_c(sub(v, name), x)
    blocks["Mixed_7a"] = x = ref_block_d(sub(v, "Mixed_7a"), x)
    blocks["Mixed_7b"] = x = ref_block_e(sub(v, "Mixed_7b"), x, max_pool=False)
    blocks["Mixed_7c"] = x = ref_block_e(sub(v, "Mixed_7c"), x, max_pool=True)
    pool3 = x.mean(axis=(1, 2))
    fc = v["params"]["fc"]
    logits = pool3 @ np.asarray(fc["kernel"], np.float64) + np.asarray(fc["bias"], np.float64)
    return pool3, logits, blocks


def relative_errors(actual, expected):
    """(max |a - e| / |e| over entries with |e| > 1e-3 max |e|, max |a - e| / max |e|)."""
    expected = np.asarray(expected, np.float64)
    diff = np.abs(np.asarray(actual, np.float64) - expected)
    scale = np.max(np.abs(expected))
    big = np.abs(expected) > 1e-3 * scale
    return float(np.max(diff[big] / np.abs(expected[big]))), float(np.max(diff) / scale)


# ----------------------------------------------------------------------------- network


@pytest.fixture(scope="module")
def variables():
    return random_variables(seed=0)


def test_resize_matches_pytorch_bilinear_formula():
    x = np.random.default_rng(0).uniform(size=(1, 320, 310, 3)).astype(np.float32)
    # Source coordinates near 300 in float32 are off by ~3e-5 pixel (PyTorch computes them in
    # float32 too), hence 1e-4 (measured 2.9e-5 at 310 -> 299); a wrong formula errs by ~0.1.
    for size in (299, 350):  # down- and up-sampling, H != W
        np.testing.assert_allclose(
            np.asarray(resize_bilinear(x, size)), ref_resize(x, size), rtol=0, atol=1e-4
        )


def test_pool_features_match_float64_reference(variables):
    # Two 40x52 images (non-square: exercises H/W order in the resize) in [0, 1], random weights.
    images = np.random.default_rng(1).uniform(size=(2, 40, 52, 3)).astype(np.float32)
    def both(v, x):  # the Inception Score's logits leave out the bias (one forward after CSE)
        return FIDInceptionV3().apply(v, x, return_blocks=True), FIDInceptionV3(
            logits_bias=False
        ).apply(v, x)

    (pool3, logits, blocks), (_, unbiased_logits) = jax.jit(both)(variables, images)
    ref_pool3, ref_logits, ref_blocks = ref_forward(variables, images)
    bias = np.asarray(variables["params"]["fc"]["bias"])
    np.testing.assert_allclose(unbiased_logits, np.asarray(logits) - bias, atol=1e-5)
    assert np.abs(bias).max() > 1e-3  # a bias that would show
    shapes = {name: out.shape[1:] for name, out in blocks.items()}
    assert shapes["Mixed_5b"] == (35, 35, 256)
    assert shapes["Mixed_6a"] == (17, 17, 768)
    assert shapes["Mixed_7a"] == (8, 8, 1280)
    assert shapes["Mixed_7c"] == (8, 8, 2048)
    assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
    errors = {name: relative_errors(blocks[name], ref_blocks[name]) for name in ref_blocks}
    errors["pool3"] = relative_errors(pool3, ref_pool3)
    errors["logits"] = relative_errors(logits, ref_logits)
    print({k: f"{e[0]:.1e}/{e[1]:.1e}" for k, e in errors.items()})
    assert float(np.std(ref_pool3)) > 1e-2  # random weights keep the activations alive
    assert np.mean(ref_pool3 > 0) > 0.8  # most channels alive (measured 0.88)
    # pool3: elementwise (entries above 1e-3 of the largest); blocks and logits: relative to the
    # largest magnitude.
    assert errors["pool3"][0] < 1e-4, errors["pool3"]
    assert all(e[1] < 1e-4 for e in errors.values()), errors


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((8, 8, 3)), r"\(num_images, H, W, 3\)"),  # rank
        (np.zeros((1, 8, 8, 1)), r"\(num_images, H, W, 3\)"),  # channels
        (np.full((1, 8, 8, 3), 2.0), r"in \[0, 1\]"),  # range
    ],
)
def test_network_rejects_bad_images(variables, images, match):
    with pytest.raises(ValueError, match=match):
        FIDInceptionV3().apply(variables, images)


# ----------------------------------------------------------------------------- weights files


def random_state_dict(seed=0):
    """pytorch-fid's state dict names and shapes (PyTorch layouts), random float32 values."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in variable_shapes().items():
        collection, *module, leaf = name.split("/")
        prefix = ".".join(module)
        if prefix == "fc":
            state[f"fc.{'weight' if leaf == 'kernel' else 'bias'}"] = rng.normal(
                size=shape[::-1] if leaf == "kernel" else shape
            )
        elif leaf == "kernel":
            state[f"{prefix}.weight"] = rng.normal(size=(shape[3], shape[2], *shape[:2]))
        else:
            torch_leaf = {"scale": "weight", "bias": "bias", "mean": "running_mean"}
            state[f"{prefix}.{torch_leaf.get(leaf, 'running_var')}"] = rng.uniform(
                0.5, 1.5, size=shape
            )
            if leaf == "var":
                state[f"{prefix}.num_batches_tracked"] = np.array(7, np.int64)
    return {k: np.asarray(v, np.float32) if v.dtype == np.float64 else v for k, v in state.items()}


class _PickleWriter:
    """Protocol-2 opcodes of the pickles torch.save writes (no torch needed to produce them)."""

    def __init__(self):
        self.out = io.BytesIO(b"\x80\x02")

    def op(self, code: bytes):
        self.out.write(code)

    def glob(self, module, name):
        self.op(f"c{module}\n{name}\n".encode())

    def str(self, s):
        data = s.encode()
        self.op(b"X" + struct.pack("<I", len(data)) + data)

    def int(self, i):
        self.op(b"J" + struct.pack("<i", i))

    def tuple(self, items, emit):
        self.op(b"(")
        for item in items:
            emit(item)
        self.op(b"t")

    def ordered_dict(self):
        self.glob("collections", "OrderedDict")
        self.op(b")R")


def write_torch_pickle(state, legacy: bool, payload=None) -> bytes:
    """data.pkl of ``torch.save(state)``: OrderedDict of _rebuild_tensor_v2(storage, ...) calls."""
    w = _PickleWriter()
    w.ordered_dict()
    w.op(b"(")
    dtype_names = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}
    for key, (name, value) in enumerate(state.items()):
        w.str(name)
        if payload is not None and key == 0:
            payload(w)
            continue
        w.glob("torch._utils", "_rebuild_tensor_v2")
        w.op(b"(")
        # Persistent id ('storage', type, key, location, numel[, view metadata]).
        w.op(b"(")
        w.str("storage")
        w.glob("torch", dtype_names[value.dtype])
        w.str(str(key))
        w.str("cpu")
        w.int(value.size)
        if legacy:
            w.op(b"N")
        w.op(b"tQ")
        w.int(0)  # storage offset
        w.tuple(value.shape, w.int)
        strides = [s // value.itemsize for s in value.strides]
        w.tuple(strides, w.int)
        w.op(b"\x89")  # requires_grad False
        w.ordered_dict()  # backward hooks
        w.op(b"tR")
    w.op(b"u.")
    return w.out.getvalue()


def write_checkpoint(path, state, legacy=False, payload=None):
    values = [np.ascontiguousarray(v) for v in state.values()]
    data = write_torch_pickle(dict(zip(state, values)), legacy, payload)
    if not legacy:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", data)
            archive.writestr("archive/byteorder", "little")
            archive.writestr("archive/version", "3\n")
            for key, value in enumerate(values):
                archive.writestr(f"archive/data/{key}", value.tobytes())
        return
    with open(path, "wb") as f:
        for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
            f.write(pickle.dumps(header, protocol=2))
        f.write(data)
        f.write(pickle.dumps([str(k) for k in range(len(values))], protocol=2))
        for value in values:
            f.write(struct.pack("<q", value.size) + value.tobytes())


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_checkpoint_round_trip(tmp_path, legacy):
    state = random_state_dict()
    path = tmp_path / "pt_inception.pth"
    write_checkpoint(path, state, legacy=legacy)
    read = read_state_dict(path)
    assert list(read) == list(state)
    for name, value in state.items():
        np.testing.assert_array_equal(read[name], value, err_msg=name)
    v = load_inception_variables(str(path))
    k = v["params"]["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"]  # (1, 7, 128, 128)
    np.testing.assert_array_equal(
        k, state["Mixed_6b.branch7x7_2.conv.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(v["params"]["fc"]["kernel"], state["fc.weight"].T)
    np.testing.assert_array_equal(
        v["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]["var"],
        state["Mixed_7c.branch_pool.bn.running_var"],
    )
    # npz round trip in the project's layout.
    save_inception_variables(tmp_path / "w.npz", v)
    again = flatten(load_inception_variables(str(tmp_path / "w.npz")))
    for name, value in flatten(v).items():
        np.testing.assert_array_equal(again[name], value)


def test_non_tensor_payload_is_refused(tmp_path):
    state = {"Conv2d_1a_3x3.conv.weight": np.zeros((32, 3, 3, 3), np.float32)}

    def os_system(w):  # os.system('true') in place of the first tensor
        w.glob("os", "system")
        w.tuple(["true"], w.str)
        w.op(b"R")

    for legacy in (False, True):
        path = tmp_path / f"evil{legacy}.pth"
        write_checkpoint(path, state, legacy=legacy, payload=os_system)
        with pytest.raises(ValueError, match=r"refusing to load the global os\.system"):
            read_state_dict(path)
    # A pickle of a plain object (no tensor at all) is refused as well.
    path = tmp_path / "plain.pth"
    path.write_bytes(pickle.dumps({"a": [1, 2]}))
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint|not a tensor"):
        read_state_dict(path)


def test_wrong_shapes_name_the_first_mismatching_parameter(tmp_path):
    state = random_state_dict()
    state["Mixed_6c.branch7x7_2.conv.weight"] = np.zeros((160, 160, 7, 1), np.float32)  # 7x1
    path = tmp_path / "bad.pth"
    write_checkpoint(path, state)
    with pytest.raises(
        ValueError, match=r"params/Mixed_6c/branch7x7_2/conv/kernel must have shape \(1, 7"
    ):
        load_inception_variables(str(path))
    del state["Mixed_6c.branch7x7_2.conv.weight"]
    with pytest.raises(ValueError, match="unexpected entry 'AuxLogits"):
        convert_state_dict({**state, "AuxLogits.fc.weight": np.zeros((1000, 768))})
    flat = {name: np.zeros(shape, np.float32) for name, shape in variable_shapes().items()}
    del flat["batch_stats/Mixed_5b/branch_pool/bn/mean"]
    np.savez(tmp_path / "missing.npz", **flat)
    with pytest.raises(ValueError, match="batch_stats/Mixed_5b/branch_pool/bn/mean .* missing"):
        load_inception_variables(str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match=r"\.npz or a \.pth"):
        (tmp_path / "w.bin").write_bytes(b"")
        load_inception_variables(str(tmp_path / "w.bin"))


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None, reason="PyTorch is not installed"
)
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reads_files_written_by_torch_save(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    base = torch.arange(10, dtype=torch.float32)
    tensors = {
        "offset_view": base[3:],  # storage offset 3
        "shared": base,  # the same storage again
        "transposed": torch.randn(3, 4, dtype=torch.float64).t(),  # strides (1, 4)
        "int64": torch.tensor(7),
        "half": torch.randn(2, 3).half(),
        "bfloat16": torch.randn(5).bfloat16(),
        "empty": torch.zeros(0, 3),
    }
    path = os.path.join(tmp_path, "t.pth")
    torch.save(tensors, path, _use_new_zipfile_serialization=zip_format)
    read = read_state_dict(path)
    assert list(read) == list(tensors)
    for name, value in tensors.items():
        expected = value.float().numpy() if name == "bfloat16" else value.numpy()
        assert read[name].shape == tuple(value.shape), name
        np.testing.assert_array_equal(read[name].astype(expected.dtype), expected, err_msg=name)
    torch.save({"f": torch.nn.Linear(2, 2)}, path)  # a module: refused, not unpickled
    with pytest.raises(ValueError, match="refusing to load the global torch.nn"):
        read_state_dict(path)


# ----------------------------------------------------------------------------- optional: PyTorch


def torch_forward(torch, v, images):
    """pool3 of pytorch-fid's network built from torch ops (skipped when PyTorch is absent)."""
    F = torch.nn.functional
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))

    def conv(p, x, stride=1, pad=0):
        prm, st = p
        w = t(prm["conv"]["kernel"]).permute(3, 2, 0, 1)  # (out, in, kh, kw)
        x = F.conv2d(x, w, stride=stride, padding=pad)
        bn = (t(st["bn"]["mean"]), t(st["bn"]["var"]), t(prm["bn"]["scale"]), t(prm["bn"]["bias"]))
        return F.relu(F.batch_norm(x, bn[0], bn[1], bn[2], bn[3], training=False, eps=1e-3))

    def block(name):
        prm, st = v["params"][name], v["batch_stats"][name]
        return lambda branch, x, **kw: conv((prm[branch], st[branch]), x, **kw)

    avg = lambda x: F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    cat = lambda *xs: torch.cat(xs, dim=1)
    x = t(images).permute(0, 3, 1, 2)
    x = 2.0 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1.0
    stem = lambda name, x, **kw: conv((v["params"][name], v["batch_stats"][name]), x, **kw)
    x = stem("Conv2d_2a_3x3", stem("Conv2d_1a_3x3", x, stride=2))
    x = F.max_pool2d(stem("Conv2d_2b_3x3", x, pad=1), 3, 2)
    x = F.max_pool2d(stem("Conv2d_4a_3x3", stem("Conv2d_3b_1x1", x)), 3, 2)
    for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        c = block(name)
        x = cat(
            c("branch1x1", x),
            c("branch5x5_2", c("branch5x5_1", x), pad=2),
            c("branch3x3dbl_3", c("branch3x3dbl_2", c("branch3x3dbl_1", x), pad=1), pad=1),
            c("branch_pool", avg(x)),
        )
    c = block("Mixed_6a")
    x = cat(
        c("branch3x3", x, stride=2),
        c("branch3x3dbl_3", c("branch3x3dbl_2", c("branch3x3dbl_1", x), pad=1), stride=2),
        F.max_pool2d(x, 3, 2),
    )
    for name in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        c = block(name)
        b7 = c("branch7x7_3", c("branch7x7_2", c("branch7x7_1", x), pad=(0, 3)), pad=(3, 0))
        bd = c("branch7x7dbl_2", c("branch7x7dbl_1", x), pad=(3, 0))
        bd = c("branch7x7dbl_4", c("branch7x7dbl_3", bd, pad=(0, 3)), pad=(3, 0))
        bd = c("branch7x7dbl_5", bd, pad=(0, 3))
        x = cat(c("branch1x1", x), b7, bd, c("branch_pool", avg(x)))
    c = block("Mixed_7a")
    b7 = c("branch7x7x3_3", c("branch7x7x3_2", c("branch7x7x3_1", x), pad=(0, 3)), pad=(3, 0))
    x = cat(
        c("branch3x3_2", c("branch3x3_1", x), stride=2),
        c("branch7x7x3_4", b7, stride=2),
        F.max_pool2d(x, 3, 2),
    )
    for name, pool in (("Mixed_7b", avg), ("Mixed_7c", lambda y: F.max_pool2d(y, 3, 1, 1))):
        c = block(name)
        b3 = c("branch3x3_1", x)
        bd = c("branch3x3dbl_2", c("branch3x3dbl_1", x), pad=1)
        x = cat(
            c("branch1x1", x),
            c("branch3x3_2a", b3, pad=(0, 1)),
            c("branch3x3_2b", b3, pad=(1, 0)),
            c("branch3x3dbl_3a", bd, pad=(0, 1)),
            c("branch3x3dbl_3b", bd, pad=(1, 0)),
            c("branch_pool", pool(x)),
        )
    return x.mean(dim=(2, 3)).numpy()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None, reason="PyTorch is not installed"
)
def test_pool_features_match_pytorch_ops(variables):
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(1).uniform(size=(2, 40, 52, 3)).astype(np.float32)
    pool3, _ = jax.jit(FIDInceptionV3().apply)(variables, images)
    expected = torch_forward(torch, variables, images)
    error = relative_errors(pool3, expected)
    print(f"pool3 vs PyTorch ops (float64): {error[0]:.1e} elementwise, {error[1]:.1e} of max")
    assert error[0] < 1e-4, error
