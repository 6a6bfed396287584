"""A BMS sends its multiplexed cell pages in a burst each period. A snapshot must hold one burst's pages,
whatever page a log (or a logging gap) begins with: pairing a burst's first page with the previous
burst's others put the cells of one page tens of millivolts off the rest under a changing current."""
import json

import cantools

from conftest import run

DBC = """VERSION ""

BS_:

BU_: BMS

BO_ 944 BMS_Status: 8 BMS
 SG_ Current : 0|16@1- (0.1,0) [-3000|3000] "A" Vector__XXX

BO_ 960 BMS_Cells: 8 BMS
 SG_ Page M : 0|8@1+ (1,0) [0|2] "" Vector__XXX
 SG_ Cell1_V m0 : 8|16@1+ (0.001,0) [0|5] "V" Vector__XXX
 SG_ Cell2_V m0 : 24|16@1+ (0.001,0) [0|5] "V" Vector__XXX
 SG_ Cell3_V m1 : 8|16@1+ (0.001,0) [0|5] "V" Vector__XXX
 SG_ Cell4_V m1 : 24|16@1+ (0.001,0) [0|5] "V" Vector__XXX
 SG_ Cell5_V m2 : 8|16@1+ (0.001,0) [0|5] "V" Vector__XXX
 SG_ Cell6_V m2 : 24|16@1+ (0.001,0) [0|5] "V" Vector__XXX
"""

CONFIG = """dbc = "{dbc}"

[pack]
cells = 6
cell_voltage = "Cell{{index}}_V"
cell_voltage_index_base = 1
current = "Current"
current_positive = "discharge"

[snapshot]
stale_after_s = 5
tick_s = 2

[features]
window = 10
"""


def write_log(path, database, seconds):
    """`seconds`: (second, pages sent that second); the current alternates 0 / 100 A second to second and
    every cell reads 3.7 V - 1 mOhm x current, so the true spread is 0 at every instant."""
    status, cells = database.get_message_by_name("BMS_Status"), database.get_message_by_name("BMS_Cells")
    lines = []
    for second, pages in seconds:
        current = 100.0 if second % 2 else 0.0
        volts = round(3.7 - 0.001 * current, 3)
        time = 1_780_000_000 + second
        lines.append(f"({time + 0.005:.6f}) can0 3B0#{status.encode({'Current': current}).hex().upper()}")
        for page in pages:
            data = cells.encode({"Page": page, f"Cell{2 * page + 1}_V": volts, f"Cell{2 * page + 2}_V": volts})
            lines.append(f"({time + 0.020 + 0.225 * page:.6f}) can0 3C0#{data.hex().upper()}")
    path.write_text("\n".join(lines) + "\n")


def test_snapshots_hold_one_burst_whatever_page_the_log_starts_with(tmp_path, celldrift):
    (tmp_path / "pack.dbc").write_text(DBC)
    database = cantools.database.load_string(DBC, "dbc")
    (tmp_path / "pack.toml").write_text(CONFIG.format(dbc=tmp_path / "pack.dbc"))
    # The log starts at page 1; the last second before a 10-minute gap ends after page 0, so the
    # period open at the gap would close on the first page after it.
    seconds = [(0, [1, 2])] + [(s, [0, 1, 2]) for s in range(1, 60)] + [(60, [0])] + \
              [(s, [0, 1, 2]) for s in range(660, 720)]
    write_log(tmp_path / "pack.log", database, seconds)
    out, _ = run_replay(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "features.jsonl").read_text().splitlines()]
    assert len(rows) >= 110, out
    spreads = [row["spread"] for row in rows]
    assert max(spreads) < 0.0015, [(row["ts"], row["spread"]) for row in rows if row["spread"] >= 0.0015][:5]
    # Each snapshot is taken at its burst's last page.
    assert all(round(row["ts"] % 1, 3) == 0.47 for row in rows), sorted({round(row["ts"] % 1, 3) for row in rows})


def run_replay(folder):
    return run("replay", "--config", folder / "pack.toml", "--db", folder / "o.db", "--features-out",
               folder / "features.jsonl", "--json", folder / "pack.log")
