"""An open-loop HTTP load generator: GET one URL at a fixed rate, report the latency.

    http_paced.py --url http://127.0.0.1:8080/api/races/current --rate 1000 --seconds 10

Requests are spread over ``--connections`` keep-alive HTTP/1.1 connections (asyncio
streams, no client library in the way). Each request has a scheduled send time; its
latency is counted from that time, not from when it was actually sent, so a server that
falls behind shows it (no coordinated omission). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def connection(host: str, port: int, path: str, schedule: list[float],
                     latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    for due in schedule:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append((time.monotonic() - due) * 1000)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(1)
    writer.close()


async def main_async(url: str, rate: float, seconds: float, connections: int) -> dict:
    parts = urlsplit(url)
    start = time.monotonic() + 0.2
    total = int(rate * seconds)
    schedules = [[start + i / rate for i in range(c, total, connections)]
                 for c in range(connections)]
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(*(connection(parts.hostname, parts.port, parts.path, s, latencies,
                                      errors) for s in schedules))
    elapsed = time.monotonic() - start
    latencies.sort()

    def rank(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, round(q * len(latencies)) - 1)], 3)

    return {"requests": len(latencies), "errors": len(errors), "rate": rate,
            "achieved_per_s": round(len(latencies) / elapsed, 1),
            "latency_ms": {"p50": rank(0.5), "p99": rank(0.99),
                           "max": round(latencies[-1], 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.url, args.rate, args.seconds,
                                            args.connections))))


if __name__ == "__main__":
    main()
