"""zoo.weights.torch_pth: torch.save files (zip and legacy) read into numpy without PyTorch, checked
array by array against torch.load(weights_only=True) on files torch itself wrote."""

from __future__ import annotations

import collections
import os
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

# torch writes the files read here: a pinned test requirement (requirements-test.txt), so a missing
# torch fails this module's collection instead of skipping it
import torch
from torch import nn

from zoo.weights.torch_pth import is_torch_file, read_state_dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMATS = {"zip": True, "legacy": False}


class Net(nn.Module):
    """A torchvision-like stem and head: Conv2d -> BatchNorm2d -> ReLU -> pool -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.bn1(self.conv1(x))).mean((2, 3)))


def trained_net() -> Net:
    torch.manual_seed(0)
    net = Net().train()
    for _ in range(3):  # real running statistics and num_batches_tracked == 3
        net(torch.randn(4, 3, 8, 8))
    return net


def crafted() -> dict:
    torch.manual_seed(1)
    base = torch.arange(30, dtype=torch.float32).reshape(5, 6)
    return {
        "half": torch.randn(3, 4).half(),
        "bfloat16": torch.randn(2, 5).bfloat16(),
        "double": torch.randn(2, 3, dtype=torch.float64),
        "long": torch.tensor([[-(2 ** 40), 3], [5, 2 ** 62]]),
        "int32": torch.tensor([-7, 8], dtype=torch.int32),
        "uint8": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True]),
        "transposed": base.t(),                    # non-contiguous, strides (1, 6)
        "slice": base[1:4, 2:5],                   # storage offset 8, strides (6, 1)
        "row": base[3],                            # a third view of the same storage
        "every_other": base[:, ::2],               # strides (6, 2)
        "scalar": torch.tensor(2.5, dtype=torch.float64),  # 0-d
        "empty": torch.zeros(0, 4),
        "empty_offset": torch.zeros(2, 0, 3)[:, :, 1:],     # empty, offset past its (empty) storage
        "expanded": torch.arange(3.0).reshape(3, 1).expand(3, 4),  # stride 0
    }


def expected(t):
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def assert_same(path: str, got: dict | None = None):
    """read_state_dict(path) matches torch.load(path, weights_only=True) exactly, keys in order."""
    got = read_state_dict(path) if got is None else got
    ref = torch.load(path, weights_only=True)
    assert list(got) == list(ref)
    for key, tensor in ref.items():
        want = expected(tensor)
        assert got[key].dtype == want.dtype, key
        assert got[key].shape == want.shape, key
        np.testing.assert_array_equal(got[key], want, err_msg=key)
        assert got[key].flags.writeable and got[key].flags.c_contiguous, key


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Files torch.save wrote: the Net's state dict and the crafted tensors, in both formats."""
    root = tmp_path_factory.mktemp("pth")
    out = {}
    state = trained_net().state_dict()
    for fmt, zipped in FORMATS.items():
        out["net", fmt] = str(root / f"net_{fmt}.pth")
        torch.save(state, out["net", fmt], _use_new_zipfile_serialization=zipped)
        out["crafted", fmt] = str(root / f"crafted_{fmt}.pth")
        torch.save(crafted(), out["crafted", fmt], _use_new_zipfile_serialization=zipped)
    return out


# -- what torch wrote comes back exactly -------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_module_state_dict_matches_torch_load(files, fmt):
    path = files["net", fmt]
    assert is_torch_file(path)
    got = read_state_dict(path)
    assert list(got) == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                         "bn1.num_batches_tracked", "fc.weight", "fc.bias"]
    assert got["bn1.num_batches_tracked"].dtype == np.int64 and got["bn1.num_batches_tracked"].shape == ()
    assert int(got["bn1.num_batches_tracked"]) == 3
    assert got["conv1.weight"].shape == (8, 3, 3, 3) and got["conv1.weight"].dtype == np.float32
    assert_same(path, got)


@pytest.mark.parametrize("fmt", FORMATS)
def test_crafted_dtypes_views_offsets_and_shared_storages(files, fmt):
    path = files["crafted", fmt]
    got = read_state_dict(path)
    assert_same(path, got)
    assert got["bfloat16"].dtype == np.float32
    assert got["scalar"].shape == () and float(got["scalar"]) == 2.5
    np.testing.assert_array_equal(got["slice"], np.arange(30, dtype=np.float32).reshape(5, 6)[1:4, 2:5])
    got["row"][0] = -1  # views of one storage come back as independent arrays
    assert got["slice"][2, 0] == 20 and got["transposed"][0, 3] == 18


