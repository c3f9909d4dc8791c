"""zoo.weights.download: fetching into the Keras cache against a local HTTP server on 127.0.0.1
(never the internet): cached files, hash kinds, HTTP errors, no network, truncated and dropped
transfers, and what is left in the cache after each failure."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import urllib.error
import urllib.request

import pytest

from zoo.weights.download import HASH_KINDS, DownloadError, cache_path, fetch

BODY = bytes(range(256)) * 64 + b"published weights"  # 16401 bytes: several urlretrieve blocks
MD5 = hashlib.md5(BODY).hexdigest()
SHA256 = hashlib.sha256(BODY).hexdigest()
OTHER = b"some other file"
REAL_CREATE_CONNECTION = socket.create_connection


class Server:
    """A one-thread HTTP/1.0 server on 127.0.0.1 whose answer per path is set by the test:
    ``("ok", body)``, ``("status", code, reason)``, ``("short", body, announced_length)`` (sends the
    body, then closes cleanly) or ``("drop", first_bytes, announced_length)`` (sends the first bytes,
    then resets the connection once the client has the headers). It records the path of every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple] = {}
        self.requests: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self.headers_read = threading.Event()  # set by the client (the `server` fixture) once it has the headers
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(5)
            self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.headers_read.clear()  # this request's client, not an earlier one
            with conn:
                conn.settimeout(5)
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ")[1].decode()
        self.requests.append(path)
        kind, *args = self.routes.get(path, ("status", 404, "Not Found"))
        if kind == "status":
            code, reason = args
            page = f"<h1>{code} {reason}</h1>".encode()
            conn.sendall(f"HTTP/1.0 {code} {reason}\r\nContent-Type: text/html\r\n"
                         f"Content-Length: {len(page)}\r\n\r\n".encode() + page)
            return
        body, length = (args[0], len(args[0])) if kind == "ok" else args
        conn.sendall(f"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode() + body)
        if kind == "drop":
            # reset once the client has the headers and waits for the rest of the body
            assert self.headers_read.wait(10), "the client never read the response's headers"
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        else:
            conn.shutdown(socket.SHUT_WR)


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    """No proxy from the environment, and any connection to a host other than 127.0.0.1 fails the test."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(urllib.request, "_opener", None)  # urlopen's opener, rebuilt without proxies
    def loopback_only(address, *args, **kwargs):
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to connect to {address}")
        return REAL_CREATE_CONNECTION(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)


@pytest.fixture()
def server(monkeypatch):
    import http.client

    s = Server()
    begin = http.client.HTTPResponse.begin

    def begin_then_tell(response):  # the client has parsed the status line and headers
        begin(response)
        s.headers_read.set()

    monkeypatch.setattr(http.client.HTTPResponse, "begin", begin_then_tell)
    yield s
    s.stop()


@pytest.fixture()
def closed_port_url():
    """A URL on a 127.0.0.1 port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/vgg16.h5"


def models_dir(tmp_path):
    return tmp_path / "models"


def listing(tmp_path):
    return sorted(os.listdir(models_dir(tmp_path)))


# -- successful downloads and the cache ------------------------------------------------------------

@pytest.mark.parametrize("kind, digest", [("md5", MD5), ("sha256", SHA256), ("sha256-prefix", SHA256[:8]),
                                          ("md5", MD5.upper()), ("sha256", None)])
def test_download_returns_the_cache_path_with_the_exact_bytes(server, tmp_path, kind, digest):
    server.routes["/w.h5"] = ("ok", BODY)
    path = fetch(server.url("/w.h5"), "w.h5", digest, kind, cache_dir=str(tmp_path), progress=False)
    assert path == str(tmp_path / "models" / "w.h5") == cache_path("w.h5", cache_dir=str(tmp_path))
    assert open(path, "rb").read() == BODY
    assert listing(tmp_path) == ["w.h5"]  # no temporary file left beside it
    assert server.requests == ["/w.h5"]


def test_torchvision_file_name_with_its_sha256_prefix(server, tmp_path):
    name = f"resnet18-{SHA256[:8]}.pth"
    server.routes["/models/" + name] = ("ok", BODY)
    path = fetch(server.url("/models/" + name), name, SHA256[:8], "sha256-prefix",
                 cache_subdir="torch", cache_dir=tmp_path, progress=False)
    assert path == str(tmp_path / "torch" / name)
    assert open(path, "rb").read() == BODY


def test_cached_file_is_returned_without_a_request(server, tmp_path, closed_port_url):
    server.routes["/w.h5"] = ("ok", BODY)
    first = fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=tmp_path, progress=False)
    assert server.requests == ["/w.h5"]
    assert fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=tmp_path, progress=False) == first
    assert server.requests == ["/w.h5"]  # the second call made no request
    server.stop()
    assert fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=tmp_path) == first
    assert fetch(closed_port_url, "w.h5", SHA256[:12], "sha256-prefix", cache_dir=tmp_path) == first
    assert fetch(closed_port_url, "w.h5", None, cache_dir=tmp_path) == first
    assert open(first, "rb").read() == BODY


