"""A minimal Reflex websocket client: one browser tab's protocol, without the browser.

Reflex 0.10 speaks Socket.IO (protocol 5) over Engine.IO 4 on the path ``/_event``, namespace
``/_event``, with the Reflex version as websocket subprotocol. What ``.web/utils/state.js``
does, and this client copies:

* open ``ws://host/_event/?token=<tab token>&EIO=4&transport=websocket`` (the browser sends
  the page's cookies with the handshake: here the HttpOnly session cookie);
* send the Socket.IO CONNECT for ``/_event`` whose auth payload carries the boot event
  ``reflex___state____state.hydrate_and_load`` (payload ``hashes`` = the compiled
  ``initialStateHashes``, router_data ``pathname``/``asPath`` of the page) and the compiled
  ``stateSchema``; the backend hydrates and runs the page's ``on_load`` handlers;
* every update arrives as ``42/_event,["event", {"delta": {...}, "events": [...]}]``; the
  returned backend events are sent back as ``42/_event,["event", {name, payload,
  router_data}]``; ``_call_script`` is answered like the page would (here: the time zone
  callback with ``UTC``); Engine.IO pings (``2``) are answered (``3``).

Each frame is time-stamped (``time.time()``) the moment it is read, before it is parsed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

NS = "/_event"
EVENT_PREFIX = f"42{NS},"
HYDRATE = "reflex___state____state.hydrate_and_load"
ESIM_STATE = (
    "reflex___state____state.travelsim___state___session____session_state."
    "travelsim___state___esim____esim_state"
)
_CALLBACK = re.compile(r'ReflexEvent\(\\?"([^"\\]+)\\?", \{(\w+):_result\}\)')


@dataclass
class Compiled:
    """What the compiled frontend sends on connect (read from ``.web``)."""

    hashes: list[str]
    schema: str
    version: str

    @classmethod
    def read(cls, web: Path) -> Compiled:
        ctx = (web / "utils" / "context.jsx").read_text()
        hashes = re.search(r"initialStateHashes = (\[.*?\])", ctx)
        schema = re.search(r'stateSchema = "(\w+)"', ctx)
        if hashes is None or schema is None:
            raise RuntimeError("initialStateHashes / stateSchema not found in context.jsx")
        version = json.loads((web / "reflex.json").read_text())["version"]
        return cls(json.loads(hashes.group(1)), schema.group(1), version)


@dataclass
class Session:
    """One traveler's dashboard tab."""

    base_url: str
    path: str
    cookie_header: str
    compiled: Compiled
    timezone: str = "UTC"
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Merged state per substate, as the page's reducers would hold it.
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (receive time, frame length, parsed update) of every event frame.
    frames: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    bytes_received: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: Any = None
    _task: asyncio.Task[None] | None = None
    _watch_key: str = ""
    _watch_old: Any = None
    watch_seen_at: float | None = None

    @property
    def router_data(self) -> dict[str, str]:
        return {"pathname": self.path, "asPath": self.path}

    def esim(self, var: str) -> Any:
        return self.state.get(ESIM_STATE, {}).get(f"{var}_rx_state_")

    async def connect(self) -> None:
        ws_url = self.base_url.replace("http", "ws", 1) + (
            f"{NS}/?token={self.token}&EIO=4&transport=websocket"
        )
        self._ws = await websockets.connect(
            ws_url,
            subprotocols=[websockets.Subprotocol(self.compiled.version)],
            additional_headers={"Cookie": self.cookie_header, "Origin": self.base_url},
            max_size=None,
            compression=None,
            open_timeout=60,
            ping_interval=None,
        )
        opened = await self._ws.recv()
        if not str(opened).startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO open: {opened!r}")
        boot = {
            "event": {
                "name": HYDRATE,
                "payload": {"hashes": self.compiled.hashes},
                "router_data": self.router_data,
            },
            "state_schema": self.compiled.schema,
        }
        await self._ws.send(f"40{NS}," + json.dumps(boot))
        self._task = asyncio.create_task(self._reader())

    def watch_for_change(self, var: str) -> None:
        """Note the first later frame whose ``var`` of the eSIM state differs from now."""
        self._watch_key = f"{var}_rx_state_"
        self._watch_old = self.esim(var)
        self.watch_seen_at = None
        self.changed.clear()

    async def _send_event(self, name: str, payload: dict[str, Any]) -> None:
        event = {"name": name, "payload": payload, "router_data": self.router_data}
        await self._ws.send(EVENT_PREFIX + json.dumps(["event", event]))

    async def _reader(self) -> None:
        ws = self._ws
        try:
            async for raw in ws:
                now = time.time()
                msg = raw if isinstance(raw, str) else raw.decode()
                self.bytes_received += len(msg)
                if msg == "2":
                    await ws.send("3")
                    continue
                if not msg.startswith(EVENT_PREFIX):
                    continue
                _name, update = json.loads(msg[len(EVENT_PREFIX) :])
                self.frames.append((now, len(msg), update))
                for substate, values in (update.get("delta") or {}).items():
                    self.state.setdefault(substate, {}).update(values)
                    if (
                        self._watch_key
                        and self.watch_seen_at is None
                        and substate == ESIM_STATE
                        and self._watch_key in values
                        and values[self._watch_key] != self._watch_old
                    ):
                        self.watch_seen_at = now
                        self.changed.set()
                for event in update.get("events") or []:
                    await self._answer(event)
        except websockets.ConnectionClosed:
            pass

    async def _answer(self, event: dict[str, Any]) -> None:
        name = str(event.get("name", ""))
        if name == "_call_script":
            callback = str(event.get("payload", {}).get("callback") or "")
            found = _CALLBACK.search(callback)
            if found and "timeZone" in str(event["payload"].get("javascript_code")):
                await self._send_event(found.group(1), {found.group(2): self.timezone})
            return
        if name.startswith("_"):
            return  # frontend-only events (redirect, focus, …): nothing to send
        await self._send_event(name, event.get("payload") or {})

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
