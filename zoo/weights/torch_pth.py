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

import io
import os
import struct
import zipfile
import zlib

import numpy as np

from .torch_pickle import (MAGIC_NUMBER, PROTOCOL_VERSION, Refused, RestrictedUnpickler, Storage, Unreadable,
                           item_size, state_dict_of, storage_fields, to_arrays, unpickle)

__all__ = ["is_torch_file", "read_state_dict"]


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
        raise Unreadable(f"truncated or corrupt zip archive ({exc})") from None
    with zf:
        prefix = _zip_prefix(zf)
        if prefix is None:
            raise Unreadable("a zip archive without data.pkl, not a torch.save file")
        if prefix + "constants.pkl" in zf.namelist():
            raise Unreadable("a TorchScript archive (torch.jit.save), not a state dict")
        big_endian = False
        if prefix + "byteorder" in zf.namelist():
            order = zf.read(prefix + "byteorder")
            if order not in (b"little", b"big"):
                raise Unreadable(f"unknown byteorder record {order[:20]!r}")
            big_endian = order == b"big"

        roots: dict[str, tuple[str, int]] = {}

        def on_storage(fields):
            dtype, key, numel = storage_fields(fields, 4)
            if roots.setdefault(key, (dtype, numel)) != (dtype, numel):
                raise Unreadable(f"corrupt pickle: storage {key} is declared twice with different types or sizes")
            return Storage(key, dtype, 0, numel)

        try:
            data = zf.read(prefix + "data.pkl")
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise Unreadable(f"corrupt data.pkl ({exc})") from None
        state = state_dict_of(unpickle(io.BytesIO(data), on_storage))

        def read_root(key):
            dtype, numel = roots[key]
            name = f"{prefix}data/{key}"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise Unreadable(f"storage record {name} is missing") from None
            nbytes = numel * item_size(dtype)
            if info.file_size < nbytes:
                raise Unreadable(f"storage record {name} holds {info.file_size} bytes, its tensors need {nbytes}")
            return _read_member(zf, f, info, nbytes)

        return to_arrays(state, roots, read_root, big_endian)


def _read_member(zf: zipfile.ZipFile, f, info: zipfile.ZipInfo, nbytes: int) -> bytearray:
    """The first ``nbytes`` of member ``info``, read straight into one buffer when it is stored
    uncompressed (as torch.save writes), its CRC checked."""
    try:
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return bytearray(zf.read(info)[:nbytes])
        f.seek(info.header_offset)
        header = f.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise Unreadable(f"corrupt zip archive: bad local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        buf = bytearray(info.file_size)
        got = f.readinto(buf)
        if got != info.file_size:
            raise Unreadable(f"truncated zip archive: {info.filename} has {got} of its {info.file_size} bytes")
        if zlib.crc32(buf) != info.CRC:
            raise Unreadable(f"corrupt zip archive: CRC mismatch in {info.filename}")
        if nbytes != len(buf):
            del buf[nbytes:]
        return buf
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise Unreadable(f"corrupt zip archive ({exc})") from None


# -- the legacy stream ---------------------------------------------------------------------------------

def _legacy_magic(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) starts with the legacy format's magic-number pickle."""
    if head[:1] != b"\x80":
        return False
    try:
        return RestrictedUnpickler(io.BytesIO(head)).load() == MAGIC_NUMBER
    except Exception:
        return False


def _read_legacy(f) -> dict:
    if unpickle(f) != MAGIC_NUMBER:
        raise Unreadable("not a PyTorch file (bad magic number)")
    version = unpickle(f)
    if version != PROTOCOL_VERSION:
        raise Unreadable(f"unsupported legacy protocol version {version!r} (expected {PROTOCOL_VERSION})")
    if not isinstance(unpickle(f), dict):
        raise Unreadable("corrupt legacy file: the system-info record is not a dict")

    roots: dict[str, tuple[str, int]] = {}

    def on_storage(fields):
        dtype, key, numel = storage_fields(fields, 5)
        roots.setdefault(key, (dtype, numel))
        if roots[key][0] != dtype:
            raise Unreadable(f"corrupt pickle: storage {key} is declared with two dtypes")
        view = fields[4]
        if view is None:
            return Storage(key, dtype, 0, numel)
        if (not isinstance(view, tuple) or len(view) != 3 or type(view[1]) is not int
                or type(view[2]) is not int or view[1] < 0 or view[2] < 0 or view[1] + view[2] > numel):
            raise Unreadable(f"corrupt pickle: storage view {view!r:.80}")
        return Storage(key, dtype, view[1], view[2])

    obj = unpickle(f, on_storage)
    keys = unpickle(f)
    if not isinstance(keys, list):
        raise Unreadable("corrupt legacy file: the storage key list is not a list")
    state = state_dict_of(obj)
    wanted = {t.storage.key for t in state.values()}
    size = os.fstat(f.fileno()).st_size
    buffers: dict[str, bytearray] = {}
    for key in keys:
        key = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
        if key not in roots:
            raise Unreadable(f"corrupt legacy file: storage {key} is listed but no tensor uses it")
        dtype, numel = roots[key]
        head = f.read(8)
        if len(head) != 8:
            raise Unreadable(f"truncated file: storage {key} is missing")
        (stored,) = struct.unpack("<q", head)
        if stored != numel:
            raise Unreadable(f"corrupt legacy file: storage {key} holds {stored} elements, its id says {numel}")
        nbytes = numel * item_size(dtype)
        left = size - f.tell()
        if nbytes > left:
            raise Unreadable(f"truncated file: storage {key} has {left} of its {nbytes} bytes")
        if key in wanted:
            buf = bytearray(nbytes)
            got = f.readinto(buf)
            if got != nbytes:
                raise Unreadable(f"truncated file: storage {key} has {got} of its {nbytes} bytes")
            buffers[key] = buf
        else:
            f.seek(nbytes, io.SEEK_CUR)
    missing = wanted - buffers.keys()
    if missing:
        raise Unreadable(f"corrupt legacy file: storage {min(missing)} is used but not stored")
    return to_arrays(state, roots, buffers.pop)


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
                raise Unreadable("the tar format of the earliest PyTorch releases is not supported (re-save the file with torch.save)")
            raise Unreadable("not a PyTorch file (neither a zip archive with data.pkl nor a legacy torch.save stream)")
        except Refused as exc:
            raise ValueError(f"refusing to load {path}: its pickle names the global {exc}, "
                             f"which a state dict does not need") from None
        except Unreadable as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