def test_file_placed_by_hand_is_used_offline(tmp_path, closed_port_url):
    target = cache_path("vgg16.h5", cache_dir=tmp_path)
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as f:
        f.write(BODY)
    assert fetch(closed_port_url, "vgg16.h5", SHA256, "sha256", cache_dir=tmp_path) == target


def test_cached_file_failing_its_hash_is_replaced_by_a_fresh_download(server, tmp_path):
    target = cache_path("w.h5", cache_dir=tmp_path)
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as f:
        f.write(BODY[:1000])  # a partial copy
    server.routes["/w.h5"] = ("ok", BODY)
    assert fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=tmp_path, progress=False) == target
    assert open(target, "rb").read() == BODY
    assert server.requests == ["/w.h5"]
    assert listing(tmp_path) == ["w.h5"]


# -- failures: one line, nothing left behind ------------------------------------------------------

def test_connection_refused_names_the_url_and_where_to_place_the_file(tmp_path, closed_port_url):
    target = cache_path("vgg16.h5", cache_dir=tmp_path)
    with pytest.raises(DownloadError) as e:
        fetch(closed_port_url, "vgg16.h5", MD5, cache_dir=tmp_path, progress=False)
    msg = str(e.value)
    assert msg == (f"could not download {closed_port_url} ([Errno 111] Connection refused); without network, "
                   f"download it elsewhere and place it at {target}")
    assert "\n" not in msg
    assert listing(tmp_path) == []


def test_dns_failure(tmp_path, monkeypatch):
    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)  # name resolution fails before any connection
    monkeypatch.setattr(socket, "create_connection", REAL_CREATE_CONNECTION)
    url = "http://weights.example.invalid/resnet50.h5"
    with pytest.raises(DownloadError) as e:
        fetch(url, "resnet50.h5", MD5, cache_dir=tmp_path, progress=False)
    assert str(e.value) == (f"could not download {url} ([Errno {socket.EAI_NONAME}] Name or service not known); "
                            f"without network, download it elsewhere and place it at "
                            f"{tmp_path / 'models' / 'resnet50.h5'}")
    assert listing(tmp_path) == []


def test_a_refused_certificate_is_not_called_no_network(tmp_path, monkeypatch):
    import ssl

    def bad_certificate(*args, **kwargs):
        raise ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")

    monkeypatch.setattr(socket, "create_connection", bad_certificate)
    url = "http://weights.example.invalid/resnet50.h5"
    with pytest.raises(DownloadError) as e:
        fetch(url, "resnet50.h5", MD5, cache_dir=tmp_path, progress=False)
    assert str(e.value) == (f"could not download {url} (certificate verify failed: self-signed certificate); a copy "
                            f"obtained elsewhere can be placed at {tmp_path / 'models' / 'resnet50.h5'}")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("code, reason", [(404, "Not Found"), (500, "Internal Server Error")])
def test_http_error_names_the_url_and_the_status(server, tmp_path, code, reason):
    server.routes["/w.h5"] = ("status", code, reason)
    url = server.url("/w.h5")
    with pytest.raises(DownloadError) as e:
        fetch(url, "w.h5", MD5, cache_dir=tmp_path, progress=False)
    assert str(e.value) == (f"could not download {url} (HTTP {code} {reason}); a copy obtained elsewhere "
                            f"can be placed at {tmp_path / 'models' / 'w.h5'}")
    assert isinstance(e.value.__cause__, urllib.error.HTTPError)
    assert listing(tmp_path) == []
    assert server.requests == ["/w.h5"]


