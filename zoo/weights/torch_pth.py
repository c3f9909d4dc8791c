"""Read a PyTorch state dict (``torch.save`` output, e.g. torchvision's published ``.pth`` weights)
into numpy arrays, without PyTorch.

    from zoo.weights.torch_pth import is_torch_file, read_state_dict
    weights = read_state_dict("resnet18-f37072fd.pth")   # {"conv1.weight": ndarray, ...}, file order

Both layouts ``torch.save`` writes are read:

- the zip archive (the default since PyTorch 1.6): ``<name>/data.pkl`` holds the pickled object,
  whose tensors refer by persistent id ``('storage', storage_type, key, location, numel)`` to raw
  storages in ``<name>/data/<key>``, in the byte order of the ``<name>/byteorder`` record (little
  when the record is absent);
- the legacy stream (before 1.6, and ``_use_new_zipfile_serialization=False``): five pickles in a
  row -- the magic number, the protocol version (1001), a system-info dict, the object (persistent
  ids ``('storage', storage_type, root_key, location, numel, view_metadata)``), the sorted list of
  storage keys -- then, per key, the storage's element count (int64, little-endian) and its bytes
  (always little-endian).

Tensors are rebuilt from ``torch._utils._rebuild_tensor_v2`` (and ``_rebuild_tensor`` of files from
before PyTorch 0.4, ``_rebuild_tensor_v3`` of the newer unsigned dtypes) with their storage offset,
shape and strides, so views, slices and tensors sharing a storage come out as saved; the arrays
returned are writable, C-contiguous and share no memory (a tensor that is its whole storage keeps
the buffer it was read into; any other is copied out). dtypes: float32, float64, float16,
bfloat16 (returned as float32, which holds every bfloat16 value exactly), complex64/128,
int8/16/32/64, uint8/16/32/64 and bool.

Safety: the pickles are read by an unpickler that resolves only ``collections.OrderedDict``, the
tensor and parameter rebuild functions, the ``torch.*Storage`` types and torch dtypes -- each
replaced by an inert stand-in, so nothing from the file is ever executed and PyTorch is never
imported. Any other global raises ValueError naming it.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

__all__ = ["is_torch_file", "read_state_dict"]

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
_PROTOCOL_VERSION = 1001                # torch.serialization.PROTOCOL_VERSION

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


class _Bad(Exception):
    """A reason the file cannot be read (becomes ``ValueError("cannot read <path>: <reason>")``)."""


class _Refused(Exception):
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


class _Storage:
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
        raise _Bad(f"corrupt pickle: a tensor's {what} is {value!r}, not a tuple of ints")
    return tuple(value)


def _tensor(storage, storage_offset, size, stride, dtype: str | None = None) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise _Bad("corrupt pickle: a tensor is rebuilt from something that is not a storage")
    if type(storage_offset) is not int or storage_offset < 0:
        raise _Bad(f"corrupt pickle: a tensor's storage offset is {storage_offset!r}")
    size, stride = _int_tuple(size, "shape"), _int_tuple(stride, "stride")
    if len(size) != len(stride) or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise _Bad(f"corrupt pickle: a tensor has shape {size} and strides {stride}")
    return _Tensor(storage, dtype or storage.dtype, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if metadata and any(metadata.values()):  # the conj / neg bits, which a real tensor never carries
        raise _Bad(f"unsupported tensor metadata {metadata!r}")
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(dtype, _DType):
        raise _Bad(f"corrupt pickle: a tensor's dtype is {dtype!r}")
    if metadata and any(metadata.values()):
        raise _Bad(f"unsupported tensor metadata {metadata!r}")
    return _tensor(storage, storage_offset, size, stride, dtype.name)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _Tensor):
        raise _Bad("corrupt pickle: a parameter wraps something that is not a tensor")
    return data


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
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
            raise _Bad(f"unsupported dtype or storage torch.{name} (no numpy equivalent)")
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid):
        if self._on_storage is None:
            raise _Bad("corrupt pickle: unexpected persistent id")
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise _Bad(f"corrupt pickle: unsupported persistent id {pid!r:.80}")
        return self._on_storage(pid[1:])


def _storage_fields(fields, n: int):
    if len(fields) != n:
        raise _Bad(f"corrupt pickle: a storage id has {len(fields) + 1} fields, expected {n + 1}")
    storage_type, key, numel = fields[0], fields[1], fields[3]
    if not isinstance(storage_type, _StorageType):
        raise _Bad(f"corrupt pickle: a storage's type is {storage_type!r:.80}")
    if isinstance(key, bytes):
        key = key.decode("ascii", "replace")
    if not isinstance(key, (str, int)) or type(numel) is not int or numel < 0:
        raise _Bad("corrupt pickle: malformed storage id")
    return storage_type.dtype, str(key), numel


# -- materialising the tensors -------------------------------------------------------------------------

def _itemsize(dtype: str) -> int:
    return np.dtype(_DTYPES[dtype]).itemsize


def _arrays(state: dict, roots: dict[str, tuple[str, int]], read_root, big_endian: bool = False) -> dict:
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
        start = t.storage.offset * _itemsize(t.storage.dtype) + t.offset * dtype.itemsize
        stop = start
        if all(t.size):
            stop += (sum((n - 1) * s for n, s in zip(t.size, t.stride)) + 1) * dtype.itemsize
        view_stop = (t.storage.offset + t.storage.numel) * _itemsize(t.storage.dtype)
        if all(t.size) and stop > min(view_stop, len(buf)):  # (an empty tensor reads nothing, wherever it is)
            raise _Bad(f"corrupt file: tensor {name!r} (offset {t.offset}, shape {t.size}, strides {t.stride}) "
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


def _state_dict(obj: Any) -> dict:
    """The name -> _Tensor mapping in ``obj`` (unwrapping {"state_dict": ...} / {"model": ...})."""
    def is_state(value):
        return (isinstance(value, dict) and all(isinstance(k, str) for k in value)
                and all(isinstance(v, _Tensor) for v in value.values()))

    if not isinstance(obj, dict):
        raise _Bad(f"not a state dict: the file holds a {_kind(obj)}, not a mapping of names to tensors")
    if is_state(obj):
        return obj
    wrapped = [w for w in ("state_dict", "model") if isinstance(obj.get(w), dict)]
    for wrapper in wrapped:
        if is_state(obj[wrapper]):
            return obj[wrapper]
    candidate, where = (obj[wrapped[0]], f" under {wrapped[0]!r}") if wrapped else (obj, "")
    for k, v in candidate.items():
        if not isinstance(k, str):
            raise _Bad(f"not a state dict: key {k!r:.60}{where} is not a string")
        if not isinstance(v, _Tensor):
            raise _Bad(f"not a state dict: entry {k!r:.60}{where} is a {_kind(v)}, not a tensor")
    raise _Bad("not a state dict")  # unreachable: `candidate` is not a state dict


def _kind(value) -> str:
    return {_Storage: "storage", _StorageType: "storage type", _DType: "dtype"}.get(type(value), type(value).__name__)


# -- the zip archive -----------------------------------------------------------------------------------

def _zip_prefix(zf: zipfile.ZipFile) -> str | None:
    names = zf.namelist()
    if not names or "/" not in names[0]:
        return "" if "data.pkl" in names else None
    prefix = names[0].split("/", 1)[0] + "/"
    return prefix if prefix + "data.pkl" in names else None


def _read_zip(f) -> dict:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _Bad(f"truncated or corrupt zip archive ({exc})") from None
    with zf:
        prefix = _zip_prefix(zf)
        if prefix is None:
            raise _Bad("a zip archive without data.pkl, not a torch.save file")
        if prefix + "constants.pkl" in zf.namelist():
            raise _Bad("a TorchScript archive (torch.jit.save), not a state dict")
        big_endian = False
        if prefix + "byteorder" in zf.namelist():
            order = zf.read(prefix + "byteorder")
            if order not in (b"little", b"big"):
                raise _Bad(f"unknown byteorder record {order[:20]!r}")
            big_endian = order == b"big"

        roots: dict[str, tuple[str, int]] = {}

        def on_storage(fields):
            dtype, key, numel = _storage_fields(fields, 4)
            if roots.setdefault(key, (dtype, numel)) != (dtype, numel):
                raise _Bad(f"corrupt pickle: storage {key} is declared twice with different types or sizes")
            return _Storage(key, dtype, 0, numel)

        try:
            data = zf.read(prefix + "data.pkl")
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise _Bad(f"corrupt data.pkl ({exc})") from None
        state = _state_dict(_unpickle(io.BytesIO(data), on_storage))

        def read_root(key):
            dtype, numel = roots[key]
            name = f"{prefix}data/{key}"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise _Bad(f"storage record {name} is missing") from None
            nbytes = numel * _itemsize(dtype)
            if info.file_size < nbytes:
                raise _Bad(f"storage record {name} holds {info.file_size} bytes, its tensors need {nbytes}")
            return _read_member(zf, f, info, nbytes)

        return _arrays(state, roots, read_root, big_endian)


def _read_member(zf: zipfile.ZipFile, f, info: zipfile.ZipInfo, nbytes: int) -> bytearray:
    """The first ``nbytes`` of member ``info``, read straight into one buffer when it is stored
    uncompressed (as torch.save writes), its CRC checked."""
    try:
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return bytearray(zf.read(info)[:nbytes])
        f.seek(info.header_offset)
        header = f.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise _Bad(f"corrupt zip archive: bad local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        buf = bytearray(info.file_size)
        got = f.readinto(buf)
        if got != info.file_size:
            raise _Bad(f"truncated zip archive: {info.filename} has {got} of its {info.file_size} bytes")
        if zlib.crc32(buf) != info.CRC:
            raise _Bad(f"corrupt zip archive: CRC mismatch in {info.filename}")
        if nbytes != len(buf):
            del buf[nbytes:]
        return buf
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise _Bad(f"corrupt zip archive ({exc})") from None


# -- the legacy stream ---------------------------------------------------------------------------------

def _unpickle(f, on_storage=None):
    try:
        return _Unpickler(f, on_storage).load()
    except (_Bad, _Refused):
        raise
    except EOFError:
        raise _Bad("truncated file: the pickle ends early") from None
    except pickle.UnpicklingError as exc:
        if "truncated" in str(exc):
            raise _Bad("truncated file: the pickle ends early") from None
        raise _Bad(f"corrupt pickle ({exc})") from None
    except Exception as exc:  # whatever a malformed pickle makes the unpickler raise
        raise _Bad(f"corrupt pickle ({type(exc).__name__}: {exc})") from None


def _legacy_magic(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) starts with the legacy format's magic-number pickle."""
    if head[:1] != b"\x80":
        return False
    try:
        return _Unpickler(io.BytesIO(head)).load() == _MAGIC_NUMBER
    except Exception:
        return False


