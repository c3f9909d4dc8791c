"""Fetching published weight files into the Keras cache, checked against their published hash.

    path = fetch("https://storage.googleapis.com/.../vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                 "vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b")
    path = fetch("https://download.pytorch.org/models/resnet18-f37072fd.pth",
                 "resnet18-f37072fd.pth", "f37072fd", "sha256-prefix")

The file lives where ``keras.utils.get_file`` keeps it (``cache_path``), so a file downloaded by
hand on another machine can be placed there. A cached file whose hash checks is returned without any
network access; every failure is one ``DownloadError`` line and leaves nothing half-written behind.

How the transfer goes through ``keras.utils.get_file`` (Keras 3) and what this module does about it:

- get_file writes straight to the final cache path, so a process killed mid-transfer leaves a
  partial file that a later call without a hash would return as cached. Here get_file downloads to a
  hidden temporary name in the same directory (``.<file_name>.<random>.part``), the hash is checked,
  and only then is the file renamed into place (``os.replace``, atomic); on any failure the
  temporary file is removed.
- get_file's own hash check leaves a file that fails it in the cache, knows only md5 and sha256
  (any other ``hash_algorithm`` silently means md5), and prints a message when a cached file fails.
  Here the cache is checked and the download verified by this module (md5, sha256 and torchvision's
  sha256 prefix); a download that fails its check is removed.
- get_file turns HTTP and URL errors into a bare ``Exception("URL fetch failure on <url>: None --
  <reason>")`` (the ``None`` is ``URLError.errno``) and lets a connection dropped mid-body through as
  a raw ``ConnectionResetError`` or ``http.client`` error. Here the original error (get_file's
  ``__context__``) is read and each case becomes one ``DownloadError`` line.
- get_file silently falls back to ``/tmp/.keras`` when the cache directory is not writable, including
  when it merely does not exist yet. ``cache_path`` applies the same fallback, except that a
  directory that does not exist but can be created is used (``fetch`` creates it).
- get_file has no verbosity switch: it always prints "Downloading data from <url>" and a Keras
  ``Progbar``. ``progress=False`` turns off Keras' interactive logging for the call (a thread-local
  Keras setting, restored afterwards), which sends both to ``absl`` logging at INFO level instead.
- get_file sets no timeout: a server that accepts the connection and then stalls blocks the call
  unless ``socket.setdefaulttimeout`` was set (a timeout then becomes a ``DownloadError``).

Imports no Keras until ``fetch`` is called.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import secrets
import sys
import tempfile
import urllib.error

from common.cli import Failure

HASH_KINDS = ("md5", "sha256", "sha256-prefix")
_HEX_LENGTHS = {"md5": (32, 32), "sha256": (64, 64), "sha256-prefix": (8, 64)}
_HASH_DESCRIPTIONS = {"md5": "an md5 digest (32 hex digits)", "sha256": "a sha256 digest (64 hex digits)",
                      "sha256-prefix": "a sha256 prefix (8 to 64 hex digits)"}


class DownloadError(Failure):
    """A weight file could not be fetched or failed its hash check (the message is one line)."""


def _keras_home() -> str:
    """Keras' base directory: the value Keras fixed when it was imported, else the same rule
    (``$KERAS_HOME``, else ``~/.keras``, else ``/tmp/.keras`` when the home is not writable)."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "keras_home"):
        return config.keras_home()
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def _writable(path: str) -> bool:
    """Writable if it exists, creatable (its nearest existing ancestor is writable) if it does not."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _check_file_name(file_name: str) -> None:
    if (not isinstance(file_name, str) or not file_name or file_name in (".", "..")
            or "/" in file_name or os.sep in file_name or (os.altsep and os.altsep in file_name)):
        raise ValueError(f"file_name {file_name!r} is not a plain file name; expected a name such as "
                         "'resnet18-f37072fd.pth', without directories (use cache_subdir or cache_dir)")


def cache_path(file_name: str, cache_subdir: str = "models", cache_dir: str | None = None) -> str:
    """Where ``file_name`` lives in the Keras cache, by ``keras.utils.get_file``'s rules:
    ``<cache_dir>/<cache_subdir>/<file_name>``, ``cache_dir`` defaulting to Keras' home
    (``$KERAS_HOME`` or ``~/.keras``, as read when Keras was imported) and an absolute
    ``cache_subdir`` used as is; a ``cache_dir`` that cannot be written (nor created) is replaced by
    ``/tmp/.keras``, as get_file does. Creates nothing."""
    _check_file_name(file_name)
    base = os.path.expanduser(_keras_home() if cache_dir is None else os.fspath(cache_dir))
    if not _writable(base):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(base, os.fspath(cache_subdir), file_name)


def _check_hash_args(file_hash: str | None, hash_kind: str) -> str | None:
    """The expected hash in lower case; ValueError for an unknown kind or a malformed hash."""
    if hash_kind not in HASH_KINDS:
        raise ValueError(f"unknown hash_kind {hash_kind!r}; accepted: " + ", ".join(map(repr, HASH_KINDS)))
    if file_hash is None:
        return None
    lo, hi = _HEX_LENGTHS[hash_kind]
    if not isinstance(file_hash, str) or not re.fullmatch(f"[0-9a-fA-F]{{{lo},{hi}}}", file_hash):
        raise ValueError(f"file_hash {file_hash!r} is not {_HASH_DESCRIPTIONS[hash_kind]}, "
                         f"as hash_kind={hash_kind!r} requires")
    return file_hash.lower()


def digest(path: str, hash_kind: str = "sha256") -> str:
    """The hex digest of the file at ``path``: md5 for ``"md5"``, else sha256 (read in 1 MB chunks)."""
    h = hashlib.md5() if hash_kind == "md5" else hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _matches(actual: str, expected: str, hash_kind: str) -> bool:
    return actual.startswith(expected) if hash_kind == "sha256-prefix" else actual == expected


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _network_reason(err: BaseException) -> str | None:
    """A short reason for a transfer failure, or None if ``err`` is not one (it is then re-raised)."""
    if isinstance(err, urllib.error.HTTPError):
        return _one_line(f"HTTP {err.code} {err.reason}")
    if isinstance(err, urllib.error.ContentTooShortError):  # urlretrieve: fewer bytes than announced
        return _one_line(f"transfer cut short: {err.reason}")
    if isinstance(err, urllib.error.URLError):
        return _one_line(err.reason)
    if isinstance(err, (OSError, http.client.HTTPException)):  # mid-body: reset, timeout, bad response
        return _one_line(f"connection lost: {err}" if str(err) else f"connection lost: {type(err).__name__}")
    return None


@contextlib.contextmanager
def _keras_output(keras, progress: bool):
    """Keras' own download messages and progress bar on stdout, or (``progress=False``) sent to absl
    logging at INFO level through Keras' thread-local interactive-logging switch."""
    if progress or not keras.config.is_interactive_logging_enabled():
        yield
        return
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        keras.config.enable_interactive_logging()


