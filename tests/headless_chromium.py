"""A headless Chromium driven through the DevTools protocol over a pipe (no npm, no websocket).

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from its file
descriptor 3 and writes answers and events to descriptor 4, one JSON message each, ended by
a NUL byte. :class:`Chromium` starts the browser with its own empty profile and no network
services of its own (no updates, sync or sign-in), opens one page and offers what the site
tests need: open a local page and record every request it makes, evaluate JavaScript, take a
screenshot.

    with Chromium(binary, profile_dir) as browser:
        requests = browser.open("file:///.../index.html")      # the URLs the page loaded
        browser.evaluate("document.title")
        browser.screenshot(path)
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-first-run",
         "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
         "--force-device-scale-factor=1", "--remote-debugging-pipe"]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium():
    """The path of a Chromium (or Chrome) binary on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page (tab), controlled over the DevTools pipe."""

    def __init__(self, binary, profile_dir, width=1400, height=900, timeout=30.0):
        self.timeout = timeout
        self.width, self.height = width, height
        to_browser_read, to_browser_write = os.pipe()
        from_browser_read, from_browser_write = os.pipe()
        # the child must see them as fds 3 and 4: move them out of the way first
        self._child_in = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
        self._child_out = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
        os.close(to_browser_read)
        os.close(from_browser_write)

        def as_fds_3_and_4():
            os.dup2(self._child_in, 3)
            os.dup2(self._child_out, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile_dir}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=as_fds_3_and_4)     # noqa: PLW1509 (only dup2)
        os.close(self._child_in)
        os.close(self._child_out)
        self._write, self._read = to_browser_write, from_browser_read
        self._buffer = b""
        self._next_id = 0
        self._events = []
        self.session = None
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    # -- the protocol ---------------------------------------------------------------------

    def _send(self, method, params=None, session=True):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise BrowserError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True):
        """Send a command and return its result (events that arrive meanwhile are kept)."""
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def wait_for(self, event, timeout=None):
        """Wait for an event of this name; return its parameters."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, message in enumerate(self._events):
                if message["method"] == event:
                    return self._events.pop(i).get("params", {})
            message = self._receive(deadline)
            if "method" in message:
                self._events.append(message)

    def _attach(self):
        pages = [t for t in self.call("Target.getTargets", session=False)["targetInfos"]
                 if t["type"] == "page"]
        if not pages:
            pages = [{"targetId": self.call("Target.createTarget", {"url": "about:blank"},
                                            session=False)["targetId"]}]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": pages[0]["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        self.call("Page.enable")
        self.call("Network.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})

    # -- what the tests use ---------------------------------------------------------------

    def open(self, url, settle="true"):
        """Load ``url``, wait for its load event and for the JavaScript promise ``settle``
        (e.g. MathJax's typesetting); return the URLs of every request the page made."""
        self._events = [e for e in self._events if e["method"] != "Network.requestWillBeSent"]
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")
        self.evaluate(settle)
        return [e["params"]["request"]["url"] for e in self._events
                if e["method"] == "Network.requestWillBeSent"]

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path, y=0):
        """Save the viewport, scrolled so that page coordinate ``y`` is at its top, as PNG."""
        self.evaluate(f"window.scrollTo(0, {int(y)}); new Promise(r => setTimeout(r, 100))")
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as stream:
            stream.write(base64.b64decode(data))

    def close(self):
        try:
            if self.session:
                self._send("Browser.close", session=False)
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):     # still running: stop it
            self.process.kill()
            self.process.wait()
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
