"""The pickled object inside a ``torch.save`` file, read without PyTorch and without executing
anything from the file (used by :mod:`zoo.weights.torch_pth`, which reads the two file layouts).

:class:`RestrictedUnpickler` resolves only ``collections.OrderedDict``, the tensor and parameter
rebuild functions, the ``torch.*Storage`` types and torch dtypes, each replaced by an inert
stand-in (:class:`Storage`, tensors, dtypes); any other global raises :class:`Refused`.
:func:`state_dict_of` finds the name -> tensor mapping in the unpickled object and
:func:`to_arrays` materialises its tensors as numpy arrays from their storages' bytes. A file that
cannot be read raises :class:`Unreadable` with the reason.
"""

from __future__ import annotations

import collections
import pickle
from typing import Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
PROTOCOL_VERSION = 1001                # torch.serialization.PROTOCOL_VERSION

# dtype name -> numpy little-endian dtype; "bfloat16" is read as uint16 and widened to float32.
_DTYPES = {
    "float64": "<f8", "float32": "<f4", "float16": "<f2", "bfloat16": "<u2",
    "complex128": "<c16", "complex64": "<c8",
    "int64": "<i8", "int32": "<i4", "int16": "<i2", "int8": "i1",
    "uint64": "<u8", "uint32": "<u4", "uint16": "<u2", "uint8": "u1", "bool": "?",
}
# torch.<name> dtype globals (aliases included) -> dtype name
_TORCH_DTYPES = {**{name: name for name in _DTYPES},
                 "double": "float64", "float": "float32", "half": "float16", "cdouble": "complex128",
                 "cfloat": "complex64", "long": "int64", "int": "int32", "short": "int16"}
# the legacy storage classes (torch.serialization: _dtype_to_storage_type_map) -> dtype name
_STORAGES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "ComplexDoubleStorage": "complex128", "ComplexFloatStorage": "complex64",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "UntypedStorage": "uint8",
}
_UNSUPPORTED_STORAGES = {"QInt8Storage", "QInt32Storage", "QUInt8Storage", "QUInt4x2Storage", "QUInt2x4Storage"}
_UNSUPPORTED_DTYPES = {"float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu",
                       "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "complex32",
                       "qint8", "qint32", "quint8", "quint4x2", "quint2x4"}


class Unreadable(Exception):
    """A reason the file cannot be read (becomes ``ValueError("cannot read <path>: <reason>")``)."""


class Refused(Exception):
    """A global the restricted unpickler does not resolve."""


# -- inert stand-ins for what the pickle refers to ----------------------------------------------------

class _StorageType:
    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


class _DType:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Storage:
    """A storage (or, in old legacy files, a view of one): ``numel`` elements of ``dtype`` from
    element ``offset`` of root storage ``key``."""
    __slots__ = ("key", "dtype", "offset", "numel")

    def __init__(self, key: str, dtype: str, offset: int, numel: int) -> None:
        self.key, self.dtype, self.offset, self.numel = key, dtype, offset, numel


class _Tensor:
    __slots__ = ("storage", "dtype", "offset", "size", "stride")

    def __init__(self, storage, dtype, offset, size, stride) -> None:
        self.storage, self.dtype, self.offset, self.size, self.stride = storage, dtype, offset, size, stride


def _int_tuple(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int for v in value):
        raise Unreadable(f"corrupt pickle: a tensor's {what} is {value!r}, not a tuple of ints")
    return tuple(value)


