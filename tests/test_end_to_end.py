"""End to end: simulator -> Mosquitto -> lap service -> SQLite and race/state, all real
processes. What the simulator generated (its recording) must come out to the nanosecond.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict

import httpx
import pytest

from pitwall import contract
from pitwall.sim import passlog

from .laps.conftest import start_race
from .support import ServiceProcess

CARS = 6


@pytest.mark.slow
def test_simulated_race_with_six_cars_is_stored_and_published_exactly(tmp_path, settings,
                                                                       probe):
    config = tmp_path / "pitwall.toml"
    record = tmp_path / "sim.csv"
    laps = ServiceProcess(config, "laps").start()
    sim = ServiceProcess(config, "sim", "--cars", str(CARS), "--lap-s", "0.6", "--deslot",
                         "0.1", "--seed", "11", "--record", str(record)).start()
    try:
        probe.wait_online("laps")
        probe.wait_for(lambda: contract.ONLINE in probe.on(probe.topics.status("sim")))
        entrants = [contract.EntrantSpec(car=i, driver=f"D{i}") for i in range(1, CARS + 1)]
        state = start_race(probe, mode="laps", laps=5, entrant="car", min_lap_ms=300,
                           entrants=entrants)
        final = probe.wait_for(lambda: (s := probe.last_state()) and s.phase == "finished"
                               and s, timeout=60, what="finished race")
    finally:
        sim.stop()
        laps.stop()

    # Expected: laps from the simulator's own recording, lap 1 timed from green.
    crossings = defaultdict(list)
    for row in passlog.read(record):
        t_ns = int(row.t_ms * 1_000_000)
        if t_ns >= state.start_ns:
            crossings[row.car].append(t_ns)
    con = sqlite3.connect(settings.database_path)
    stored = defaultdict(list)
    for car, lap, lap_ns, t_ns in con.execute(
            "select entrant, lap, lap_ns, t_ns from lap order by entrant, lap"):
        stored[car].append((lap, lap_ns, t_ns))
    con.close()
    assert sorted(stored) == list(range(1, CARS + 1))
    for car, laps_of_car in stored.items():
        ts = crossings[car][:len(laps_of_car)]
        origins = [state.start_ns] + ts[:-1]
        assert laps_of_car == [(n + 1, t - o, t) for n, (t, o) in enumerate(zip(ts, origins))]
    by_car = {s.entrant: s for s in final.standings}
    for car, laps_of_car in stored.items():
        assert by_car[car].laps == len(laps_of_car)
        assert by_car[car].last_t_ns == laps_of_car[-1][2]
        assert by_car[car].best_ms == round(min(n for _, n, _ in laps_of_car) / 1e6, 3)
    assert final.standings[0].laps == 5 and all(s.finished for s in final.standings)


@pytest.mark.slow
def test_pitwall_up_runs_races_and_stops_everything_on_ctrl_c(tmp_path):
    busy = socket.socket()  # the configured web port is taken: up must pick another
    busy.bind(("0.0.0.0", 0))
    busy.listen()
    env = {"PITWALL_DATA_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin:/usr/sbin",
           "PITWALL_API_PORT": str(busy.getsockname()[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pitwall", "up", "--cars", "3", "--laps", "2", "--lap-s", "0.5",
         "--no-board"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        while not any("Wi-Fi QR code:" in line for line in banner):  # the banner's end
            banner.append(proc.stdout.readline())
            assert proc.poll() is None, "".join(banner)
        db = tmp_path / "var" / "pitwall.db"
        deadline = time.monotonic() + 40
        laps = 0
        while time.monotonic() < deadline and laps < 3:
            time.sleep(0.5)
            if db.exists():
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                laps = con.execute("select count(*) from lap").fetchone()[0]
                con.close()
        assert laps >= 3, "the director's race counted laps from the simulated cars"
        assert f"port {busy.getsockname()[1]} is busy" in "".join(banner)
        # The board's address and this run's PIN are in the banner, and both work.
        text = "".join(banner)
        url = re.search(r"Board \(browser\): +(http://127\.0\.0\.1:\d+/)", text).group(1)
        pin = re.search(r"director's PIN: +(\d{6}) ", text).group(1)
        assert httpx.get(url, timeout=5).status_code == 200
        assert httpx.get(url + "api/health", timeout=5).json()["laps_online"] is True
        # The banner says a demo director runs races, and how it goes away.
        assert "Demo director:" in text and "log in to race control" in text
        assert httpx.get(url + "api/info", timeout=5).json()["demo_director"] is True
        r = httpx.post(url + "api/auth/login", json={"pin": pin}, timeout=5)
        assert r.status_code == 200, r.text
        races = httpx.get(url + "api/races", timeout=5).json()
        assert races and races[0]["name"] == "Club night"
        # A real director logged in: the demo yields at once, and says so.
        deadline = time.monotonic() + 10
        while httpx.get(url + "api/info", timeout=5).json()["demo_director"]:
            assert time.monotonic() < deadline, "the demo director did not yield"
            time.sleep(0.1)
    finally:
        proc.send_signal(subprocess.signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        busy.close()
    assert proc.returncode == 0, out
    assert "pitwall up: stopped" in out
    assert "a race director logged in: the demo director stops" in out
    assert "started a private Mosquitto" in "".join(banner)
    # No race Wi-Fi on a laptop: the banner says why there is no Wi-Fi code.
    assert "Wi-Fi QR code:          none here" in "".join(banner)


def test_pitwall_up_shows_the_wifi_code_racers_join_with(tmp_path):
    from pitwall.dev.up import join_qr
    from pitwall.settings import load

    from .support import write_config

    settings = load(write_config(tmp_path / "p.toml", {
        "wifi": {"ssid": "Race Net", "passphrase": "go-fast-now"}}), environ={})
    lines = join_qr(settings)
    assert lines[0] == '  Join the race Wi-Fi "Race Net" (the TV shows this code):'
    code = lines[1].splitlines()
    # A QR code drawn in blocks: square-ish (two modules per line), at least version 2.
    assert len(code) >= 13 and len({len(row) for row in code}) == 1
    assert set("".join(code)) <= set("█▀▄ ")
