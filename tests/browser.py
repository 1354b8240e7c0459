"""Open a page in a real headless Chromium and report what a reader would see.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
JSON messages ending in NUL on file descriptors 3 and 4), the transport Puppeteer and
Playwright use: no network port, no extra Python package, and the page's own console
is read exactly — unlike scraping `--enable-logging` output, where the browser's own
noise (D-Bus, GPU) mixes with the page's messages.

`check_page(path)` loads a file, waits for its load event and for every image to
decode, and returns a `PageCheck`: console errors, uncaught exceptions, failed loads
(`errors`), each <img> with its natural size and pixel spread as the browser decoded
it (`images`), and a full-page PNG screenshot.
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
from pathlib import Path
from typing import Self

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--mute-audio", "--force-device-scale-factor=1", "--remote-debugging-pipe",
)

# For each <img>: natural size and the standard deviation of its pixels' luminance as the
# browser decoded it (drawn onto a canvas of at most 256 px); 0 means one flat colour.
IMAGES_JS = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.map(img => {
    let spread = null;
    if (img.naturalWidth > 0) {
      const s = Math.min(1, 256 / Math.max(img.naturalWidth, img.naturalHeight));
      const c = document.createElement('canvas');
      c.width = Math.max(1, Math.round(img.naturalWidth * s));
      c.height = Math.max(1, Math.round(img.naturalHeight * s));
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0, c.width, c.height);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let n = 0, sum = 0, sq = 0;
      for (let k = 0; k < d.length; k += 4) {
        const y = 0.299 * d[k] + 0.587 * d[k + 1] + 0.114 * d[k + 2];
        n++; sum += y; sq += y * y;
      }
      spread = Math.sqrt(Math.max(0, sq / n - (sum / n) ** 2));
    }
    return {alt: img.alt, src: img.src.slice(0, 40), complete: img.complete,
            width: img.naturalWidth, height: img.naturalHeight, spread: spread};
  });
})()
"""


SECTIONS_JS = """(() => {
  const heads = [...document.querySelectorAll('h2')];
  const out = {};
  heads.forEach((h, i) => {
    if (!h.id) return;
    const top = h.getBoundingClientRect().top + window.scrollY;
    const next = heads[i + 1] || document.querySelector('footer');
    const bottom = next ? next.getBoundingClientRect().top + window.scrollY : document.body.scrollHeight;
    out[h.id] = [Math.floor(top), Math.ceil(bottom)];
  });
  return out;
})()"""
"""Each section with an id (an <h2 id=…> to the next <h2>): its top and bottom on the page."""


class BrowserUnavailable(RuntimeError):
    """Chromium is missing or does not start (the reason is the message)."""


def find_chromium() -> str | None:
    """`PROMOSIM_CHROMIUM`, else the first Chromium on PATH."""
    named = os.environ.get("PROMOSIM_CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    return next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)


@dataclass
class PageCheck:
    """What the browser saw: errors (console errors, uncaught exceptions, failed loads,
    a failed navigation), images (one dict per <img>), the page title and a screenshot."""

    errors: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    title: str = ""
    screenshot: bytes = b""
    size: tuple[int, int] = (0, 0)
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)   # h2 id → (top, bottom) in page px


