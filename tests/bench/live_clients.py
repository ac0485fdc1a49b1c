"""Many live clients in one process, recording when each lap reaches each of them.

    live_clients.py --mode api  --url ws://127.0.0.1:8080/api/live   --clients 100
    live_clients.py --mode mqtt --port 9001 --topic ROOT/race/lap     --clients 100

``api``: one picows connection per client on uvloop (see run_api), lap frames of the
Pitwall live push. ``mqtt``: paho clients over MQTT-over-WebSocket (``transport="websockets"``),
subscribed straight to Mosquitto's WebSocket listener: the architecture the live push
replaces. Each paho client runs its own network thread (paho's ``loop_start``).

Prints ``ready`` once every client is connected (and has had its first frames, or its
subscription acknowledged); on ``count`` (a line on stdin) prints how many laps have
arrived so far (over all its clients); on ``stop`` writes its report to the ``--report``
file: ``{"arrivals": [[client, lap t_ns, arrival ns], ...], "messages": m, "clients": n}``
(``m``: WebSocket or MQTT messages received after the first, over all clients), arrival on
CLOCK_MONOTONIC, the clock the pass's ``t_ns`` was taken from. (A file, not stdout: a
report of megabytes through the pipe came back damaged past its first 64 KiB.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid

import msgspec


class Frame(msgspec.Struct):
    """A live frame as the load generator reads it: its type; its data left unparsed."""
    type: str
    data: msgspec.Raw = msgspec.Raw(b"null")


class Lap(msgspec.Struct):
    t_ns: int



def wait_for_stop(arrivals: list) -> None:
    """Answer ``count`` lines until ``stop`` (or stdin closes)."""
    while (line := sys.stdin.readline().strip()) not in ("stop", ""):
        if line == "count":
            print(len(arrivals), flush=True)


def run_api(url: str, n: int) -> tuple[list[list[int]], int]:
    """picows (a Cython WebSocket library) on uvloop: the load generator shares the
    machine's cores with what it measures, so it must cost little per frame.
    ``websockets.connect`` took about 100 µs of CPU per frame here, websockets' sans-I/O
    protocol on a bare transport about 47 µs: in both cases the clients used as much CPU
    as the replicas serving them. picows does not offer permessage-deflate, as a browser
    would; the replicas of a cluster turn it off anyway (``api.live_deflate``)."""
    import picows
    import uvloop

    # Typed decoders skip what they are not asked for: a batch's state (the standings, a
    # few KiB) costs a scan, not a dict per entrant. With json.loads of every batch the
    # clients were the largest user of CPU on the machine (about 65 µs a frame).
    decode = msgspec.json.Decoder(list[Frame] | Frame).decode
    decode_lap = msgspec.json.Decoder(Lap).decode
    arrivals: list[list[int]] = []
    messages = [0]  # after the snapshot, over all clients

    async def main() -> None:
        ready, counter = asyncio.Event(), [0]

        class Spectator(picows.WSListener):
            def __init__(self, i: int) -> None:
                self.i, self.seen = i, False

            def on_ws_frame(self, transport, frame) -> None:
                now = time.monotonic_ns()
                if frame.msg_type != picows.WSMsgType.TEXT:
                    return  # pings are answered by picows
                if not self.seen:  # the snapshot: state, lights, status in one message
                    self.seen = True
                    counter[0] += 1
                    if counter[0] == n:
                        ready.set()
                    return
                messages[0] += 1
                data = frame.get_payload_as_bytes()
                if b'{"type":"lap"' in data:  # a lap frame, alone or in a batch
                    frames = decode(data)
                    for f in frames if isinstance(frames, list) else [frames]:
                        if f.type == "lap":
                            arrivals.append([self.i, decode_lap(f.data).t_ns, now])

        transports = []
        for i in range(n):  # connect in small steps, as browsers would arrive
            transport, _ = await picows.ws_connect(lambda i=i: Spectator(i), url,
                                                   websocket_handshake_timeout=60)
            transports.append(transport)
            if i % 20 == 19:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(ready.wait(), 120)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, wait_for_stop, arrivals)
        for transport in transports:
            transport.disconnect()

    uvloop.run(main())
    return arrivals, messages[0]


def run_mqtt(port: int, topic: str, n: int) -> tuple[list[list[int]], int]:
    from paho.mqtt.client import CallbackAPIVersion, Client

    arrivals: list[list[int]] = []
    lock = threading.Lock()
    subscribed = threading.Semaphore(0)
    clients = []
    for i in range(n):
        c = Client(CallbackAPIVersion.VERSION2, client_id=f"ws-{uuid.uuid4().hex[:8]}",
                   transport="websockets")
        c.ws_set_options(path="/")

        def on_connect(client, userdata, flags, rc, props):
            client.subscribe(topic, qos=1)

        def on_message(client, userdata, msg, i=i):
            now = time.monotonic_ns()
            t_ns = json.loads(msg.payload)["t_ns"]
            with lock:
                arrivals.append([i, t_ns, now])

        c.on_connect = on_connect
        c.on_subscribe = lambda *a: subscribed.release()
        c.on_message = on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients.append(c)
    for _ in range(n):
        if not subscribed.acquire(timeout=120):
            raise SystemExit("MQTT-over-WebSocket clients did not all subscribe")
    print("ready", flush=True)
    sys.stdin.readline()
    for c in clients:
        c.disconnect()
        c.loop_stop()
    return arrivals, len(arrivals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["api", "mqtt"], required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--url")
    parser.add_argument("--port", type=int)
    parser.add_argument("--topic")
    parser.add_argument("--report", required=True, help="write the JSON report here")
    args = parser.parse_args()
    if args.mode == "api":
        arrivals, messages = run_api(args.url, args.clients)
    else:
        arrivals, messages = run_mqtt(args.port, args.topic, args.clients)
    with open(args.report, "w") as out:
        json.dump({"arrivals": arrivals, "messages": messages, "clients": args.clients}, out)


if __name__ == "__main__":
    main()
