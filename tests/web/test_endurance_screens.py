"""The endurance screens on a real stack: the director sets up a kart-pool endurance race
in race control (teams, drivers, pit rules), the teams drive real passes, and race control's
pit panel sends pit in, a driver change and pit out through the API. Meanwhile the TV shows
the stint, stops, driver, PIT badge and pace colours; a team's phone (360 × 780) shows its
stint, stops and projected position and calls the driver change; the penalty the short stop
earns is confirmed from the penalty list. A lap race afterwards has the usual board again."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from .conftest import screenshot

# Teams: (car, team, drivers, starting kart). A kart pool: passes carry the kart's number.
TEAMS = [(1, "Red Rockets", "Ann, Bob", 11), (2, "Blue Thunder", "Cy, Di", 12),
         (3, "Gold Rush", "Eve, Fay", 13)]
SPARE = 14
# Laps per kart (ns): kart 11 fast, kart 12 slow, kart 13 one lap (no pace yet).
# (No two crossings at the same nanosecond: one lane's sensor sees them, and the lap service
# keeps one pass per lane and stamp.)
LAPS = {11: [600_000_000] * 6, 12: [751_000_000] * 5, 13: [900_000_000]}
MAX_STINT_LAPS = 8  # team 1 after 6 laps: the window closes in 2 laps -> the call
MIN_PIT_S = 30  # every stop in this test is shorter: a short_stop violation

# The phone's voice and vibration, recorded instead of played.
RECORD_ALERTS = """
window.__spoken = []; window.__vibrated = [];
if (window.speechSynthesis) {
  speechSynthesis.speak = (u) => window.__spoken.push(u.text);
  speechSynthesis.cancel = () => {};
}
navigator.vibrate = (pattern) => { window.__vibrated.push(pattern); return true; };
"""


def crossings(start_ns: int) -> list[tuple[int, int]]:
    """(t_ns, kart) of every crossing, in time order."""
    out = []
    for kart, laps in LAPS.items():
        t = start_ns
        for lap_ns in laps:
            t += lap_ns
            out.append((t, kart))
    return sorted(out)


def test_endurance_tv_team_phone_and_pit_control(web, open_page):
    control = open_page("/control.html", 1280, 1100)
    feedback = control.locator("#feedback")
    control.fill("#pin", "4321")
    control.click("#login-form button[type=submit]")
    expect(control.locator("#director")).to_be_visible()

    tv = open_page("/tv.html", 1920, 1080)
    expect(tv.locator("html")).to_have_attribute("data-live", "live")
    usual_heads = tv.locator("table.board thead th").all_inner_texts()
    assert [h.upper() for h in usual_heads] == ["POS", "DRIVER", "LAPS", "LAST", "BEST", "GAP"]

    # --- set-up in race control: endurance fields, teams with drivers and karts, pit rules
    form = control.locator("#setup-form")
    form.locator("input[name=name]").fill("Kart enduro")
    form.locator("select[name=mode]").select_option("endurance")
    expect(control.locator("#pit-rules")).to_be_visible()
    form.locator("select[name=ends_by]").select_option("time")
    form.locator("input[name=minutes]").fill("10")
    form.locator("select[name=entrant]").select_option("car")
    form.locator("input[name=min_lap_s]").fill("0.3")
    form.locator("input[name=required_stops]").fill("1")
    form.locator("input[name=min_pit_s]").fill(str(MIN_PIT_S))
    form.locator("input[name=max_stint_laps]").fill(str(MAX_STINT_LAPS))
    form.locator("input[name=penalty_s]").fill("5")
    form.locator("input[name=spare_karts]").fill(str(SPARE))
    expect(control.locator("#entrant-rows")).to_have_attribute("aria-busy", "false")
    rows = control.locator("#entrant-rows tr")
    for i, (car, team, drivers, kart) in enumerate(TEAMS):
        if rows.count() <= i:
            control.click("#add-entrant")
        row = rows.nth(i)
        row.locator(".entrant-n").fill(str(car))
        row.locator(".entrant-driver").fill(team)
        row.locator(".entrant-drivers").fill(drivers)
        row.locator(".entrant-kart").fill(str(kart))
    form.locator("button[type=submit]").click()
    expect(feedback).to_contain_text("is set up")
    state = web.wait_state(lambda s: s.name == "Kart enduro" and s.phase == "ready",
                           what="endurance set up")
    race_id = state.race_id
    assert state.mode == "endurance" and state.duration_s == 600
    rules = state.pit_rules
    assert (rules.required_stops, rules.min_pit_ms, rules.max_stint_laps, rules.penalty_ms) == \
        (1, MIN_PIT_S * 1000, MAX_STINT_LAPS, 5000)
    with web.client() as c:
        config = c.get(f"/api/races/{race_id}").json()["config"]
    assert [(e["car"], e["driver"], e["drivers"], e["kart"]) for e in config["entrants"]] == \
        [(car, team, [d.strip() for d in drivers.split(",")], kart)
         for car, team, drivers, kart in TEAMS]
    assert config["spare_karts"] == [SPARE]

    # The team's phone, opened by its link; voice and vibration recorded.
    phone = open_page("/team.html#entrant=1", 360, 780)
    phone.add_init_script(RECORD_ALERTS)
    phone.reload()
    expect(phone.locator("#mine")).to_be_visible()
    expect(phone.locator("#who")).to_contain_text("Red Rockets")

    control.click("button[data-action=start]")
    state = web.wait_state(lambda s: s.race_id == race_id and s.phase == "running",
                           timeout=10, what="green")
    for t_ns, kart in crossings(state.start_ns):
        while time.monotonic_ns() < t_ns:  # a pass is published once its edge has happened
            time.sleep(0.001)
        web.send_pass(lane=1, t_ns=t_ns, car=kart)
    state = web.wait_state(lambda s: [r.laps for r in s.standings] == [6, 5, 1],
                           what="every lap counted")
    by_team = {r.entrant: r for r in state.standings}
    assert [by_team[n].pace for n in (1, 2, 3)] == ["good", "bad", "unknown"]

    # --- TV: the endurance columns with their values, pace colours with words
    expect(tv.locator("table.board")).to_have_attribute("data-columns", "endurance")
    heads = [h.upper() for h in tv.locator("table.board thead th").all_inner_texts()]
    assert heads == ["POS", "TEAM", "DRIVER", "LAPS", "STINT", "STOPS", "LAST", "BEST", "GAP",
                     "PACE"]
    for n, (stint, wheel, kart, pace) in {1: ("6", "Ann", "K11", "good"),
                                          2: ("5", "Cy", "K12", "bad"),
                                          3: ("1", "Eve", "K13", "unknown")}.items():
        row = tv.locator(f'#standings tr[data-entrant="{n}"]')
        expect(row).to_have_attribute("data-pace", pace)
        expect(row.locator("td.stint")).to_have_text(stint)
        expect(row.locator("td.stops")).to_have_text("0/1")
        expect(row.locator("td.wheel")).to_have_text(f"{wheel}{kart}")
        expect(row.locator("td.pace")).to_have_text(pace)
        expect(row.locator("td.who")).to_contain_text({t[0]: t[1] for t in TEAMS}[n])
    colours = tv.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#standings tr')].map(r => [r.dataset.pace,
        getComputedStyle(r.querySelector('.pace-dot')).backgroundColor]))""")
    assert colours == {"good": "rgb(34, 197, 94)", "bad": "rgb(255, 69, 58)",
                       "unknown": "rgb(78, 161, 255)"}
    expect(tv.locator("#standings .tag.pit")).to_have_count(0)
    screenshot(tv, "endurance-tv-1920x1080")

    # --- the phone: stint, stops, projected position; the window closes in 2 laps: the call
    expect(phone.locator("#stint-driver")).to_have_text("Ann")
    expect(phone.locator("#stint-laps")).to_have_text("6")
    expect(phone.locator("#stops")).to_have_text("0 / 1")
    expect(phone.locator("#pos")).to_have_text("P1")
    expect(phone.locator("#projected")).to_have_text(f"P{by_team[1].projected}")
    expect(phone.locator("#pace")).to_have_text("pace good")
    expect(phone.locator("#window-closes")).to_have_text(f"lap {MAX_STINT_LAPS} (in 2)")
    expect(phone.locator("#next-driver")).to_have_text("Bob")
    call = phone.locator("#call")
    expect(call).to_be_visible()
    expect(call).to_have_attribute("data-kind", "window")
    expect(phone.locator("#call-title")).to_have_text("Box within 2 laps")
    expect(phone.locator("#call-detail")).to_have_text("Driver change: Bob")
    assert phone.evaluate("window.__vibrated.length") == 1
    assert "Box, box" in phone.evaluate("window.__spoken.join(' ')")
    screenshot(phone, "endurance-team-360x780", full_page=True)

    # Another team's phone picks its team from the race's teams; the link says which.
    other = open_page("/team.html", 360, 780)
    choices = other.locator("#choices button")
    expect(choices).to_have_count(len(TEAMS))
    screenshot(other, "endurance-team-picker-360x780")
    choices.filter(has_text="Blue Thunder").click()
    expect(other.locator("#who")).to_contain_text("Blue Thunder")
    assert other.evaluate("location.hash") == "#entrant=2"
    expect(other.locator("#pace")).to_have_text("pace bad")
    expect(other.locator("#call")).to_be_hidden()  # 3 laps left in its stint: no call yet
    screenshot(open_page("/tv.html", 360, 780), "endurance-tv-360x780")

    # --- race control: pit in through the pit panel
    expect(control.locator("#pits")).to_be_visible()
    team1 = control.locator('#pit-rows tr[data-entrant="1"]')
    expect(team1.locator(".name")).to_have_text("Red Rockets")
    expect(team1.locator('[data-pit="pit_out"]')).to_be_disabled()
    team1.locator('[data-pit="pit_in"]').click()
    expect(feedback).to_contain_text("Pit in Red Rockets: done")
    web.wait_state(lambda s: s.standings[0].pit.in_pit, what="team 1 in the pit")
    expect(team1).to_have_attribute("data-in-pit", "true")
    expect(team1.locator('[data-pit="pit_in"]')).to_be_disabled()

    # The TV's PIT badge with the time in the pit; the phone's pit call.
    badge = tv.locator('#standings tr[data-entrant="1"] .tag.pit')
    expect(badge).to_be_visible()
    expect(badge).to_have_text(re.compile(r"PIT 0:0\d"))
    expect(call).to_have_attribute("data-kind", "pit")
    expect(phone.locator("#call-title")).to_have_text("In the pit")
    expect(phone.locator("#call-detail")).to_have_text("Driver change: Bob")
    expect(phone.locator("#in-pit")).to_have_text(re.compile(r"0:0\d"))
    assert phone.evaluate("window.__vibrated.length") == 2
    screenshot(tv, "endurance-tv-pit-1920x1080")
    screenshot(phone, "endurance-team-pit-360x780", full_page=True)

    # Bob takes over in the spare kart.
    team1.locator(".next-driver").select_option("Bob")
    team1.locator('[data-pit="driver"]').click()
    expect(feedback).to_contain_text("Red Rockets: Bob drives: done")
    web.wait_state(lambda s: s.standings[0].stint.driver == "Bob", what="Bob named")
    team1.locator(".pit-kart").fill(str(SPARE))
    team1.locator('[data-pit="pit_out"]').click()
    expect(feedback).to_contain_text(f"Pit out Red Rockets in kart {SPARE}: done")
    state = web.wait_state(lambda s: not s.standings[0].pit.in_pit, what="team 1 out")
    out = next(r for r in state.standings if r.entrant == 1)
    assert (out.kart, out.stint.no, out.stint.driver, out.pit.stops) == (SPARE, 2, "Bob", 1)
    expect(badge).to_have_count(0)
    tv_team1 = tv.locator('#standings tr[data-entrant="1"]')
    expect(tv_team1.locator("td.wheel")).to_have_text(f"BobK{SPARE}")
    expect(tv_team1.locator("td.stops")).to_have_text("1/1")
    expect(call).to_be_hidden()
    expect(phone.locator("#stops")).to_have_text("1 / 1")
    expect(phone.locator("#stint-driver")).to_have_text("Bob")

    # --- the short stop's penalty: pending, confirmed from the list
    assert [(p.entrant, p.rule, p.status) for p in state.penalties] == \
        [(1, "short_stop", "pending")]
    penalty = control.locator(f'#penalties li[data-penalty="{state.penalties[0].id}"]')
    expect(penalty).to_have_attribute("data-status", "pending")
    expect(penalty).to_contain_text("Red Rockets")
    expect(penalty).to_contain_text("Short stop")
    penalty.locator('[data-decide="confirm"]').click()
    web.wait_state(lambda s: s.penalties and s.penalties[0].status == "confirmed",
                   what="penalty confirmed")
    expect(penalty).to_have_attribute("data-status", "confirmed")
    screenshot(control, "endurance-control-1280", full_page=True)

    # --- afterwards a lap race: the TV's usual columns again
    control.click("button[data-action=finish]")
    web.wait_state(lambda s: s.race_id == race_id and s.phase == "finished", what="finish")
    with web.director() as d:
        r = d.post("/api/races", json={"mode": "laps", "laps": 3, "entrant": "car",
                                       "entrants": [{"car": 1, "driver": "Ann"}]})
        assert r.status_code == 201, r.text
    expect(tv.locator("table.board")).not_to_have_attribute("data-columns", "endurance")
    assert tv.locator("table.board thead th").all_inner_texts() == usual_heads
    expect(tv.locator("table.board col")).to_have_count(6)
