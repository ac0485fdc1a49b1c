"""The maintainer's side of the API over a real stack: the box's health as ``pitwall
health`` publishes it, the Wi-Fi clients from dnsmasq's lease file, the diagnostics
archive (no secrets in it), backups and restore, the export, and ``/metrics`` as
Prometheus itself parses it."""

from __future__ import annotations

import io
import tarfile
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pitwall.backup import archive

from ..support import ServiceProcess
from .conftest import PIN, Stack, api_stack
from .test_races import S, publish_pass, start_race, wait_json

LEASES = ("{exp} 3c:22:fb:01:02:03 10.77.0.23 annes-phone 01:3c:22:fb:01:02:03\n"
          "0 aa:bb:cc:dd:ee:ff 10.77.0.40 * *\n"
          "not a lease line\n")
MAINTENANCE = ["/api/maintenance/health", "/api/maintenance/clients",
               "/api/maintenance/diagnostics.tar.gz"]


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("maint")
    leases = tmp / "dnsmasq.leases"
    leases.write_text(LEASES.format(exp=int(time.time()) + 3600))
    with api_stack(broker, tmp, api={"metrics": True}, health={"interval_s": 1},
                   hotspot={"leases_file": str(leases)}) as s:
        health = ServiceProcess(tmp / "pitwall.toml", "health").start()
        try:
            yield s
        finally:
            health.stop()


def test_maintenance_reads_and_writes_need_the_director(public, director):
    for path in MAINTENANCE:
        assert public.get(path).status_code == 401, path
        assert director.get(path).status_code == 200, path
    assert public.post("/api/maintenance/backup").status_code == 401
    assert public.post("/api/maintenance/restore", content=b"x").status_code == 401
    # What every page shows stays public.
    assert public.get("/api/export.json").status_code == 200


def test_health_arrives_from_pitwall_health_with_its_history(director):
    body = wait_json(director, "/api/maintenance/health",
                     lambda b: b["now"] is not None and len(b["history"]) >= 2, timeout=20,
                     what="two health readings")
    now = body["now"]
    assert now["version"] and now["mem_total_mib"] > 0 and now["disk_free_mib"] > 0
    assert {s["name"] for s in now["services"]} >= {"laps", "api"}
    laps = next(s for s in now["services"] if s["name"] == "laps")
    assert laps["mqtt"] == "online"
    ats = [p["at"] for p in body["history"]]
    assert ats == sorted(ats) and len(set(ats)) == len(ats)


def test_wifi_clients_come_from_the_lease_file(director):
    clients = director.get("/api/maintenance/clients").json()
    assert [(c["mac"], c["ip"], c["hostname"]) for c in clients] == [
        ("3c:22:fb:01:02:03", "10.77.0.23", "annes-phone"),
        ("aa:bb:cc:dd:ee:ff", "10.77.0.40", None)]
    assert clients[1]["expires_at"] == 0


def test_the_diagnostics_archive_carries_no_secrets(stack: Stack, director):
    r = director.get("/api/maintenance/diagnostics.tar.gz")
    assert r.headers["content-type"] == "application/gzip"
    assert "attachment" in r.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar
                 if m.isfile()}
    assert set(files) >= {"README.txt", "journal.txt", "settings.json", "health.json",
                          "versions.json", "lap-stats.json"}
    everything = b"".join(files.values())
    assert PIN.encode() not in everything
    assert stack.settings.wifi.passphrase.encode() not in everything
    assert b"(removed: a secret)" in files["settings.json"]


def test_backup_and_restore_through_the_api(stack: Stack, director, public):
    race_id, green = start_race(director, public, mode="laps", laps=2, entrant="car",
                                min_lap_ms=100, entrants=[{"car": 1, "driver": "Ann"}])
    for n in (1, 2, 3):
        publish_pass(stack, 1, 1, green + n * S)
    wait_json(public, "/api/races/current", lambda s: s["phase"] == "finished",
              timeout=15, what="finish")
    r = director.post("/api/maintenance/backup")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith('attachment; filename="pitwall-backup-')
    backup = r.content
    assert archive.manifest_of(backup)["passes"] >= 3

    later, _ = start_race(director, public, mode="practice", entrant="car")
    assert later != race_id
    # A damaged upload: refused, and the race set up since is still there.
    r = director.post("/api/maintenance/restore", content=backup[:-200])
    assert r.status_code == 400 and "nothing was changed" in r.json()["detail"], r.text
    assert public.get("/api/races/current").json()["race_id"] == later
    # Refused while the practice runs.
    r = director.post("/api/maintenance/restore", content=backup)
    assert r.status_code == 409 and "nothing was changed" in r.json()["detail"], r.text
    assert public.get("/api/races/current").json()["race_id"] == later
    assert director.post("/api/races/current/abort").status_code == 200

    r = director.post("/api/maintenance/restore", content=backup)
    assert r.status_code == 200, r.text
    assert r.json()["restored"] is True and r.json()["passes"] >= 3
    wait_json(public, "/api/races/current", lambda s: s["race_id"] == race_id,
              what="the restored race")
    assert race_id in [x["id"] for x in public.get("/api/races").json()]
    assert later not in [x["id"] for x in public.get("/api/races").json()]
    # The setup tables are there in the restored database: the driver list answers.
    assert public.get("/api/drivers").status_code == 200


def test_the_export_is_every_race_as_the_pages_show_it(public):
    doc = public.get("/api/export.json").json()
    assert doc["format"] == "pitwall-export" and doc["version"] == 1
    for race in doc["races"]:
        assert race["detail"]["race"]["id"] and isinstance(race["laps"], list)


def test_metrics_parse_with_prometheus_own_parser(stack: Stack, public):
    # The lap service's counters arrive on laps/stats every few seconds.
    deadline = time.monotonic() + 15
    while True:
        text = public.get("/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        passes = families.get("pitwall_laps_passes")
        if (passes and passes.samples[0].value >= 3) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert families["pitwall_laps_online"].samples[0].value == 1
    assert families["pitwall_mqtt_connected"].samples[0].value == 1
    assert families["pitwall_laps_passes"].type == "counter"
    assert families["pitwall_laps_passes"].samples[0].value >= 3
    assert families["pitwall_laps_stored"].samples[0].value >= 3
    assert "pitwall_data_disk_free_mib" in families
    assert any(name.startswith("pitwall_api_") for name in families), sorted(families)
