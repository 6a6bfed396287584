"""Pack current and voltage in the DBC's own units (issue 18: mA and dV were taken as A and V): the
daily table, in A and V, says what cantools' physical values mean; an unknown unit is an error naming
the signal and its unit."""
import csv

import cantools

from conftest import run

DBC = """VERSION ""

BS_:

BU_: BMS

BO_ 944 BMS_Status: 8 BMS
 SG_ Current : 0|32@1- (1,0) [-2000000|2000000] "{current_unit}" Vector__XXX
 SG_ PackVoltage : 32|16@1+ (1,0) [0|65535] "dV" Vector__XXX

BO_ 960 BMS_Cells: 8 BMS
 SG_ Cell1_V : 0|16@1+ (1,0) [0|5000] "mV" Vector__XXX
 SG_ Cell2_V : 16|16@1+ (1,0) [0|5000] "mV" Vector__XXX
 SG_ Cell3_V : 32|16@1+ (1,0) [0|5000] "mV" Vector__XXX
 SG_ Cell4_V : 48|16@1+ (1,0) [0|5000] "mV" Vector__XXX
"""

CONFIG = """dbc = "{dbc}"

[pack]
cells = 4
cell_voltage = "Cell{{index}}_V"
cell_voltage_index_base = 1
current = "Current"
current_positive = "charge"
voltage = "PackVoltage"
"""


def write_fleet(folder, current_unit):
    (folder / "pack.dbc").write_text(DBC.format(current_unit=current_unit))
    (folder / "pack.toml").write_text(CONFIG.format(dbc=folder / "pack.dbc"))
    database = cantools.database.load_string(DBC.format(current_unit=current_unit), "dbc")
    status, cells = database.get_message_by_name("BMS_Status"), database.get_message_by_name("BMS_Cells")
    lines = []
    for second in range(600):
        time = 1_780_000_000 + second
        # -25 A (charge-positive signal: a discharge of 25 A) and 148.0 V, in mA and dV.
        lines.append(f"({time + 0.01:.6f}) can0 3B0#{status.encode({'Current': -25000, 'PackVoltage': 1480}).hex().upper()}")
        voltages = {f"Cell{cell}_V": 3700 for cell in range(1, 5)}
        lines.append(f"({time + 0.02:.6f}) can0 3C0#{cells.encode(voltages).hex().upper()}")
    (folder / "pack.log").write_text("\n".join(lines) + "\n")


def test_milliamperes_and_decivolts_become_amperes_and_volts(tmp_path):
    write_fleet(tmp_path, "mA")
    run("replay", "--config", tmp_path / "pack.toml", "--db", tmp_path / "o.db", "--daily-out", tmp_path / "daily.csv",
        "--features-out", tmp_path / "features.csv", tmp_path / "pack.log")
    # Cells as the user numbers them (index base 1 here): issue 18.
    header = (tmp_path / "features.csv").read_text().splitlines()[0].split(",")
    assert [name for name in header if name.startswith("deviation_") and not name.startswith("deviation_slope")] == \
        ["deviation_1", "deviation_2", "deviation_3", "deviation_4"]
    rows = list(csv.DictReader(open(tmp_path / "daily.csv")))
    assert len(rows) == 1
    assert abs(float(rows[0]["TotalCurrent"]) - 25.0) < 1e-6  # discharge-positive amperes
    assert abs(float(rows[0]["TotalVoltage"]) - 148.0) < 1e-6


def test_an_unknown_unit_names_the_signal(tmp_path):
    write_fleet(tmp_path, "furlong")
    _, err = run("check-config", tmp_path / "pack.toml", check=False)
    assert "unit 'furlong' of Current" in err and "current_unit" in err