@pytest.mark.parametrize("kind, digest, expected, actual", [
    ("md5", hashlib.md5(OTHER).hexdigest(), "md5 " + hashlib.md5(OTHER).hexdigest(), "md5 " + MD5),
    ("sha256", hashlib.sha256(OTHER).hexdigest(), "sha256 " + hashlib.sha256(OTHER).hexdigest(), "sha256 " + SHA256),
    ("sha256-prefix", "deadbeef", "a sha256 starting with deadbeef", "sha256 " + SHA256),
])
def test_hash_mismatch_names_the_file_and_both_hashes_and_removes_the_download(
        server, tmp_path, kind, digest, expected, actual):
    server.routes["/w.h5"] = ("ok", BODY)
    url = server.url("/w.h5")
    with pytest.raises(DownloadError) as e:
        fetch(url, "w.h5", digest, kind, cache_dir=tmp_path, progress=False)
    assert str(e.value) == (f"w.h5 downloaded from {url} failed its hash check: expected {expected}, "
                            f"got {actual}; the download was removed from the cache")
    assert listing(tmp_path) == []


def test_bad_cached_file_and_bad_download(server, tmp_path):
    """The download fails its check: removed; the stale cached copy is left as it was."""
    target = cache_path("w.h5", cache_dir=tmp_path)
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as f:
        f.write(OTHER)
    server.routes["/w.h5"] = ("ok", BODY[:-1])
    with pytest.raises(DownloadError, match=f"expected md5 {MD5}, got md5 {hashlib.md5(BODY[:-1]).hexdigest()}"):
        fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=tmp_path, progress=False)
    assert listing(tmp_path) == ["w.h5"]
    assert open(target, "rb").read() == OTHER


def test_a_copy_placed_by_hand_that_fails_its_hash_is_named_when_offline(tmp_path, closed_port_url):
    """Not "place it at <the path where it already is>": the copy there is not the published file."""
    target = cache_path("w.h5", cache_dir=tmp_path)
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as f:
        f.write(OTHER)
    with pytest.raises(DownloadError) as e:
        fetch(closed_port_url, "w.h5", MD5, cache_dir=tmp_path, progress=False)
    assert str(e.value) == (f"{target} is in the cache but fails its hash check (expected md5 {MD5}, got md5 "
                            f"{hashlib.md5(OTHER).hexdigest()}), and a fresh copy could not be downloaded from "
                            f"{closed_port_url} ([Errno 111] Connection refused); replace it with the published file")
    assert listing(tmp_path) == ["w.h5"] and open(target, "rb").read() == OTHER


@pytest.mark.parametrize("failure, reason", [
    (("short", BODY[:5000], len(BODY)),
     f"transfer cut short: retrieval incomplete: got only 5000 out of {len(BODY)} bytes"),
    (("drop", BODY[:5000], len(BODY)), "connection lost: [Errno 104] Connection reset by peer"),
])
@pytest.mark.parametrize("digest", [MD5, None])
def test_truncated_or_dropped_transfer_leaves_nothing_and_the_next_call_downloads(
        server, tmp_path, failure, reason, digest):
    server.routes["/w.h5"] = failure
    url = server.url("/w.h5")
    with pytest.raises(DownloadError) as e:
        fetch(url, "w.h5", digest, cache_dir=tmp_path, progress=False)
    # the network is there: the hint does not say it is not
    assert str(e.value) == (f"could not download {url} ({reason}); a copy obtained elsewhere can be placed at "
                            f"{tmp_path / 'models' / 'w.h5'}")
    assert listing(tmp_path) == []  # no final file, no partial file
    server.routes["/w.h5"] = ("ok", BODY)
    path = fetch(url, "w.h5", digest, cache_dir=tmp_path, progress=False)
    assert open(path, "rb").read() == BODY
    assert server.requests == ["/w.h5", "/w.h5"]
    assert listing(tmp_path) == ["w.h5"]


# -- arguments ------------------------------------------------------------------------------------

