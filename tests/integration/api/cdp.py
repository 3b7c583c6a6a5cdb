"""A minimal Chrome DevTools Protocol driver for headless Chromium: press keys, type text, read
the page with JavaScript. Enough to test the officer page as an officer uses it (keyboard only);
aiohttp's WebSocket client talks to the browser, so no browser-automation package is needed."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "/usr/bin/chromium"
KEYS = {"Enter": 13, "Tab": 9, "Escape": 27, "/": 191}


class Browser:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive(timeout=30)).data)
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                result: dict[str, Any] = msg.get("result", {})
                return result

    async def js(self, expression: str) -> Any:
        found = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                awaitPromise=True)
        return found["result"].get("value")

    async def until(self, expression: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    async def key(self, name: str) -> None:
        code = KEYS[name]
        text = {"Enter": "\r", "/": "/"}.get(name)
        down: dict[str, Any] = {"type": "keyDown", "key": name, "windowsVirtualKeyCode": code}
        if text:
            down["text"] = text
        await self.send("Input.dispatchKeyEvent", **down)
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=name,
                        windowsVirtualKeyCode=code)

    async def type(self, text: str) -> None:
        await self.send("Input.insertText", text=text)


def launch(profile: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    """Starts headless Chromium on ``url``; returns the process and the page's DevTools URL."""
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=1366,768", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    port = None
    while port is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if found:
            port = found.group(1)
        assert line or proc.poll() is None, "chromium exited"
    assert port, "chromium did not open DevTools"
    # Keep reading its stderr so a chatty browser never blocks on a full pipe.
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    for _ in range(50):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
            pages = [t for t in json.loads(resp.read()) if t.get("type") == "page"]
        if pages:
            return proc, str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.1)
    raise AssertionError("no page target")
