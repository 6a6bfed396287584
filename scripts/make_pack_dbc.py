"""Writes firmware-samples/celldrift_pack.dbc, the DBC of celldrift's simulated BMS: up to 192 cells,
three cell voltages per multiplexed frame, six cell temperatures per frame (foxBMS-style paging), and each
cell's passive-balancing (bleed) flag, 48 per frame."""
import sys

CELLS = 192
out = [
    'VERSION "celldrift simulated pack 1.0"', "", "NS_ :", "    CM_", "    BA_DEF_", "    BA_", "    VAL_",
    "    BA_DEF_DEF_", "", "BS_:", "", "BU_: BMS Gateway", "",
    "BO_ 272 PackStatus: 8 BMS",
    ' SG_ PackVoltage : 0|16@1+ (0.01,0) [0|655.35] "V" Gateway',
    ' SG_ PackCurrent : 16|16@1- (0.1,0) [-3276.8|3276.7] "A" Gateway',
    ' SG_ PackSoC : 32|10@1+ (0.1,0) [0|102.3] "%" Gateway',
    ' SG_ ChargeState : 42|2@1+ (1,0) [0|3] "" Gateway',
    ' SG_ BalancingActive : 44|1@1+ (1,0) [0|1] "" Gateway',
    ' SG_ StatusCounter : 60|4@1+ (1,0) [0|15] "" Gateway',
    "",
    "BO_ 273 CellExtremes: 8 BMS",
    ' SG_ CellVoltageMax : 0|16@1+ (1,0) [0|65535] "mV" Gateway',
    ' SG_ CellVoltageMin : 16|16@1+ (1,0) [0|65535] "mV" Gateway',
    ' SG_ CellVoltageMaxIndex : 32|8@1+ (1,0) [0|255] "" Gateway',
    ' SG_ CellVoltageMinIndex : 40|8@1+ (1,0) [0|255] "" Gateway',
    ' SG_ CellTemperatureMax : 48|8@1- (1,0) [-128|127] "degC" Gateway',
    ' SG_ CellTemperatureMin : 56|8@1- (1,0) [-128|127] "degC" Gateway',
    "",
    "BO_ 288 CellVoltages: 8 BMS",
    ' SG_ CellVoltagePage M : 0|8@1+ (1,0) [0|63] "" Gateway',
]
for cell in range(CELLS):
    out.append(f' SG_ CellVoltage_{cell:03d} m{cell // 3} : {8 + 16 * (cell % 3)}|16@1+ (1,0) [0|65535] "mV" Gateway')
out += ["", "BO_ 304 CellTemperatures: 8 BMS", ' SG_ CellTemperaturePage M : 0|8@1+ (1,0) [0|31] "" Gateway']
for cell in range(CELLS):
    out.append(f' SG_ CellTemperature_{cell:03d} m{cell // 6} : {8 + 8 * (cell % 6)}|8@1- (0.5,0) [-64|63.5] "degC" Gateway')
out += ["", "BO_ 320 CellBalancing: 8 BMS", ' SG_ CellBalancingPage M : 0|8@1+ (1,0) [0|3] "" Gateway']
for cell in range(CELLS):
    out.append(f' SG_ CellBalancing_{cell:03d} m{cell // 48} : {8 + cell % 48}|1@1+ (1,0) [0|1] "" Gateway')
out += [
    "",
    'CM_ "Pack DBC of celldrift\'s simulator: what a BMS of a series pack of up to 192 cells sends.";',
    'CM_ BO_ 272 "Pack summary, every 100 ms. Current is positive when discharging.";',
    'CM_ BO_ 273 "Cell extremes, every 100 ms; indexes are 0-based.";',
    'CM_ BO_ 288 "Cell voltages, three per page; every page of the pack once a second.";',
    'CM_ BO_ 304 "Cell temperatures, six per page; every page of the pack once a second.";',
    'CM_ BO_ 320 "Cells being bled by passive balancing, 48 per page; every page of the pack once a second.";',
    'BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;',
    'BA_DEF_DEF_ "GenMsgCycleTime" 0;',
    'BA_ "GenMsgCycleTime" BO_ 272 100;',
    'BA_ "GenMsgCycleTime" BO_ 273 100;',
    'BA_ "GenMsgCycleTime" BO_ 288 1000;',
    'BA_ "GenMsgCycleTime" BO_ 304 1000;',
    'BA_ "GenMsgCycleTime" BO_ 320 1000;',
    'VAL_ 272 ChargeState 0 "Rest" 1 "Driving" 2 "ACCharging" 3 "DCCharging" ;',
    "",
]
open(sys.argv[1] if len(sys.argv) > 1 else "firmware-samples/celldrift_pack.dbc", "w").write("\n".join(out))
