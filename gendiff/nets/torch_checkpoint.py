"""A reader of PyTorch checkpoints (tensors only) that needs no PyTorch and runs no pickled code.

``torch.save`` writes a pickle whose tensors point at raw storage records. Loading it with
``pickle`` would let the file call any importable function (``os.system`` included). This reader
unpickles with a restricted unpickler: the only globals it resolves are

- ``collections.OrderedDict`` (the state dict itself),
- ``torch._utils._rebuild_tensor_v2`` and ``torch._utils._rebuild_parameter`` (tensors),
- the typed storage classes ``torch.FloatStorage``, ``torch.DoubleStorage``, ... (dtypes),

each mapped to a local constructor that builds NumPy arrays from the storage bytes. Any other
global, or a persistent id that is not a storage, raises ValueError naming it.

Both layouts of ``torch.save`` are read: the zip archive (PyTorch >= 1.6: ``<name>/data.pkl`` plus
one ``<name>/data/<key>`` record per storage) and the legacy stream (magic number, protocol, system
info, the pickle, the list of storage keys, then each storage as an int64 element count followed
by its bytes).
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from typing import Any

import ml_dtypes
import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_ALLOWED = (
    "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, "
    f"torch.{{{', '.join(_STORAGE_DTYPES)}}}"
)


class _StorageType:
    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage record: dtype, element count and (once read) its bytes as a 1-d array."""

    def __init__(self, dtype: np.dtype, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, int(numel)
        self.array: np.ndarray | None = None
        self.view_of: tuple[_Storage, int] | None = None  # legacy views: (root, element offset)

    def resolved(self) -> np.ndarray:
        if self.view_of is not None:
            root, offset = self.view_of
            return root.resolved()[offset : offset + self.numel]
        if self.array is None:
            raise ValueError(f"checkpoint storage {self.key!r} has no data record.")
        return self.array


class _Tensor:
    """A tensor waiting for its storage's bytes: storage, element offset, size, stride."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise ValueError(f"a tensor's storage must be a storage record, got {type(storage)}.")
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def to_numpy(self) -> np.ndarray:
        flat = self.storage.resolved()
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, flat.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or min(self.stride, default=0) < 0 or last >= flat.size:
            raise ValueError(
                f"tensor of size {self.size}, stride {self.stride} at offset {self.offset} lies "
                f"outside its storage of {flat.size} elements."
            )
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :], self.size, tuple(s * item for s in self.stride), writeable=False
        )
        return np.array(view)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *meta):
    del requires_grad, hooks, meta
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, hooks=None, *meta):
    del requires_grad, hooks, meta
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals listed in the module docstring; storages via persistent ids."""

    def __init__(self, file, legacy: bool):
        super().__init__(file)
        self.legacy = legacy
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise ValueError(
            f"refusing to load the global {module}.{name} from the checkpoint: only tensors are "
            f"read (allowed globals: {_ALLOWED}). The file is not a plain state dict of tensors."
        )

    def persistent_load(self, pid) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise ValueError(
                f"refusing the persistent id {pid!r}: only ('storage', ...) records are read."
            )
        storage_type, key, _, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"unknown storage type {storage_type!r} in the checkpoint.")
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, key, numel)
        root = self.storages[key]
        view = pid[5] if self.legacy and len(pid) > 5 else None
        if view is None:
            return root
        view_key, offset, view_size = view
        storage = _Storage(storage_type.dtype, str(view_key), view_size)
        storage.view_of = (root, int(offset))
        return storage


def _read_zip(path: str) -> tuple[Any, dict[str, _Storage]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path}: a PyTorch zip checkpoint holds one data.pkl, got {pickles}.")
        prefix = pickles[0][: -len("data.pkl")]
        order = "little"
        if f"{prefix}byteorder" in names:
            order = archive.read(f"{prefix}byteorder").decode().strip()
        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), legacy=False)
        obj = unpickler.load()
        for key, storage in unpickler.storages.items():
            record = f"{prefix}data/{key}"
            if record not in names:
                raise ValueError(f"{path}: storage record {record!r} is missing.")
            dtype = storage.dtype.newbyteorder("<" if order == "little" else ">")
            raw = archive.read(record)
            if len(raw) < storage.numel * dtype.itemsize:
                raise ValueError(f"{path}: storage record {record!r} is truncated.")
            array = np.frombuffer(raw, dtype, count=storage.numel)
            storage.array = array.astype(storage.dtype)
    return obj, unpickler.storages


def _read_legacy(path: str) -> tuple[Any, dict[str, _Storage]]:
    with open(path, "rb") as f:
        header = [_RestrictedUnpickler(f, legacy=True).load() for _ in range(3)]
        if header[0] != LEGACY_MAGIC:
            raise ValueError(
                f"{path} is neither a PyTorch zip checkpoint nor a legacy torch.save stream."
            )
        unpickler = _RestrictedUnpickler(f, legacy=True)
        obj = unpickler.load()
        keys = _RestrictedUnpickler(f, legacy=True).load()
        for key in keys:
            storage = unpickler.storages[str(key)]
            numel = int(np.frombuffer(f.read(8), "<i8")[0])
            raw = f.read(numel * storage.dtype.itemsize)
            if len(raw) < numel * storage.dtype.itemsize:
                raise ValueError(f"{path}: storage {key!r} is truncated.")
            storage.array = np.frombuffer(raw, storage.dtype.newbyteorder("<")).astype(
                storage.dtype
            )
    return obj, unpickler.storages


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """{name: NumPy array} of a ``torch.save``-d state dict, read without PyTorch.

    Args:
      path: a ``.pth``/``.pt`` file written by ``torch.save(state_dict, path)`` (zip or legacy).

    Returns:
      An ordinary dict of NumPy arrays, in the file's order.

    Raises:
      ValueError: the file needs any global other than the allowed ones (e.g. ``os.system``), its
        top-level object is not a mapping of names to tensors, or a record is missing.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "bad.pth")
      >>> with open(path, "wb") as f:
      ...     f.write(b"cos\\nsystem\\n(S'true'\\ntR.")  # a pickle calling os.system('true')
      23
      >>> read_state_dict(path)
      Traceback (most recent call last):
      ...
      ValueError: refusing to load the global os.system from the checkpoint: ...
    """
    path = str(path)
    try:
        obj, _ = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        if isinstance(error, ValueError) and "refusing" in str(error):
            raise
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({error}).") from error
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state dict (name -> tensor), got {type(obj)}.")
    state = {}
    for name, value in obj.items():
        if not isinstance(value, _Tensor):
            raise ValueError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor.")
        try:
            state[str(name)] = value.to_numpy()
        except (AttributeError, TypeError, IndexError) as error:  # a tampered tensor record
            raise ValueError(f"{path}: entry {name!r} is not a valid tensor ({error}).") from error
    return state