def test_new_unsigned_dtypes_of_the_zip_format(tmp_path):
    """uint16 is saved as an untyped storage plus a torch.uint16 global (_rebuild_tensor_v3)."""
    path = str(tmp_path / "u16.pth")
    torch.save({"u16": torch.tensor([[1, 65535], [300, 7]]).to(torch.uint16)[:, 1]}, path)
    got = read_state_dict(path)
    assert got["u16"].dtype == np.uint16
    np.testing.assert_array_equal(got["u16"], [65535, 7])


@pytest.mark.parametrize("fmt", FORMATS)
def test_parameters_and_wrapped_checkpoints(tmp_path, fmt):
    net = trained_net()
    zipped = FORMATS[fmt]
    path = str(tmp_path / "params.pth")  # keep_vars: nn.Parameter objects (_rebuild_parameter)
    torch.save(net.state_dict(keep_vars=True), path, _use_new_zipfile_serialization=zipped)
    assert_same(path)
    # an SGD-with-momentum optimizer state, as torch.optim.SGD(...).state_dict() has it (built by
    # hand: torch.optim's first step costs seconds of lazy imports)
    optimizer = {"state": {i: {"momentum_buffer": torch.randn(p.shape)} for i, p in enumerate(net.parameters())},
                 "param_groups": [{"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0,
                                   "nesterov": False, "maximize": False, "foreach": None,
                                   "differentiable": False, "fused": None,
                                   "params": list(range(len(list(net.parameters()))))}]}
    for wrapper in ("state_dict", "model"):
        path = str(tmp_path / f"{wrapper}.pth")
        checkpoint = {"epoch": 3, wrapper: net.state_dict(), "optimizer": optimizer}
        torch.save(checkpoint, path, _use_new_zipfile_serialization=zipped)
        got = read_state_dict(path)
        assert list(got) == list(net.state_dict())
        for key, tensor in net.state_dict().items():
            np.testing.assert_array_equal(got[key], tensor.numpy())


def test_dtypes_without_a_numpy_equivalent_are_named(tmp_path):
    path = str(tmp_path / "f8.pth")
    torch.save({"w": torch.zeros(2).to(torch.float8_e4m3fn)}, path)
    with pytest.raises(ValueError) as err:
        read_state_dict(path)
    assert str(err.value) == f"cannot read {path}: unsupported dtype or storage torch.float8_e4m3fn (no numpy equivalent)"


def test_zip_with_big_endian_byteorder_record(tmp_path, files):
    """A zip whose byteorder record says "big": its storages are byte-swapped on reading."""
    state = {"w": torch.randn(3, 4), "idx": torch.tensor([1, 2 ** 40])}
    little = str(tmp_path / "little.pth")
    torch.save(state, little)
    big = str(tmp_path / "big.pth")
    sizes = {"0": 4, "1": 8}  # storage key -> element size, in the order the tensors were saved
    with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            name = info.filename.split("/", 1)[1]
            if name == "byteorder":
                data = b"big"
            elif name.startswith("data/"):
                size = sizes[name[5:]]
                data = np.frombuffer(data, dtype=f"<u{size}").astype(f">u{size}").tobytes()
            dst.writestr(info.filename, data)
    assert_same(big)
    np.testing.assert_array_equal(read_state_dict(big)["w"], state["w"].numpy())


def old_legacy_file(path, tensors: dict, views: bool = False):
    """A legacy-format file as PyTorch before 0.4 wrote it: tensors rebuilt by
    torch._utils._rebuild_tensor(storage, offset, size, stride) and, with ``views``, storage views
    (view_metadata). ``tensors``: name -> (root storage key, offset, size, stride); storages are
    float32 arange(0, 12) ("a") and arange(100, 106) ("b")."""
    roots = {"a": np.arange(12, dtype="<f4"), "b": np.arange(100, 106, dtype="<f4")}

    class Ref:
        def __init__(self, key, offset, size, stride):
            self.key, self.args = key, (offset, size, stride)

        def __reduce__(self):
            return torch._utils._rebuild_tensor, (Storage(self.key),) + self.args

    class Storage:
        def __init__(self, key):
            self.key = key

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                view = ("view-" + obj.key, 2, 4) if views and obj.key == "a" else None
                return ("storage", torch.FloatStorage, obj.key, "cpu", len(roots[obj.key]), view)
            return None

    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        state = collections.OrderedDict((name, Ref(*spec)) for name, spec in tensors.items())
        Pickler(f, protocol=2).dump(state)
        used = sorted({spec[0] for spec in tensors.values()})
        pickle.dump(used, f, protocol=2)
        for key in used:
            f.write(np.int64(len(roots[key])).astype("<i8").tobytes() + roots[key].tobytes())


