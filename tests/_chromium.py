"""A headless Chromium driven over the DevTools protocol, standard library only (for the report's
browser test).

Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages on its fd 3 and
writes them on fd 4, each a JSON object ended by a NUL byte, so no websocket client is needed.
:func:`inspect_page` loads one URL and returns what the test checks: console and page errors, the
images with their ``naturalWidth``, the in-page links and whether their targets exist, and a PNG
screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = (1280, 900)  # CSS pixels, the screenshot's size
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--window-size=1280,900", "about:blank")

_PROBE = """JSON.stringify({
  images: [...document.images].map(i => ({src: i.getAttribute('src'), complete: i.complete,
                                         naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})),
  links: [...document.querySelectorAll('a[href^="#"]')].map(a => ({href: a.getAttribute('href'),
          found: document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))) !== null})),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  details: [...document.querySelectorAll('details')].map(d => d.open),
  title: document.title,
})"""


def _high_fd(fd: int) -> int:
    """``fd`` moved to the lowest free descriptor >= 10."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class ProtocolError(RuntimeError):
    pass


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    details: list[bool] = field(default_factory=list)
    title: str = ""
    screenshot: bytes = b""


class Chromium:
    """One headless Chromium process; a context manager (closes the browser, removes its profile)."""

    def __init__(self, binary: str = CHROMIUM, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child's ends moved to fds >= 10 (never 3 or 4), then bash puts them on Chromium's
        # fds 3 (commands in) and 4 (replies out)
        to_child_r, from_child_w = _high_fd(to_child_r), _high_fd(from_child_w)
        script = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        self.proc = subprocess.Popen(["/bin/bash", "-c", script, binary, *FLAGS, f"--user-data-dir={self.profile}"],
                                     pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    # -- protocol ----------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise ProtocolError(f"Chromium closed its pipe: {self._stderr_tail()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and wait for its reply (events meanwhile go to :attr:`events`)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """The first event ``method`` (already received or coming)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + self.timeout
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _stderr_tail(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return (self.proc.stderr.read() or b"").decode(errors="replace")[-500:]

    # -- lifetime ------------------------------------------------------------------------------------
    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close")
        except (ProtocolError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def _errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and error log entries (failed loads) among ``events``."""
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = p.get("exceptionDetails", {})
            out.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
    return out


def inspect_page(url: str, timeout: float = 30.0) -> PageReport:
    """Load ``url`` in a fresh headless Chromium and report what a reader's browser would show."""
    with Chromium(timeout=timeout) as browser:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": VIEWPORT[0], "height": VIEWPORT[1],
                                                             "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_for("Page.loadEventFired")
        probe = browser.send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, session=session)
        data = json.loads(probe["result"]["value"])
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        page_events = [e for e in browser.events if e.get("sessionId") == session]
        return PageReport(errors=_errors(page_events), images=data["images"], links=data["links"], ids=data["ids"],
                          details=data["details"], title=data["title"], screenshot=base64.b64decode(shot["data"]))
