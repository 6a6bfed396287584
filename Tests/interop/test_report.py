"""celldrift report: one well-formed, self-contained HTML file whose drawn figures match the data (the
spread chart against numpy on the replayed features, the alarm markers and table against the outbox,
the heat map singling out the faulty cell), small for a month of data, and a screenshot from headless
Chromium taken by the repo's script."""
import json
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import ROOT, json_lines, run

SAMPLES = ROOT / "firmware-samples" / "simulated"
CONFIG = ROOT / "firmware-samples" / "celldrift_pack.toml"
LABELS = {label["fault"]: label for label in json.loads((SAMPLES / "labels.json").read_text())}
SVG = "{http://www.w3.org/2000/svg}"


def make_report(tmp_path, faults):
    database = tmp_path / "outbox.db"
    logs = [SAMPLES / f"{fault}.log.gz" for fault in faults]
    run("replay", "--config", CONFIG, "--db", database, "--features-out", tmp_path / "features.jsonl", *logs)
    report = tmp_path / "report.html"
    args = ["report", "--db", database, "--config", CONFIG, "-o", report]
    for log in logs:
        args += ["--log", log]
    run(*args)
    return database, report


def parse(report):
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # Well-formed: the whole page parses as XML (no unclosed or stray tags, every entity escaped).
    root = ET.fromstring(text[len("<!DOCTYPE html>"):])
    # Self-contained: nothing is fetched and nothing runs.
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text and " src=" not in text
    return root


def section(root, vehicle):
    return next(s for s in root.iter("section") if s.get("data-vehicle") == vehicle)


def test_report_figures_match_the_data(tmp_path, celldrift):
    faults = ["micro-short", "resistance-growth"]
    database, report = make_report(tmp_path, faults)
    root = parse(report)
    features = json_lines((tmp_path / "features.jsonl").read_text())
    records = json_lines(run("outbox", "export", "--db", database)[0])
    for fault in faults:
        part = section(root, fault)
        spreads = np.array([row["spread"] for row in features if row["vehicle"] == fault])
        # The largest spread stated is numpy's over the replayed snapshots.
        largest = float(part.find(".//b[@class='largest-spread']").get("data-value"))
        assert largest == spreads.max()
        # ... and the spread chart draws it: the band's highest point, read back through the chart's
        # axes, is that spread within one pixel.
        chart = next(svg for svg in part.iter(SVG + "svg") if svg.get("data-chart") == "spread")
        y0, y1, v0, v1 = (float(chart.get(k)) for k in ("data-y0", "data-y1", "data-v0", "data-v1"))
        top = min(float(point.split(",")[1]) for polygon in chart.iter(SVG + "polygon")
                  for point in polygon.get("points").split())
        drawn = v0 + (top - y0) / (y1 - y0) * (v1 - v0)
        pixel = abs((v1 - v0) / (y1 - y0))
        assert abs(drawn - spreads.max() * 1000) <= pixel
        threshold = chart.find(SVG + "line[@class='threshold']")
        assert float(threshold.get("data-value")) == 50
        # One marker per alarm of this vehicle, where it was raised, spanning to its clear (or the chart's end
        # while active); the table lists exactly the outbox's records.
        mine = [r for r in records if r["vehicle"] == fault]
        raised = [r for r in mine if r["type"] == "alarm" and r["payload"].get("transition", "raised") == "raised"]
        assert raised
        markers = sorted(float(line.get("data-time")) for line in chart.iter(SVG + "line") if line.get("class") == "marker")
        assert markers == sorted(r["event_time"] for r in raised)
        clears = {r["payload"]["alarm_id"]: r["event_time"] for r in mine if r["payload"].get("transition") == "cleared"}
        for span in (rect for rect in chart.iter(SVG + "rect") if rect.get("class") == "alarm-span"):
            alarm = next(r for r in raised if r["event_time"] == float(span.get("data-time")))
            assert span.get("data-end") == (str(clears[alarm["id"]]) if alarm["id"] in clears else "active")
        rows = [tr.get("data-id") for tr in part.iter("tr") if tr.get("data-id")]
        assert sorted(rows) == sorted(r["id"] for r in mine)
        # The heat map, at its last column: each cell's colour step is its deviation at the last snapshot
        # (one snapshot a second, one bucket a second here) on the map's scale; the micro-short cell is
        # the one at the scale's end.
        heatmap = next(svg for svg in part.iter(SVG + "svg") if svg.get("class") == "heatmap")
        last_x = max(float(rect.get("x")) for rect in heatmap.iter(SVG + "rect") if rect.get("data-cell"))
        ending = {}
        for rect in heatmap.iter(SVG + "rect"):
            if rect.get("data-cell") and float(rect.get("x")) + float(rect.get("width")) >= last_x:
                ending[int(rect.get("data-cell"))] = int(rect.get("data-level"))
        deviations = np.array([row["deviation"] for row in features if row["vehicle"] == fault])
        scale = float(heatmap.get("data-scale-mv"))
        assert np.isclose(scale, np.abs(deviations).max() * 1000, rtol=1e-9)
        expected = np.clip(np.round(deviations[-1] * 1000 / scale * 8), -8, 8)
        drawn = np.array([ending.get(cell, 0) for cell in range(96)])
        assert np.abs(drawn - expected).max() <= 1 and (drawn == expected).mean() > 0.95
        if fault == "micro-short":
            assert max(ending, key=lambda cell: abs(ending[cell])) == LABELS[fault]["cell"]
            # The per-cell table ranks that cell first, by its DBC name, with the replay's last deviation.
            first = next(tr for tr in part.iter("tr") if tr.get("data-cell-number"))
            cells = [td for td in first.iter("td")]
            assert int(first.get("data-cell-number")) == LABELS[fault]["cell"]
            assert cells[2].text == f"CellVoltage_{LABELS[fault]['cell']:03d}"
            assert abs(float(cells[3].get("data-value")) - deviations[-1][LABELS[fault]["cell"]]) < 1e-9
            # The records' table names the alarm's cell as the DBC does.
            named = f"{LABELS[fault]['cell']} (CellVoltage_{LABELS[fault]['cell']:03d})"
            assert any(td.text == named for tr in part.iter("tr") if tr.get("data-id") for td in tr.iter("td"))