class Chromium:
    """One headless Chromium process; use as a context manager."""

    def __init__(self, binary: str | None = None, timeout: float = 30.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            named = os.environ.get("PROMOSIM_CHROMIUM")
            raise BrowserUnavailable(f"PROMOSIM_CHROMIUM={named}: not found" if named else
                                     f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}; "
                                     "Debian: apt-get install chromium)")
        self.timeout = timeout
        self._id = 0
        self._buf = b""
        self._events: list[dict] = []
        self.profile = tempfile.mkdtemp(prefix="promosim-chromium-")
        self.log = open(Path(self.profile) / "chromium.log", "w+b")  # noqa: SIM115 — lives as long as the browser
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Move the child's ends above 2 so that dup2 onto 3 and 4 never aliases them.
        hi_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def pipes_on_3_and_4():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        try:
            self.proc = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                preexec_fn=pipes_on_3_and_4, close_fds=False)  # noqa: PLW1509 — tests start it from one thread
        except OSError as e:
            self._cleanup()
            raise BrowserUnavailable(f"{self.binary} cannot start: {e}") from None
        finally:
            os.close(hi_r)
            os.close(hi_w)
        try:
            self.version = self.call("Browser.getVersion")["product"]
        except BrowserUnavailable:
            self.close()
            raise

    # ------------------------------------------------------------------ protocol
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        except OSError as e:          # the browser is gone (BrokenPipeError) or never came up
            self.proc.poll()
            raise BrowserUnavailable(f"Chromium is not listening on the DevTools pipe ({e}; exit code "
                                     f"{self.proc.returncode}){self._tail()}") from None
        return self._id

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserUnavailable(f"Chromium did not answer within {self.timeout:g} s{self._tail()}")
            ready, _, _ = select.select([self._from_chrome], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise BrowserUnavailable(f"Chromium closed the DevTools pipe{self._tail()}")
                self._buf += chunk
            elif self.proc.poll() is not None:
                raise BrowserUnavailable(f"Chromium exited with code {self.proc.returncode}{self._tail()}")
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and wait for its result; events that arrive meanwhile are kept."""
        mid = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._next(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self._events.append(msg)

    def wait_event(self, method: str, session: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self._events):
                if e["method"] == method and e.get("sessionId") == session:
                    return self._events.pop(i)
            msg = self._next(deadline)
            if "method" in msg:
                self._events.append(msg)

    def _tail(self) -> str:
        try:
            self.log.flush()
            self.log.seek(0)
            text = self.log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        except (OSError, ValueError):
            return ""
        return (": " + " | ".join(text)) if text else ""

    # ---------------------------------------------------------------------- page
    def check_page(self, path: str | Path, width: int = 1200, height: int = 900) -> PageCheck:
        """Load `path` in a new tab, wait for load and image decoding, collect what it shows."""
        url = Path(path).resolve().as_uri()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        nav = self.call("Page.navigate", {"url": url}, session=session)
        out = PageCheck()
        if nav.get("errorText"):
            out.errors.append(f"navigation: {nav['errorText']}")
        else:
            self.wait_event("Page.loadEventFired", session)
        res = self.call("Runtime.evaluate", {"expression": IMAGES_JS, "awaitPromise": True,
                                             "returnByValue": True}, session=session)
        if "exceptionDetails" in res:
            out.errors.append(f"image check failed: {res['exceptionDetails'].get('text')}")
        out.images = res.get("result", {}).get("value") or []
        out.title = self.call("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                              session=session)["result"].get("value", "")
        out.sections = {k: tuple(v) for k, v in (self.call(
            "Runtime.evaluate", {"expression": SECTIONS_JS, "returnByValue": True},
            session=session)["result"].get("value") or {}).items()}
        size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        w, h = int(size["width"]), int(min(size["height"], 30000))
        out.size = (w, h)
        shot = self.call("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True,
                          "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}, session=session)
        out.screenshot = base64.b64decode(shot["data"])
        # Console messages and failures that arrived while the page loaded and drew.
        self.call("Runtime.evaluate", {"expression": "0"}, session=session)   # flush pending events
        for e in self._events:
            if e.get("sessionId") != session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.errors.append("console." + p["type"] + ": " +
                                  " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
            elif e["method"] == "Network.loadingFailed" and not p.get("canceled"):
                out.errors.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
        self._events = [e for e in self._events if e.get("sessionId") != session]
        self.call("Target.closeTarget", {"targetId": target})
        return out

    # ------------------------------------------------------------------- closing
    def close(self) -> None:
        if getattr(self, "proc", None) and self.proc.poll() is None:
            try:
                self._send("Browser.close")
                self.proc.wait(timeout=10)
            except (OSError, BrowserUnavailable, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        for fd in ("_to_chrome", "_from_chrome"):
            try:
                os.close(getattr(self, fd))
            except (AttributeError, OSError):
                pass
        try:
            self.log.close()
        except (AttributeError, OSError):
            pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
