"""Reads a legacy (pre-1.6, non-zip) `torch.save` file without torch.

Resemblyzer's `pretrained.pt` is such a file: five pickles in a row (magic
number, protocol version, system info, the object, the list of storage keys),
then each storage's raw bytes, preceded by its element count as int64. Tensors
in the object are persistent references to those storages, rebuilt with
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.

Only what a checkpoint of plain tensors needs is allowed through the
unpickler (storage types, the tensor rebuild function, OrderedDict); any
other global stops the load, so a changed file cannot run code here.

Usage: loadpt.py FILE.pt    (prints the tensors of `model_state`)
As a module: load(path) -> the object, tensors as numpy arrays (copies).
"""
import collections
import pickle
import struct
import sys

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Tensor:
    """Placeholder for a tensor until its storage's bytes have been read."""
    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *_):
    return _Tensor(storage, offset, size, stride)


class _Plain(pickle.Unpickler):
    """The header pickles: numbers and dicts only."""
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a torch header")


class _Checkpoint(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f, encoding="latin1")
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a weights file")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel, view_metadata)
        if pid[0] != "storage" or (len(pid) > 5 and pid[5] is not None):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid[:2]}")
        self.storages[pid[2]] = STORAGE_DTYPES[pid[1]]
        return pid[2]


def load(path):
    with open(path, "rb") as f:
        if _Plain(f).load() != MAGIC:
            raise ValueError(f"{path}: not a legacy torch.save file")
        if _Plain(f).load() != PROTOCOL:
            raise ValueError(f"{path}: unsupported torch.save protocol")
        info = _Plain(f).load()
        if not info.get("little_endian", True):
            raise ValueError(f"{path}: big-endian file")
        storages = {}
        obj = _Checkpoint(f, storages).load()
        data = {}
        for key in _Plain(f).load():
            dtype = np.dtype(storages[key]).newbyteorder("<")
            (n,) = struct.unpack("<q", f.read(8))
            raw = f.read(n * dtype.itemsize)
            if len(raw) != n * dtype.itemsize:
                raise ValueError(f"{path}: truncated storage {key}")
            data[key] = np.frombuffer(raw, dtype=dtype)

    def convert(o):
        if isinstance(o, _Tensor):
            a = data[o.key]
            view = np.lib.stride_tricks.as_strided(
                a[o.offset:], o.size, [s * a.itemsize for s in o.stride], writeable=False)
            return np.array(view, dtype=a.dtype.newbyteorder("="))
        if isinstance(o, dict):
            return type(o)((k, convert(v)) for k, v in o.items())
        if isinstance(o, (list, tuple)):
            return type(o)(convert(v) for v in o)
        return o

    return convert(obj)


def main():
    ck = load(sys.argv[1])
    print({k: v for k, v in ck.items() if k not in ("model_state", "optimizer_state")})
    for k, v in ck["model_state"].items():
        print(f"{k:24} {str(v.shape):14} {v.dtype}  mean|x| {float(np.abs(v).mean()):.6f}")


if __name__ == "__main__":
    main()
