"""Headless Chromium driven over the DevTools protocol on a pipe, for report tests.

Chromium reads commands on its fd 3 and writes answers and events on fd 4, each message
JSON ended by a NUL byte (--remote-debugging-pipe). That needs no WebSocket client and
no port. Only what the tests use is here: open a page, read its text and elements,
collect console errors, failed loads and exceptions, take a screenshot.
"""

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# Flags for a root user on a machine without network: no sandbox (root), no GPU, and no
# background connections, which the closed network would refuse with errors of its own.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]


def executable() -> str | None:
    """Chromium's path, or None where it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """What a page showed: its text, problems reported while loading, a screenshot."""

    def __init__(self, text: str, errors: list[str], counts: dict[str, int], png: bytes):
        self.text = text
        self.errors = errors
        self.counts = counts
        self.png = png


class Chromium:
    """One headless browser; use as a context manager."""

    def __init__(self) -> None:
        path = executable()
        if path is None:
            raise RuntimeError("chromium is not installed (make test installs it)")
        self._profile = tempfile.TemporaryDirectory(prefix="evaltool-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # bash puts the pipe ends on the fds Chromium expects, then becomes Chromium (dash
        # cannot redirect from fds above 9, which a test process may well have).
        self._proc = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}',
                path,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self._send("Browser.close")
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._profile.cleanup()

    def open(self, path: Path, *, dark: bool = False, width: int = 1200, height: int = 900) -> Page:
        """Load a file, wait for its load event, and report what it showed."""
        if not path.is_file():
            raise FileNotFoundError(path)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        scheme = "dark" if dark else "light"
        self.call(
            "Emulation.setEmulatedMedia",
            session=session,
            features=[{"name": "prefers-color-scheme", "value": scheme}],
        )
        self._events.clear()
        self.call("Page.navigate", session=session, url=path.resolve().as_uri())
        self._wait_event("Page.loadEventFired", session)
        text = self.evaluate(session, "document.body.innerText")
        counts = self.evaluate(
            session,
            "({scripts: document.scripts.length, images: document.images.length,"
            " svgs: document.querySelectorAll('svg').length,"
            " handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes]"
            ".some(a => a.name.startsWith('on'))).length})",
        )
        shot = self.call("Page.captureScreenshot", session=session, format="png")
        return Page(text, self._errors(session), counts, base64.b64decode(shot["data"]))

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        answer = self.call(
            "Runtime.evaluate", session=session, expression=expression, returnByValue=True
        )
        return answer["result"].get("value")

    def call(self, method: str, *, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer; events meanwhile are kept."""
        message_id = self._send(method, session, params)
        while True:
            message = self._receive()
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._events.append(message)

    def _send(self, method: str, session: str | None = None, params: Any = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _wait_event(self, method: str, session: str) -> None:
        while not any(
            e.get("method") == method and e.get("sessionId") == session for e in self._events
        ):
            self._events.append(self._receive())

    def _errors(self, session: str) -> list[str]:
        """Console errors, uncaught exceptions and log errors (failed loads, blocked
        resources) that the page reported."""
        errors = []
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled" and params["type"] in (
                "error",
                "assert",
            ):
                errors.append(" ".join(str(a.get("value")) for a in params["args"]))
            elif event.get("method") == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"]["text"])
        return errors