def _tensor(storage, storage_offset, size, stride, dtype: str | None = None) -> _Tensor:
    if not isinstance(storage, Storage):
        raise Unreadable("corrupt pickle: a tensor is rebuilt from something that is not a storage")
    if type(storage_offset) is not int or storage_offset < 0:
        raise Unreadable(f"corrupt pickle: a tensor's storage offset is {storage_offset!r}")
    size, stride = _int_tuple(size, "shape"), _int_tuple(stride, "stride")
    if len(size) != len(stride) or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise Unreadable(f"corrupt pickle: a tensor has shape {size} and strides {stride}")
    return _Tensor(storage, dtype or storage.dtype, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if metadata and any(metadata.values()):  # the conj / neg bits, which a real tensor never carries
        raise Unreadable(f"unsupported tensor metadata {metadata!r}")
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(dtype, _DType):
        raise Unreadable(f"corrupt pickle: a tensor's dtype is {dtype!r}")
    if metadata and any(metadata.values()):
        raise Unreadable(f"unsupported tensor metadata {metadata!r}")
    return _tensor(storage, storage_offset, size, stride, dtype.name)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _Tensor):
        raise Unreadable("corrupt pickle: a parameter wraps something that is not a tensor")
    return data


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a state dict needs; storages come from ``persistent_load``."""

    def __init__(self, file, on_storage=None) -> None:
        super().__init__(file, encoding="utf-8")  # encoding: as torch.load, for Python 2 pickles
        self._on_storage = on_storage

    def find_class(self, module: str, name: str):
        if (module, name) in _GLOBALS:
            return _GLOBALS[module, name]
        if module in ("torch", "torch.cuda", "torch.storage") and name in _STORAGES:
            return _StorageType(_STORAGES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _DType(_TORCH_DTYPES[name])
        if module in ("torch", "torch.cuda") and (name in _UNSUPPORTED_STORAGES or name in _UNSUPPORTED_DTYPES):
            raise Unreadable(f"unsupported dtype or storage torch.{name} (no numpy equivalent)")
        raise Refused(f"{module}.{name}")

    def persistent_load(self, pid):
        if self._on_storage is None:
            raise Unreadable("corrupt pickle: unexpected persistent id")
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise Unreadable(f"corrupt pickle: unsupported persistent id {pid!r:.80}")
        return self._on_storage(pid[1:])


def storage_fields(fields, n: int):
    if len(fields) != n:
        raise Unreadable(f"corrupt pickle: a storage id has {len(fields) + 1} fields, expected {n + 1}")
    storage_type, key, numel = fields[0], fields[1], fields[3]
    if not isinstance(storage_type, _StorageType):
        raise Unreadable(f"corrupt pickle: a storage's type is {storage_type!r:.80}")
    if isinstance(key, bytes):
        key = key.decode("ascii", "replace")
    if not isinstance(key, (str, int)) or type(numel) is not int or numel < 0:
        raise Unreadable("corrupt pickle: malformed storage id")
    return storage_type.dtype, str(key), numel


# -- materialising the tensors -------------------------------------------------------------------------

def item_size(dtype: str) -> int:
    return np.dtype(_DTYPES[dtype]).itemsize


def to_arrays(state: dict, roots: dict[str, tuple[str, int]], read_root, big_endian: bool = False) -> dict:
    """``state`` (name -> _Tensor) as name -> numpy array; ``read_root(key)`` gives the bytes of root
    storage ``key`` (``roots[key]`` = (dtype, numel))."""
    users = collections.Counter(t.storage.key for t in state.values())
    left = users.copy()
    buffers: dict[str, bytearray] = {}
    out = {}
    for name, t in state.items():
        key = t.storage.key
        if key not in buffers:
            buffers[key] = read_root(key)
        buf = buffers[key]
        left[key] -= 1
        if not left[key]:
            del buffers[key]
        dtype = np.dtype(_DTYPES[t.dtype])
        if big_endian:
            dtype = dtype.newbyteorder(">")
        # (a legacy storage view starts `t.storage.offset` elements into its root)
        start = t.storage.offset * item_size(t.storage.dtype) + t.offset * dtype.itemsize
        stop = start
        if all(t.size):
            stop += (sum((n - 1) * s for n, s in zip(t.size, t.stride)) + 1) * dtype.itemsize
        view_stop = (t.storage.offset + t.storage.numel) * item_size(t.storage.dtype)
        if all(t.size) and stop > min(view_stop, len(buf)):  # (an empty tensor reads nothing, wherever it is)
            raise Unreadable(f"corrupt file: tensor {name!r} (offset {t.offset}, shape {t.size}, strides {t.stride}) "
                             f"reaches past the end of its storage")
        final = np.dtype(np.float32) if t.dtype == "bfloat16" else dtype.newbyteorder("=")
        if not all(t.size):
            out[name] = np.empty(t.size, dtype=final)
            continue
        flat = np.frombuffer(buf, dtype=dtype, count=(len(buf) - start) // dtype.itemsize, offset=start)
        array = np.lib.stride_tricks.as_strided(flat, shape=t.size, strides=[s * dtype.itemsize for s in t.stride])
        if t.dtype == "bfloat16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        elif not dtype.isnative:
            array = array.astype(final)
        elif (users[key] == 1 and start == 0 and stop == len(buf) and array.flags.c_contiguous
              and flat.size == array.size):
            array = flat.reshape(t.size)  # the tensor is its whole storage: keep the buffer, no copy
        else:
            array = array.copy()
        out[name] = array
    return out


def state_dict_of(obj: Any) -> dict:
    """The name -> _Tensor mapping in ``obj`` (unwrapping {"state_dict": ...} / {"model": ...})."""
    def is_state(value):
        return (isinstance(value, dict) and all(isinstance(k, str) for k in value)
                and all(isinstance(v, _Tensor) for v in value.values()))

    if not isinstance(obj, dict):
        raise Unreadable(f"not a state dict: the file holds a {_kind(obj)}, not a mapping of names to tensors")
    if is_state(obj):
        return obj
    wrapped = [w for w in ("state_dict", "model") if isinstance(obj.get(w), dict)]
    for wrapper in wrapped:
        if is_state(obj[wrapper]):
            return obj[wrapper]
    candidate, where = (obj[wrapped[0]], f" under {wrapped[0]!r}") if wrapped else (obj, "")
    for k, v in candidate.items():
        if not isinstance(k, str):
            raise Unreadable(f"not a state dict: key {k!r:.60}{where} is not a string")
        if not isinstance(v, _Tensor):
            raise Unreadable(f"not a state dict: entry {k!r:.60}{where} is a {_kind(v)}, not a tensor")
    raise Unreadable("not a state dict")  # unreachable: `candidate` is not a state dict


def _kind(value) -> str:
    return {Storage: "storage", _StorageType: "storage type", _DType: "dtype"}.get(type(value), type(value).__name__)


def unpickle(f, on_storage=None):
    try:
        return RestrictedUnpickler(f, on_storage).load()
    except (Unreadable, Refused):
        raise
    except EOFError:
        raise Unreadable("truncated file: the pickle ends early") from None
    except pickle.UnpicklingError as exc:
        if "truncated" in str(exc):
            raise Unreadable("truncated file: the pickle ends early") from None
        raise Unreadable(f"corrupt pickle ({exc})") from None
    except Exception as exc:  # whatever a malformed pickle makes the unpickler raise
        raise Unreadable(f"corrupt pickle ({type(exc).__name__}: {exc})") from None