def test_report_without_logs_shows_the_outbox(tmp_path, celldrift):
    database = tmp_path / "outbox.db"
    run("replay", "--config", CONFIG, "--db", database, SAMPLES / "hot-spot.log.gz")
    report = tmp_path / "report.html"
    stored = len(json_lines(run("outbox", "export", "--db", database)[0]))
    assert stored >= 1
    _, err = run("report", "--db", database, "-o", report)
    root = parse(report)
    part = section(root, "hot-spot")
    assert f"{stored} outbox records" in err
    assert [tr.get("data-id") for tr in part.iter("tr") if tr.get("data-id")]
    assert not list(part.iter(SVG + "svg"))


def test_a_month_stays_a_few_megabytes(tmp_path, celldrift):
    """30 days of snapshots, one a minute (43,200; made here with numpy, a cell drifting 1 mV a day):
    the report stays small because every chart is drawn from at most 1,800 buckets, whatever the length."""
    rng = np.random.default_rng(7)
    minutes = 30 * 24 * 60
    times = 1_767_225_600 + 60 * np.arange(minutes)
    current = 40 * np.sin(np.arange(minutes) / 90)
    lines = []
    for index in range(minutes):
        v = 3.7 - 0.0005 * current[index] / 40 + rng.normal(0, 0.0015, 96)
        v[30] -= 0.001 * index / 1440
        lines.append(json.dumps({"ts": int(times[index]), "cell_voltages": np.round(v, 4).tolist(),
                                 "cell_temperatures": [20.0, 21.5], "current": round(current[index], 2),
                                 "soc": 50 + 30 * np.sin(index / 700)}))
    snapshots = tmp_path / "month.jsonl"
    snapshots.write_text("\n".join(lines) + "\n")
    # With the shipped pack model: one inference event a day (from the second day on), drawn as scores.
    config = tmp_path / "with-model.toml"
    assert 'pack = "models/pack-model.safetensors"' in CONFIG.read_text()
    config.write_text(CONFIG.read_text().replace('dbc = "celldrift_pack.dbc"', f'dbc = "{CONFIG.parent / "celldrift_pack.dbc"}"')
                      .replace('pack = "models/', f'pack = "{CONFIG.parent / "models"}/')
                      .replace('cell = "models/', f'cell = "{CONFIG.parent / "models"}/'))
    summary = json.loads(run("replay", "--config", config, "--db", tmp_path / "o.db", "--json", snapshots)[0])
    assert summary["inference_events"] == 29
    report = tmp_path / "month.html"
    run("report", "--db", tmp_path / "o.db", "--config", config, "--log", snapshots, "-o", report)
    root = parse(report)
    events = [r for r in json_lines(run("outbox", "export", "--db", tmp_path / "o.db")[0]) if r["type"] == "inference"]
    assert [e["payload"]["date"] for e in events] == [f"2026-01-{day:02d}" for day in range(2, 31)]
    # Day 2's window has one day of data: the 13 days before it are missing (-1), as in the seed.
    assert events[0]["payload"]["total_voltage_14"] == -1 and events[0]["payload"]["total_voltage_1"] > 300
    scores = next(svg for svg in root.iter(SVG + "svg") if svg.get("data-chart") == "scores")
    drawn = sorted(float(c.get("data-score")) for c in scores.iter(SVG + "circle"))
    assert drawn == sorted(e["score"] for e in events)
    size = report.stat().st_size
    assert size < 4_000_000
    chart = next(svg for svg in root.iter(SVG + "svg") if svg.get("data-chart") == "spread")
    points = sum(len(p.get("points").split()) for p in chart.iter(SVG + "polygon"))
    assert 900 * 4 <= points <= 1800 * 4
    # The drifting cell ends at the blue end of the heat map.
    heatmap = next(svg for svg in root.iter(SVG + "svg") if svg.get("class") == "heatmap")
    last_x = max(float(rect.get("x")) for rect in heatmap.iter(SVG + "rect"))
    ending = {int(r.get("data-cell")): int(r.get("data-level")) for r in heatmap.iter(SVG + "rect")
              if float(r.get("x")) + float(r.get("width")) >= last_x}
    assert ending[30] == -8 and all(level > -8 for cell, level in ending.items() if cell != 30)