def test_pre_0_4_rebuild_tensor_and_storage_views(tmp_path):
    path = str(tmp_path / "old.pth")
    old_legacy_file(path, {"m": ("a", 0, (2, 3), (3, 1)), "v": ("b", 1, (2,), (2,))})
    assert is_torch_file(path)
    got = read_state_dict(path)
    assert list(got) == ["m", "v"]
    np.testing.assert_array_equal(got["m"], np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(got["v"], np.array([101, 103], dtype=np.float32))
    np.testing.assert_array_equal(got["m"], torch.load(path, weights_only=False)["m"].numpy())
    # a storage view: elements 2..5 of root "a"; the tensor's offset counts from the view's start
    old_legacy_file(path, {"w": ("a", 1, (3,), (1,))}, views=True)
    np.testing.assert_array_equal(read_state_dict(path)["w"], np.array([3, 4, 5], dtype=np.float32))
    old_legacy_file(path, {"w": ("a", 1, (4,), (1,))}, views=True)  # one past the view's end
    with pytest.raises(ValueError, match=r"^cannot read .*: corrupt file: tensor 'w' .* reaches past the end"):
        read_state_dict(path)


# -- safety --------------------------------------------------------------------------------------------

class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_naming_another_global_is_refused_without_running_it(tmp_path, files):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": Exploit(marker)}, protocol=2)
    assert b"system" in payload
    evil_zip = str(tmp_path / "evil_zip.pth")
    with zipfile.ZipFile(files["net", "zip"]) as src, zipfile.ZipFile(evil_zip, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, payload if info.filename.endswith("/data.pkl") else src.read(info))
    evil_legacy = str(tmp_path / "evil_legacy.pth")
    with open(evil_legacy, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, f, protocol=2)
        f.write(payload)
    system = f"{os.system.__module__}.system"  # "posix.system" on Linux, "nt.system" on Windows
    for path in (evil_zip, evil_legacy):
        assert is_torch_file(path)
        with pytest.raises(ValueError) as err:
            read_state_dict(path)
        assert str(err.value) == (f"refusing to load {path}: its pickle names the global {system}, "
                                  f"which a state dict does not need")
    assert not marker.exists()
    builtins_eval = str(tmp_path / "eval.pth")  # the same for a global reached through a REDUCE
    with open(builtins_eval, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, f, protocol=2)
        f.write(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.")
    with pytest.raises(ValueError, match=r"^refusing to load .*eval\.pth: its pickle names the global builtins\.eval,"):
        read_state_dict(builtins_eval)


# -- errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files(tmp_path, files, fmt):
    data = open(files["net", fmt], "rb").read()
    path = str(tmp_path / f"cut_{fmt}.pth")
    with open(path, "wb") as f:
        f.write(data[:-4])
    with pytest.raises(ValueError) as err:
        read_state_dict(path)
    message = str(err.value)
    assert "\n" not in message
    if fmt == "zip":
        assert message == f"cannot read {path}: truncated or corrupt zip archive (File is not a zip file)"
    else:  # the last storage lost its last 4 bytes
        match = re.fullmatch(rf"cannot read {re.escape(path)}: truncated file: storage \d+ has (\d+) of its (\d+) bytes",
                             message)
        assert match and int(match[2]) - int(match[1]) == 4, message
    with open(path, "wb") as f:  # cut inside the object pickle
        f.write(data[:200] if fmt == "legacy" else data[:30])
    with pytest.raises(ValueError) as err:
        read_state_dict(path)
    assert str(err.value) == (f"cannot read {path}: truncated file: the pickle ends early" if fmt == "legacy" else
                              f"cannot read {path}: truncated or corrupt zip archive (File is not a zip file)")


def test_corrupt_storage_bytes_fail_the_crc_check(tmp_path, files):
    data = bytearray(open(files["net", "zip"], "rb").read())
    with zipfile.ZipFile(files["net", "zip"]) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("/data/0")))
    name_len, extra_len = np.frombuffer(data, "<u2", 2, info.header_offset + 26)  # the local header's
    start = info.header_offset + 30 + int(name_len) + int(extra_len)
    data[start + 5] ^= 0xFF
    path = str(tmp_path / "flipped.pth")
    open(path, "wb").write(bytes(data))
    with pytest.raises(ValueError) as err:
        read_state_dict(path)
    assert str(err.value) == f"cannot read {path}: corrupt zip archive: CRC mismatch in {info.filename}"