def _read_legacy(f) -> dict:
    if _unpickle(f) != _MAGIC_NUMBER:
        raise _Bad("not a PyTorch file (bad magic number)")
    version = _unpickle(f)
    if version != _PROTOCOL_VERSION:
        raise _Bad(f"unsupported legacy protocol version {version!r} (expected {_PROTOCOL_VERSION})")
    if not isinstance(_unpickle(f), dict):
        raise _Bad("corrupt legacy file: the system-info record is not a dict")

    roots: dict[str, tuple[str, int]] = {}

    def on_storage(fields):
        dtype, key, numel = _storage_fields(fields, 5)
        roots.setdefault(key, (dtype, numel))
        if roots[key][0] != dtype:
            raise _Bad(f"corrupt pickle: storage {key} is declared with two dtypes")
        view = fields[4]
        if view is None:
            return _Storage(key, dtype, 0, numel)
        if (not isinstance(view, tuple) or len(view) != 3 or type(view[1]) is not int
                or type(view[2]) is not int or view[1] < 0 or view[2] < 0 or view[1] + view[2] > numel):
            raise _Bad(f"corrupt pickle: storage view {view!r:.80}")
        return _Storage(key, dtype, view[1], view[2])

    obj = _unpickle(f, on_storage)
    keys = _unpickle(f)
    if not isinstance(keys, list):
        raise _Bad("corrupt legacy file: the storage key list is not a list")
    state = _state_dict(obj)
    wanted = {t.storage.key for t in state.values()}
    size = os.fstat(f.fileno()).st_size
    buffers: dict[str, bytearray] = {}
    for key in keys:
        key = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
        if key not in roots:
            raise _Bad(f"corrupt legacy file: storage {key} is listed but no tensor uses it")
        dtype, numel = roots[key]
        head = f.read(8)
        if len(head) != 8:
            raise _Bad(f"truncated file: storage {key} is missing")
        (stored,) = struct.unpack("<q", head)
        if stored != numel:
            raise _Bad(f"corrupt legacy file: storage {key} holds {stored} elements, its id says {numel}")
        nbytes = numel * _itemsize(dtype)
        left = size - f.tell()
        if nbytes > left:
            raise _Bad(f"truncated file: storage {key} has {left} of its {nbytes} bytes")
        if key in wanted:
            buf = bytearray(nbytes)
            got = f.readinto(buf)
            if got != nbytes:
                raise _Bad(f"truncated file: storage {key} has {got} of its {nbytes} bytes")
            buffers[key] = buf
        else:
            f.seek(nbytes, io.SEEK_CUR)
    missing = wanted - buffers.keys()
    if missing:
        raise _Bad(f"corrupt legacy file: storage {min(missing)} is used but not stored")
    return _arrays(state, roots, buffers.pop)


