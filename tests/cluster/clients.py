"""Spectators' browsers for the cluster tests: WebSocket clients of ``/api/live`` in one
background event loop. Each records the lap events it gets; a client that follows
(``follow=True``, the load balancer's address) reconnects when its connection drops, as
the web app does, notes how soon the race state arrived, and then fetches the race's laps
over HTTP to catch up on what passed while it was away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field

import httpx
import websockets


@dataclass
class Client:
    url: str  # http://host:port
    follow: bool
    laps: set[tuple[int, int, int]] = field(default_factory=set)  # (race, entrant, lap)
    live: set[tuple[int, int, int]] = field(default_factory=set)  # ... of them pushed live
    connects: int = 0
    state_after_s: list[float] = field(default_factory=list)  # connect -> first state
    errors: list[str] = field(default_factory=list)


class Spectators:
    def __init__(self) -> None:
        self.clients: list[Client] = []
        self.loop = asyncio.new_event_loop()
        self._tasks: list[asyncio.Future] = []
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def add(self, url: str, follow: bool) -> Client:
        client = Client(url, follow)
        self.clients.append(client)
        self._tasks.append(asyncio.run_coroutine_threadsafe(self._run(client), self.loop))
        return client

    def wait_connected(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(c.state_after_s for c in self.clients):
            assert time.monotonic() < deadline, "not every spectator got the race state"
            time.sleep(0.1)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _run(self, client: Client) -> None:
        ws_url = client.url.replace("http://", "ws://") + "/api/live"
        while True:
            began = time.monotonic()
            try:
                async with websockets.connect(ws_url, open_timeout=10, max_size=None) as ws:
                    client.connects += 1
                    await self._listen(client, ws, began)
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as exc:
                client.errors.append(repr(exc))
            if not client.follow:
                return
            await asyncio.sleep(0.2)

    async def _listen(self, client: Client, ws, began: float) -> None:
        caught_up = False
        async for message in ws:
            frame = json.loads(message)
            if frame["type"] == "state":
                if not caught_up:
                    client.state_after_s.append(time.monotonic() - began)
                    caught_up = True
                    race = frame["data"]["race_id"]
                    if race is not None and client.connects > 1:
                        await self._catch_up(client, race)
            elif frame["type"] == "lap" and not frame["data"]["suspect"]:
                d = frame["data"]
                key = (d["race_id"], d["entrant"], d["lap"])
                client.laps.add(key)
                client.live.add(key)

    async def _catch_up(self, client: Client, race: int) -> None:
        async with httpx.AsyncClient(base_url=client.url, timeout=10) as http:
            with contextlib.suppress(httpx.HTTPError):
                laps = (await http.get(f"/api/races/{race}/laps")).json()
                client.laps |= {(race, x["entrant"], x["lap"]) for x in laps}