def fetch(url: str, file_name: str, file_hash: str | None, hash_kind: str = "md5", *,
          cache_subdir: str = "models", cache_dir: str | None = None, progress: bool = True,
          offline: bool = False) -> str:
    """The path of ``file_name`` in the Keras cache (``cache_path``), downloaded from ``url`` unless
    a cached copy passes the hash check.

    ``hash_kind``: ``"md5"`` or ``"sha256"`` (``file_hash`` is the full hex digest, as
    keras.applications publishes them) or ``"sha256-prefix"`` (torchvision's convention:
    ``file_hash`` is the first hex digits of the sha256 that the file name embeds, e.g.
    ``resnet18-f37072fd.pth``). ``file_hash=None`` checks nothing: a cached file is then returned as
    it is. A cached file that fails its check is replaced by a fresh download (it stays until a
    verified download replaces it).

    Raises ValueError for an unknown ``hash_kind``, a malformed ``file_hash`` or a file name with
    directories in it, and DownloadError (one line) when the transfer fails (no network, HTTP error,
    connection lost or transfer cut short: the message names the URL and the path where a copy
    obtained elsewhere can be placed) or the download fails its hash check (the message names the
    file and both hashes; the download is removed). After a failure nothing of the download is left
    in the cache. ``offline=True``: only a verified cached copy, never a download (DownloadError
    saying the file is not cached, or fails its check).
    """
    expected = _check_hash_args(file_hash, hash_kind)
    target = cache_path(file_name, cache_subdir, cache_dir)
    stale = None  # the digest of a cached copy that fails its check
    if os.path.isfile(target):
        if expected is None:
            return target
        stale = digest(target, hash_kind)
        if _matches(stale, expected, hash_kind):
            return target
    what = "a sha256 starting with" if hash_kind == "sha256-prefix" else f"{hash_kind}"
    got = hash_kind.split("-")[0]
    if offline:  # a caller that must not reach the network (a report)
        raise DownloadError(f"{file_name} is not in the Keras cache ({target})" if stale is None else
                            f"{target} fails its hash check (expected {what} {expected}, got {got} {stale})")

    import keras

    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    part_name = f".{file_name}.{secrets.token_hex(4)}.part"
    part = os.path.join(directory, part_name)
    try:
        try:
            with _keras_output(keras, progress):
                # An absolute cache_subdir is used as is: get_file writes into `directory`, whatever
                # it would have made of cache_dir.
                keras.utils.get_file(fname=part_name, origin=url, cache_subdir=directory,
                                     cache_dir=directory, force_download=True)
        except Exception as wrapped:
            # get_file re-raises HTTPError and URLError as a bare Exception; the original is its context.
            err = wrapped.__context__ if type(wrapped) is Exception and wrapped.__context__ else wrapped
            reason = _network_reason(err)
            if reason is None:
                raise
            if stale is not None:  # the copy placed in the cache is not the published file
                raise DownloadError(f"{target} is in the cache but fails its hash check (expected {what} {expected}, "
                                    f"got {got} {stale}), and a fresh copy could not be downloaded from {url} "
                                    f"({reason}); replace it with the published file") from err
            import ssl

            # no route to the server (no network, DNS, refused, timed out); not a server's answer, a
            # transfer cut short or a certificate (TLS) refused
            unreachable = (isinstance(err, urllib.error.URLError)
                           and not isinstance(err, (urllib.error.HTTPError, urllib.error.ContentTooShortError))
                           and not isinstance(getattr(err, "reason", None), ssl.SSLError))
            hint = ("without network, download it elsewhere and place it at" if unreachable
                    else "a copy obtained elsewhere can be placed at")
            raise DownloadError(f"could not download {url} ({reason}); {hint} {target}") from err
        if expected is not None:
            actual = digest(part, hash_kind)
            if not _matches(actual, expected, hash_kind):
                raise DownloadError(f"{file_name} downloaded from {url} failed its hash check: expected "
                                    f"{what} {expected}, got {got} {actual}; "
                                    "the download was removed from the cache")
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(part)
    return target