def test_screenshot_script(tmp_path, celldrift):
    from PIL import Image

    _, report = make_report(tmp_path, ["micro-short"])
    png = tmp_path / "report.png"
    subprocess.run([ROOT / "scripts" / "report-screenshot.sh", report, png, "1600"], check=True, timeout=180)
    image = Image.open(png).convert("RGB")
    assert image.size == (1060, 1600)
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    # Not a blank page: dark text, the red spread band, and the deep blue row of the discharging cell.
    assert (pixels.sum(axis=1) < 200).sum() > 1000
    assert ((pixels[:, 0] > 180) & (pixels[:, 1] < 120) & (pixels[:, 2] < 120)).sum() > 200
    assert ((pixels[:, 2] > 200) & (pixels[:, 0] < 60)).sum() > 200


def test_reading_a_misspelt_outbox_path_is_an_error_and_creates_nothing(tmp_path, celldrift):
    """Issue 18: `outbox stats --db typo.db` and `report --db typo.db` made an empty database and exit 0."""
    missing = tmp_path / "typo.db"
    for args in (["outbox", "stats", "--db", missing], ["outbox", "list", "--db", missing],
                 ["report", "--db", missing, "--output", tmp_path / "r.html"]):
        _, err = run(*args, check=False)
        assert f"{missing}: no such outbox" in err, err
        assert not missing.exists()


@pytest.mark.parametrize("cells", [16, 96, 216])
def test_the_heat_map_is_readable_at_any_cell_count(tmp_path, celldrift, cells):
    """Issue 18: a 16-cell pack's map was 64 px tall with a label on every 4-px row. Rows are 2 to 16 px
    now, and labels (the user's cell numbers) stand at least 12 px apart."""
    config = tmp_path / "pack.toml"
    if cells <= 96:
        config.write_text(CONFIG.read_text().replace("cells = 96", f"cells = {cells}")
                          .replace('dbc = "celldrift_pack.dbc"', f'dbc = "{CONFIG.parent / "celldrift_pack.dbc"}"')
                          .replace('pack = "models/', f'pack = "{CONFIG.parent / "models"}/'))
    else:  # foxBMS's DBC carries 216 cells
        config.write_text((CONFIG.parent / "foxbms.toml").read_text().replace('dbc = "foxbms.dbc"', f'dbc = "{CONFIG.parent / "foxbms.dbc"}"'))
    rng = np.random.default_rng(cells)
    lines = []
    for second in range(300):
        v = 3.7 + rng.normal(0, 0.002, cells)
        lines.append(json.dumps({"ts": 1_767_225_600 + second, "cell_voltages": list(v), "current": 10.0, "vehicle": "V"}))
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    run("replay", "--config", config, "--db", tmp_path / "o.db", tmp_path / "s.jsonl")
    run("report", "--db", tmp_path / "o.db", "--config", config, "--log", tmp_path / "s.jsonl", "-o", tmp_path / "r.html")
    heatmap = next(svg for svg in parse(tmp_path / "r.html").iter(SVG + "svg") if svg.get("class") == "heatmap")
    height = float(heatmap.get("height"))
    assert height >= 34 + 2 * cells and height >= 34 + min(16 * cells, 480)
    labels = [(float(t.get("y")), t.text) for t in heatmap.iter(SVG + "text") if t.get("class") == "tick" and t.get("text-anchor") == "end"]
    gaps = [b[0] - a[0] for a, b in zip(labels, labels[1:])]
    assert labels and min(gaps) >= 12 and labels[0][1] == "0"
    assert len(labels) >= min(cells, height // 40)