# -- the API -------------------------------------------------------------------------------------------

def is_torch_file(path: str) -> bool:
    """Whether ``path`` looks like a ``torch.save`` file: a zip archive with a ``data.pkl`` record, or a
    stream starting with the legacy format's magic-number pickle. Reads only the file's head (and a
    zip's central directory); False for a file that cannot be opened."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head.startswith(b"PK"):
                try:
                    with zipfile.ZipFile(f) as zf:
                        return _zip_prefix(zf) is not None
                except (zipfile.BadZipFile, OSError, EOFError):
                    return False
            return _legacy_magic(head)
    except OSError:
        return False


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """The state dict saved in ``path`` by ``torch.save``, as name -> numpy array in the file's order.

    A top-level dict that wraps the state dict under ``"state_dict"`` or ``"model"`` (a training
    checkpoint) is unwrapped. bfloat16 tensors come back as float32; every other dtype as itself.
    Raises ValueError (one line, naming ``path``) for a file that is not a ``torch.save`` file, is
    truncated or corrupt, holds something other than a mapping of names to tensors, or whose pickle
    names a global other than those a state dict needs (then nothing from it is executed).
    OSError if the file cannot be opened.
    """
    path = str(path)
    with open(path, "rb") as f:
        head = f.read(512)
        f.seek(0)
        try:
            if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
                return _read_zip(f)
            if _legacy_magic(head):
                return _read_legacy(f)
            if head[257:262] == b"ustar":
                raise _Bad("the tar format of the earliest PyTorch releases is not supported (re-save the file with torch.save)")
            raise _Bad("not a PyTorch file (neither a zip archive with data.pkl nor a legacy torch.save stream)")
        except _Refused as exc:
            raise ValueError(f"refusing to load {path}: its pickle names the global {exc}, "
                             f"which a state dict does not need") from None
        except _Bad as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
