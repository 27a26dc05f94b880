"""Headless Chromium driven through the DevTools protocol over aiohttp's websocket client: a
page to load, script to evaluate, real mouse clicks and screenshots (no extra dependency)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class DevToolsError(Exception):
    pass


class Page:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def send(self, method: str, **params) -> dict:
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        async for message in self.socket:  # events in between are not needed here
            answer = json.loads(message.data)
            if answer.get("id") == number:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer["result"]
        raise DevToolsError(f"{method}: the browser closed the connection")

    async def evaluate(self, expression: str):
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30) -> None:
        """Until ``expression`` is true; an error (no body yet, a page being replaced) counts
        as false."""
        deadline = asyncio.get_running_loop().time() + timeout
        guarded = (
            f"(() => {{ try {{ return Boolean({expression}); }} catch {{ return false; }} }})()"
        )
        while True:
            with contextlib.suppress(DevToolsError):
                if await self.evaluate(guarded):
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"still false after {timeout}s: {expression}")
            await asyncio.sleep(0.2)

    async def open(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def click(self, selector: str) -> None:
        """A left click in the middle of the element, as a mouse would."""
        box = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        await self.send("Input.dispatchMouseEvent", type="mouseMoved", **box)
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, button="left", clickCount=1, **box
            )

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium_page(
    chromium: str, flags: list[str], profile: Path, timeout: float = 60
) -> AsyncIterator[Page]:
    """A blank tab of a fresh headless Chromium (its DevTools port picked by Chromium)."""
    process = await asyncio.create_subprocess_exec(
        chromium, *flags, "--remote-debugging-port=0", f"--user-data-dir={profile}",
        "--window-size=1280,1000", "about:blank",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    drain = None
    try:
        browser_url = await asyncio.wait_for(_devtools_url(process), timeout)
        # Chromium logs much more; nobody reads the rest, so do not let the pipe fill.
        drain = asyncio.create_task(process.stderr.read())
        port = browser_url.split(":")[2].split("/")[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json(content_type=None)
            tab = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                yield Page(socket)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        if drain is not None:
            drain.cancel()


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    lines = []
    while line := await process.stderr.readline():
        lines.append(line.decode(errors="replace"))
        if found := LISTENING.search(lines[-1]):
            return found.group(1)
    raise DevToolsError("chromium exited before it opened DevTools:\n" + "".join(lines[-20:]))