def test_unknown_hash_kind_names_it_and_the_accepted_ones(server, tmp_path):
    with pytest.raises(ValueError) as e:
        fetch(server.url("/w.h5"), "w.h5", MD5, "sha1", cache_dir=tmp_path)
    assert str(e.value) == "unknown hash_kind 'sha1'; accepted: 'md5', 'sha256', 'sha256-prefix'"
    assert HASH_KINDS == ("md5", "sha256", "sha256-prefix")
    assert server.requests == []


@pytest.mark.parametrize("kind, digest, wanted", [
    ("md5", SHA256, "an md5 digest (32 hex digits)"),
    ("sha256", MD5, "a sha256 digest (64 hex digits)"),
    ("sha256-prefix", "f370", "a sha256 prefix (8 to 64 hex digits)"),
    ("md5", "z" * 32, "an md5 digest (32 hex digits)"),
])
def test_malformed_hash(server, tmp_path, kind, digest, wanted):
    with pytest.raises(ValueError) as e:
        fetch(server.url("/w.h5"), "w.h5", digest, kind, cache_dir=tmp_path)
    assert str(e.value) == f"file_hash {digest!r} is not {wanted}, as hash_kind={kind!r} requires"
    assert server.requests == []


@pytest.mark.parametrize("name", ["models/w.h5", "", ".."])
def test_file_name_with_directories(tmp_path, name):
    with pytest.raises(ValueError, match=f"file_name {name!r} is not a plain file name"):
        cache_path(name, cache_dir=tmp_path)


# -- the cache location: keras.utils.get_file's --------------------------------------------------

@pytest.mark.parametrize("subdir", ["models", "weights/torch", "ABSOLUTE"])
def test_cache_path_is_where_keras_get_file_looks(tmp_path, closed_port_url, subdir):
    import keras

    if subdir == "ABSOLUTE":
        subdir = str(tmp_path / "elsewhere")
    target = cache_path("x.h5", cache_subdir=subdir, cache_dir=str(tmp_path))
    assert target == os.path.join(str(tmp_path), subdir, "x.h5")
    os.makedirs(os.path.dirname(target))
    with open(target, "wb") as f:
        f.write(BODY)
    # get_file finds it in its cache and does not try the (closed) URL
    assert keras.utils.get_file("x.h5", closed_port_url, cache_subdir=subdir, cache_dir=str(tmp_path)) == target


def test_cache_path_defaults_to_keras_home():
    from keras.src.backend import config

    home = os.path.expanduser(config.keras_home())
    assert cache_path("x.h5") == os.path.join(home, "models", "x.h5")
    assert cache_path("x.h5", cache_subdir="datasets") == os.path.join(home, "datasets", "x.h5")


def test_cache_dir_not_writable_falls_back_to_tmp_keras(tmp_path, monkeypatch):
    denied = str(tmp_path / "read-only")
    os.mkdir(denied)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == denied else real(p, mode, **kw))
    assert cache_path("x.h5", cache_dir=denied) == "/tmp/.keras/models/x.h5"


def test_cache_dir_that_does_not_exist_yet_is_created(server, tmp_path):
    server.routes["/w.h5"] = ("ok", BODY)
    cache_dir = tmp_path / "new" / "cache"
    assert cache_path("w.h5", cache_dir=cache_dir) == str(cache_dir / "models" / "w.h5")
    path = fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=cache_dir, progress=False)
    assert path == str(cache_dir / "models" / "w.h5")
    assert open(path, "rb").read() == BODY


# -- output ---------------------------------------------------------------------------------------

def test_progress_false_prints_nothing_and_restores_keras_logging(server, tmp_path, capfd):
    import keras

    server.routes["/w.h5"] = ("ok", BODY)
    assert keras.config.is_interactive_logging_enabled()
    fetch(server.url("/w.h5"), "w.h5", MD5, cache_dir=tmp_path, progress=False)
    assert capfd.readouterr().out == ""
    assert keras.config.is_interactive_logging_enabled()


def test_progress_true_shows_keras_messages_only_when_downloading(server, tmp_path, capfd):
    server.routes["/w.h5"] = ("ok", BODY)
    url = server.url("/w.h5")
    fetch(url, "w.h5", MD5, cache_dir=tmp_path)
    assert f"Downloading data from {url}" in capfd.readouterr().out
    fetch(url, "w.h5", MD5, cache_dir=tmp_path)
    assert capfd.readouterr().out == ""
