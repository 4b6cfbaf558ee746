"""A minimal W3C WebDriver client for the browser tests: chromedriver on loopback, headless
Chromium, plain HTTP + JSON (no Selenium needed).

``Browser(width)`` starts ``chromedriver`` on a free loopback port and a headless session
whose viewport is exactly ``width`` CSS pixels wide (Chromium's mobile emulation: a window
cannot be narrower than ~500 px, an emulated device can). ``open(url)``, ``js(script)``,
``screenshot(path)`` and ``console()`` (the browser log) are all the tests need.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMEDRIVER = find("chromedriver", "chromium-driver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """One headless Chromium session of viewport ``width`` × ``height`` CSS pixels."""

    def __init__(self, width: int, height: int = 900) -> None:
        assert CHROMIUM and CHROMEDRIVER
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        options = {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
            "mobileEmulation": {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}
            },
        }
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        }
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.proc.kill()
            raise

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read() or b"{}").get("value")

    def _s(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        """Load ``url`` and wait for it (WebDriver waits for the load event)."""
        self._s("POST", "/url", {"url": url})

    def js(self, script: str) -> Any:
        """The value of ``script`` (a function body: ``return ...``) in the page."""
        return self._s("POST", "/execute/sync", {"script": script, "args": []})

    def screenshot(self, path: Path, *, full: bool = True) -> Path:
        """A PNG of the page (all of it with ``full``) written to ``path``."""
        if full:  # grow the emulated screen to the page's height, then shoot
            height = int(self.js("return document.documentElement.scrollHeight"))
            width = int(self.js("return window.innerWidth"))
            self._s(
                "POST",
                "/goog/cdp/execute",
                {
                    "cmd": "Emulation.setDeviceMetricsOverride",
                    "params": {
                        "width": width,
                        "height": min(height, 16000),
                        "deviceScaleFactor": 1,
                        "mobile": width < 600,
                    },
                },
            )
        data = self._s("GET", "/screenshot")
        path.write_bytes(base64.b64decode(data))
        return path

    def console(self) -> list[dict[str, Any]]:
        """Browser log entries since the last call (console messages, failed loads)."""
        return list(self._s("POST", "/se/log", {"type": "browser"}) or [])

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the session may already be gone
            self._s("DELETE", "")
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