def test_not_torch_files_and_not_state_dicts(tmp_path):
    text = str(tmp_path / "notes.txt")
    open(text, "w").write("hello\n" * 20)
    assert not is_torch_file(text) and not is_torch_file(str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError) as err:
        read_state_dict(text)
    assert str(err.value) == (f"cannot read {text}: not a PyTorch file (neither a zip archive with data.pkl "
                              f"nor a legacy torch.save stream)")
    plain = str(tmp_path / "plain.pkl")
    open(plain, "wb").write(pickle.dumps({"w": 1}, protocol=2))
    assert not is_torch_file(plain)
    other_zip = str(tmp_path / "other.zip")
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("a/readme.txt", "x")
    assert not is_torch_file(other_zip)
    with pytest.raises(ValueError, match=r": a zip archive without data\.pkl, not a torch\.save file$"):
        read_state_dict(other_zip)
    cases = {
        "list": ([torch.zeros(2)], "the file holds a list, not a mapping of names to tensors"),
        "int": ({"w": torch.zeros(2), "n": 3}, "entry 'n' is a int, not a tensor"),
        "wrapped": ({"state_dict": {"w": torch.zeros(2), "step": 1.5}, "epoch": 1},
                    "entry 'step' under 'state_dict' is a float, not a tensor"),
        "nested": ({"enc": {"w": torch.zeros(2)}}, "entry 'enc' is a dict, not a tensor"),
    }
    for name, (obj, reason) in cases.items():
        for fmt, zipped in FORMATS.items():
            path = str(tmp_path / f"{name}_{fmt}.pth")
            torch.save(obj, path, _use_new_zipfile_serialization=zipped)
            with pytest.raises(ValueError) as err:
                read_state_dict(path)
            assert str(err.value) == f"cannot read {path}: not a state dict: {reason}"


def test_reads_without_torch_installed(files):
    """The module imports and reads both formats with torch made unimportable."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from zoo.weights.torch_pth import read_state_dict, is_torch_file\n"
        "for path in sys.argv[1:]:\n"
        "    sd = read_state_dict(path); assert is_torch_file(path)\n"
        "    print(','.join(f'{k}:{v.dtype}:{v.shape}:{float(v.astype(\"float64\").sum())!r}' for k, v in sd.items()))\n"
        "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
    )
    paths = [files["net", "zip"], files["net", "legacy"], files["crafted", "zip"]]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-c", code, *paths], cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3
    for path, line in zip(paths, lines):
        ref = torch.load(path, weights_only=True)
        assert line == ",".join(f"{k}:{expected(v).dtype}:{tuple(v.shape)}:{float(expected(v).astype('float64').sum())!r}"
                                for k, v in ref.items())


@pytest.mark.parametrize("out_features", [10, 256, 300, 600])  # one block, exactly one, one and a bit, three
def test_linear_after_flatten_gives_torchs_outputs(out_features):
    """zoo.weights.convert._kernel (in blocks of 256 output rows): our Dense after an (H, W, C)
    flatten computes what torch's Linear computes after its (C, H, W) flatten."""
    from zoo.weights.convert import _kernel

    torch.manual_seed(out_features)
    c, h, w = 5, 3, 2
    linear = nn.Linear(c * h * w, out_features)
    x = torch.randn(4, c, h, w)
    with torch.no_grad():
        theirs = linear(torch.flatten(x, 1)).numpy()
    weight = linear.weight.detach().numpy()
    kernel = _kernel(weight, channels=c)
    assert kernel.shape == (h * w * c, out_features) and kernel.flags.c_contiguous
    ours = x.numpy().transpose(0, 2, 3, 1).reshape(4, -1) @ kernel + linear.bias.detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_kernel(weight), weight.T)  # without a flatten: the plain transpose
