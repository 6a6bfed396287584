#!/usr/bin/env python3
"""Generates a labelled fleet from an independent electrochemical model (PyBaMM): per vehicle a DBC of
its own, a celldrift mapping, a candump and an ASC log, the ground truth, and one labels.json.

    python scripts/fleet/generate.py --split heldout --out out/fleet-heldout --jobs 2

docs/fleet.md describes the model, the splits, the faults and the label format.
"""
import argparse
import gzip
import json
import multiprocessing
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from balancing import BLEED_RAMP_S, flags, plan_bleeds, rest_windows  # noqa: E402
from cells import PARAMETER_SETS, CellStopped, CellString  # noqa: E402
from layouts import LAYOUTS, Layout  # noqa: E402
from measurement import PLACE_PROFILES, lagged_heat, measure, place_warmth, rule_first_fired, write_logs  # noqa: E402
from profiles import day_profile, overnight_charge  # noqa: E402
from splits import SPLITS  # noqa: E402

CELL_FAULTS = {"resistance-growth", "micro-short", "capacity-fade"}
DAY = 86_400


def epoch(date):
    import datetime
    return int(datetime.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp())


def plan(split, vehicles, days):
    """Every vehicle's settings, drawn from the split's seed alone (the same arguments give the same fleet)."""
    spec = SPLITS[split]
    random = np.random.default_rng(spec["seed"])
    healthy = round(vehicles * spec["healthy_share"])
    plans = []
    for index in range(vehicles):
        kind = "healthy" if index < healthy else spec["kinds"][(index - healthy) % len(spec["kinds"])]
        # Every fault kind in both chemistries: NMC in one round of the kinds, LFP in the next.
        rounds = index // 3 if index < healthy else (index - healthy) // len(spec["kinds"])
        chemistry = "lfp" if (index % 3 == 2 if index < healthy else rounds % 2 == 1) else "nmc"
        if spec.get("alternate_chemistry"):
            chemistry = "lfp" if index % 2 else "nmc"
        chemistry = spec.get("chemistry", chemistry)
        cells = int(random.choice(spec["cells"], p=spec.get("cell_weights")))
        vehicle_class = "light" if cells <= 24 else "car"
        plans.append(dict(
            vehicle=f"{split.upper().replace('-', '')}{index:03d}", index=index, split=split, seed=int(random.integers(2**31)),
            chemistry=chemistry, parameter_set=str(random.choice(spec["nmc"] if chemistry == "nmc" else PARAMETER_SETS[chemistry])),
            cells=cells, sensors=max(4, cells // int(random.choice([3, 4, 6]))), vehicle_class=vehicle_class,
            capacity_ah=float(random.uniform(5, 20) if vehicle_class == "light" else random.uniform(50, 180)),
            ambient_c=float(random.uniform(*spec["ambient"])), layout=LAYOUTS[index % len(LAYOUTS)],
            bms_rate_hz=10 if index % 4 == 1 else 1, fault=kind, days=days, day_hours=spec["day_hours"],
            log_nights=spec.get("log_nights", False),
            start_time=epoch(spec["start"]) + 7 * 3600 + int(random.integers(0, 3)) * 3600,
            usage=dict(urban_share=float(random.uniform(0.3, 0.8)), speed_scale=float(random.uniform(0.85, 1.05)),
                       intensity=float(random.uniform(0.8, 1.2)), charge_c=float(random.uniform(*spec.get("charge_c", (0.3, 1.0)))),
                       taper_share=float(random.uniform(0.1, 0.3))),
            start_soc=float(random.uniform(*spec.get("start_soc", (0.65, 0.85)))),
            soc_spread=float(random.uniform(*spec.get("soc_spread", (0.002, 0.005)))), to_top=spec.get("to_top", False),
            solver_tolerance=spec.get("solver_tolerance"),
            resistance_share=spec.get("resistance_share", (0.3, 1.5)), resistance_ramp_s=spec.get("resistance_ramp_s", (1200, 10800)),
            resistance_phases=spec.get("resistance_phases", ("drive", "charge")), leak_divisor=spec.get("leak_divisor", (50, 300)),
            capacity_loss=spec.get("capacity_loss", (0.05, 0.2))))
        if "current_sensor" in spec:
            # Drawn only where the split asks, so that the other splits' fleets stay as they were.
            noise, offset = spec["current_sensor"]["noise_c"], spec["current_sensor"]["offset_c"]
            plans[-1]["current_sensor"] = dict(noise_c=float(random.uniform(*noise)), offset_c=float(random.uniform(*offset)))
        if "balancing" in spec:
            plans[-1]["balancing"] = dict(spec["balancing"], current_a=float(random.uniform(*spec["balancing"]["current_a"])))
        if "coolant_rise" in spec:
            plans[-1]["coolant"] = dict(rise_k=float(random.uniform(*spec["coolant_rise"])), lag_s=300.0,
                                        profile=str(random.choice(PLACE_PROFILES)))
            if spec.get("coolant_warms_cells"):
                # The cells sit on the coolant's plate: their heat transfer several times PyBaMM's sets' own.
                plans[-1]["coolant"].update(warms_cells=True, transfer=float(random.uniform(*spec["coolant_warms_cells"])))
        if "cooling_spread" in spec:
            plans[-1]["cooling"] = dict(spread=float(random.uniform(*spec["cooling_spread"])),
                                        profile=str(random.choice(PLACE_PROFILES)))
    return plans


def timeline(p, random):
    """The current (C-rate, 1 Hz) over the whole run, nights at rest, and the logged seconds with their phase."""
    day_seconds = int(p["day_hours"] * 3600)
    total = run_seconds(p)
    c_rate = np.zeros(total)
    logged, phases = [], []
    derate = p.get("charge_derate", 1.0)
    for day in range(p["days"]):
        start = day * DAY
        # Charged to the top each day, the charge puts back what the day uses and what the run so far left
        # short of the start's SOC (a derated night's charge included; a leak is its cell's alone).
        top = c_rate[:start].sum() / 3600 if p.get("to_top") else None
        profile, phase = day_profile(p["vehicle_class"], random, day_seconds, dict(p["usage"], charge_derate=derate), top)
        c_rate[start:start + day_seconds] = profile
        deficit = profile.sum() / 3600
        if derate < 1 and deficit > 0.005 and day + 1 < p["days"]:
            night = start + day_seconds + 1800
            c_rate[night:start + DAY - 1800] = overnight_charge(deficit, start + DAY - 1800 - night)
        logged.append(np.arange(start, start + day_seconds))
        phases.extend(phase)
    logged, phases = np.concatenate(logged), np.array(phases)
    if p.get("log_nights"):
        # An always-on gateway: every second logged, the nights parked (or on the derated charger).
        every = np.where(c_rate < 0, "charge", "park").astype(phases.dtype)
        every[logged] = phases
        return c_rate, np.arange(total), every
    return c_rate, logged, phases


def choose_fault(p, random, logged, phases, cell_resistance):
    """The fault's cell or sensor, onset (s from the start), magnitude and how it enters the physics."""
    kind = p["fault"]
    fault = dict(kind=kind, cell=None, sensor=None, onset_s=None, magnitude=None, unit=None, ramp_s=None, onset_phase=None)
    if kind == "healthy":
        return fault
    first_day = logged[logged < int(p["day_hours"] * 3600)]  # the day's hours, nights logged or not
    if kind == "capacity-fade":
        fault.update(cell=int(random.integers(p["cells"])), onset_s=0, magnitude=float(random.uniform(*p["capacity_loss"])),
                     unit="capacity share lost", onset_phase=str(phases[0]))
        return fault
    # Resistance grows while current flows in most vehicles; in some it grows while parked, which no
    # voltage can show before the next current.
    if kind == "resistance-growth":
        wanted = p["resistance_phases"] if random.random() >= 0.25 else ("park",)
    else:
        wanted = ("drive", "park", "charge")
    candidates = [i for i in range(int(len(first_day) * 0.15), int(len(first_day) * 0.6)) if phases[i] in wanted]
    if not candidates:
        candidates = list(range(int(len(first_day) * 0.15), int(len(first_day) * 0.6)))
    position = int(random.choice(candidates))
    fault["onset_s"] = int(logged[position])
    fault["onset_phase"] = str(phases[position])
    if kind == "resistance-growth":
        share = float(random.uniform(*p["resistance_share"]))
        fault.update(cell=int(random.integers(p["cells"])), magnitude=share, unit="resistance share added",
                     ramp_s=float(random.uniform(*p["resistance_ramp_s"])), added_ohm=share * cell_resistance)
    elif kind == "micro-short":
        divisor = float(random.uniform(*p["leak_divisor"]))
        fault.update(cell=int(random.integers(p["cells"])), magnitude=1 / divisor, unit="C (leak current / capacity)")
    elif kind == "hot-joint":
        fault.update(sensor=int(random.integers(p["sensors"])), magnitude=float(random.uniform(2, 10)),
                     unit="K at the day's mean drive heating", ramp_s=1200.0)
    elif kind == "sensor-offset":
        fault.update(sensor=int(random.integers(p["sensors"])),
                     magnitude=float(random.uniform(2, 10) * random.choice([-1, 1])), unit="K")
    elif kind == "sensor-stuck":
        fault.update(sensor=int(random.integers(p["sensors"])), magnitude=0.0, unit="K (held at the onset value)")
    return fault


def simulate_task(task):
    """(vehicle, its label or None): the pool answers in the order vehicles finish, not the plan's."""
    return task[0]["vehicle"], simulate(*task)


def write_labels(plans, out):
    """labels.json: every vehicle of the plan whose label is there (also from earlier --only runs)."""
    labels = []
    for p in plans:
        path = os.path.join(out, f"{p['vehicle']}.label.json")
        if os.path.exists(path):
            labels.append(json.load(open(path)))
    with open(os.path.join(out, "labels.json"), "w") as file:
        json.dump(labels, file, indent=1)
        file.write("\n")
    return labels


def simulate(p, out, reuse=False):
    """Simulates one vehicle and writes its files and its label; None (with the error printed) when it
    fails, so that one vehicle cannot cost the others. With `reuse`, a vehicle whose logs and truth are
    already there is only labelled again: the same draws give the same fault, the truth gives the rule."""
    # The generator's charge taper is scheduled, not closed on the highest cell as a BMS's is: in the cold
    # a charge can reach the cells' maximum voltage, where PyBaMM stops. Such a vehicle is run again with
    # its daytime charger derated (half, then a quarter) and the rest put back by an unlogged night charge,
    # as a BMS limits a cold pack's charge; its label says so. (Lowering the start SOC instead, as the
    # generator first did, drove those packs near empty, where healthy cells fan out.)
    # A large leak can empty its cell by the next day's drive, where PyBaMM stops at the minimum voltage
    # (a BMS would stop the vehicle): such a vehicle is kept to its first logged day, which holds the
    # onset and the rests after it; its label says so. A healthy pack's long cold drive can empty its
    # weakest cell likewise (HELDOUTHEALTHYF053), and a cell a fifth short of capacity its own
    # (HELDOUTCAPACITYB005): kept to its first day the same way.
    # Labelled again: the fall-backs its simulation took (they change its timeline), from its old label.
    previous = previous_label(p, out) if reuse else {}
    derates = [derate for derate in (1.0, 0.5, 0.25) if derate <= previous.get("charge_derated", 1.0)]
    days_kept = previous.get("days_kept")
    while derates:
        try:
            return simulate_vehicle(dict(p, charge_derate=derates[0], days_kept=days_kept), out, reuse, previous)
        except Exception as error:  # noqa: BLE001 - reported, and the fleet goes on
            if isinstance(error, CellStopped) and error.at_maximum_voltage and len(derates) > 1:
                print(f"{p['vehicle']}: reached the maximum voltage; again with the day's charger derated", flush=True)
                derates.pop(0)
                continue
            if (isinstance(error, CellStopped) and error.at_minimum_voltage
                    and p["fault"] in ("micro-short", "healthy", "capacity-fade") and days_kept is None and p["days"] > 1):
                print(f"{p['vehicle']}: a cell ran empty; again with the first logged day only", flush=True)
                days_kept = 1
                continue
            print(f"{p['vehicle']}: FAILED: {type(error).__name__}: {error}", flush=True)
            return None


def simulate_vehicle(p, out, reuse, previous):
    started = time.time()
    random = np.random.default_rng(p["seed"])
    c_rate, logged, phases = timeline(p, random)
    times = np.arange(len(c_rate), dtype=float)
    probe = CellString(p["chemistry"], p["parameter_set"], times[:2], np.zeros(2), 298.15)
    cell_resistance = probe.dc_resistance()
    cell_capacity = probe.capacity
    fault = choose_fault(p, random, logged, phases, cell_resistance)
    if p.get("days_kept"):
        end = kept_seconds(p)
        kept = logged < end
        c_rate, logged, phases, times = c_rate[:end], logged[kept], phases[kept], times[:end]
    vehicle = p["vehicle"]
    files = [os.path.join(out, f"{vehicle}{suffix}") for suffix in (".log", ".asc", ".dbc", ".toml", ".truth.csv.gz")]
    if reuse and all(os.path.exists(path) for path in files):
        return relabel(p, out, fault, cell_capacity, cell_resistance, started, c_rate, previous)
    balancing = p.get("balancing")
    windows = len(rest_windows(c_rate, balancing["least_rest_s"])) if balancing else 0
    coolant = p.get("coolant") if p.get("coolant", {}).get("warms_cells") else None
    string = CellString(p["chemistry"], p["parameter_set"], times, c_rate * cell_capacity, 273.15 + p["ambient_c"],
                        p.get("solver_tolerance"), bleed_windows=windows,
                        coolant_heat=lagged_heat(c_rate ** 2, times, coolant["lag_s"]) if coolant else None)
    parallel = p["capacity_ah"] / cell_capacity
    cell_arguments = []
    for cell in range(p["cells"]):
        area = float(random.normal(1, 0.008))
        arguments = dict(soc=float(np.clip(random.normal(p["start_soc"], p["soc_spread"]), 0.1, 0.995)), area=area,
                         contact_ohm=float(abs(random.normal(0.03, 0.01))) * cell_resistance,
                         kinetics=(float(random.lognormal(0, 0.05)), float(random.lognormal(0, 0.05))),
                         cooling=float(random.normal(1, 0.05)) * cooling_at(p.get("cooling"), cell, p["cells"]))
        if coolant:
            arguments["coolant_rise_k"] = coolant["rise_k"] * place_warmth(coolant["profile"], cell / (p["cells"] - 1))
            arguments["cooling"] *= coolant["transfer"]
        if fault["cell"] == cell:
            if fault["kind"] == "micro-short":
                arguments.update(leak_a=fault["magnitude"] * cell_capacity * area, leak_onset=float(fault["onset_s"]))
            elif fault["kind"] == "resistance-growth":
                arguments.update(added_ohm=fault["added_ohm"], resistance_onset=float(fault["onset_s"]),
                                 resistance_ramp_s=fault["ramp_s"])
            elif fault["kind"] == "capacity-fade":
                arguments["area"] = area * (1 - fault["magnitude"])
        cell_arguments.append(arguments)
    bleeds = [[] for _ in cell_arguments]
    if balancing:
        # The bleed resistor's current is the BMS's, across a whole parallel group: one simulated cell's share.
        bleed_a = balancing["current_a"] / parallel
        bleeds = plan_bleeds(c_rate, cell_capacity, [(a["soc"], a["area"], a.get("leak_a", 0.0), a.get("leak_onset", 1e12))
                                                     for a in cell_arguments], balancing, bleed_a)
        for arguments, windows_of_cell in zip(cell_arguments, bleeds):
            arguments.update(bleed_a=bleed_a, bleeds=windows_of_cell)
        string.add_breakpoints([second for cell in bleeds for window in cell for onset in window
                                for second in (onset, onset + BLEED_RAMP_S)])
    inputs = [string.cell_inputs(**arguments) for arguments in cell_arguments]
    voltages, temperatures = string.solve(inputs, logged)
    layout = Layout(p["layout"], p["cells"], p["sensors"], balancing=bool(balancing))
    soc = p["start_soc"] - np.cumsum(c_rate) / 3600
    readings = measure(p, layout, random, logged, phases, c_rate[logged] * cell_capacity * parallel, voltages,
                       temperatures - 273.15, soc[logged], fault)
    if balancing:
        readings["bleeding"] = flags(bleeds, logged)
    with open(os.path.join(out, f"{vehicle}.dbc"), "w") as file:
        file.write(layout.text)
    with open(os.path.join(out, f"{vehicle}.toml"), "w") as file:
        file.write(layout.mapping(f"{vehicle}.dbc", p["settings"], balancing["current_a"] if balancing else None))
    write_logs(out, vehicle, layout, p, logged, readings)
    rule = rule_first_fired(readings["cells_logged"], logged)
    onset_c = None if fault["onset_s"] is None else float(c_rate[fault["onset_s"]])
    label = label_entry(p, fault, layout, rule, readings, cell_capacity, cell_resistance, parallel, onset_c)
    label["generation_s"] = round(time.time() - started, 1)
    label["solver_tolerance"] = string.tolerance
    label["charge_missed"] = round(string.charge_error, 6)
    if balancing:
        label["balancing"] = dict(current_a=round(balancing["current_a"], 4), deadband_soc=balancing["deadband_soc"],
                                  bleeds=sum(len(cell) for cell in bleeds),
                                  bled_ah=[round(balancing["current_a"] * sum(end - onset for onset, end in cell) / 3600, 4)
                                           for cell in bleeds])
    with open(os.path.join(out, f"{vehicle}.label.json"), "w") as file:
        json.dump(label, file)
    print(f"{vehicle}: {p['chemistry']} {p['parameter_set']} {p['cells']} cells {p['layout']}, {fault['kind']}"
          + (f" cell {fault['cell']}" if fault["cell"] is not None else "")
          + (f" sensor {fault['sensor']}" if fault["sensor"] is not None else "")
          + f"; rule {'never fired' if rule is None else 'fired at ' + str(rule[0]) + ' s'}; {label['generation_s']} s", flush=True)
    return label


def previous_label(p, out):
    path = os.path.join(out, f"{p['vehicle']}.label.json")
    return json.load(open(path)) if os.path.exists(path) else {}


def relabel(p, out, fault, cell_capacity, cell_resistance, started, c_rate, previous):
    """The label of a vehicle already simulated, from its truth file: the rule and the largest spread on
    the logged (rounded) readings; how its solve went, from its old label (`previous`)."""
    layout = Layout(p["layout"], p["cells"], p["sensors"], balancing=bool(p.get("balancing")))
    with gzip.open(os.path.join(out, f"{p['vehicle']}.truth.csv.gz"), "rt") as file:
        file.readline()
        table = np.loadtxt(file, delimiter=",", ndmin=2)
    logged = np.round(table[:, 0] - p["start_time"]).astype(int)
    cells_logged = layout.quantize_voltage(table[:, 2:2 + p["cells"]].T)
    readings = dict(cells_logged=cells_logged, largest_spread=np.ptp(cells_logged, axis=0).max())
    rule = rule_first_fired(cells_logged, logged)
    # The schedule's C-rate at the onset, as the simulation labels it (the truth's current is measured).
    onset_c = None if fault["onset_s"] is None else float(c_rate[fault["onset_s"]])
    label = label_entry(p, fault, layout, rule, readings, cell_capacity, cell_resistance, p["capacity_ah"] / cell_capacity, onset_c)
    label["generation_s"] = round(time.time() - started, 1)
    label.update({key: previous[key] for key in ("solver_tolerance", "charge_missed") if key in previous})
    with open(os.path.join(out, f"{p['vehicle']}.label.json"), "w") as file:
        json.dump(label, file)
    print(f"{p['vehicle']}: labelled again from its truth", flush=True)
    return label


def label_entry(p, fault, layout, rule, readings, cell_capacity, cell_resistance, parallel, onset_c=None):
    start = p["start_time"]
    onset = fault["onset_s"]
    # The phase the schedule drew the onset from, unless no current flowed then: a charge's last minutes
    # are scheduled as charge but carry none once the taper is below C/20.
    phase = fault["onset_phase"]
    if phase in ("drive", "charge") and onset_c is not None and abs(onset_c) <= 0.02:
        phase = "park"
    vehicle = p["vehicle"]
    magnitude = fault["magnitude"]
    entry = dict(
        vehicle=vehicle, split=p["split"], chemistry=p["chemistry"], parameter_set=p["parameter_set"],
        cells=p["cells"], temperature_sensors=p["sensors"], capacity_ah=round(p["capacity_ah"], 3),
        cell_capacity_ah=cell_capacity, parallel_cells=round(parallel, 3),
        cell_resistance_ohm=round(cell_resistance / parallel, 6), vehicle_class=p["vehicle_class"],
        ambient_c=round(p["ambient_c"], 2), layout=p["layout"], bms_rate_hz=p["bms_rate_hz"],
        fault=fault["kind"], cell=fault["cell"],
        cell_name=layout.cell_signal(fault["cell"]) if fault["cell"] is not None else None,
        sensor=fault["sensor"], sensor_name=layout.sensor_signal(fault["sensor"]) if fault["sensor"] is not None else None,
        start_time=start, onset_s=onset, onset_time=None if onset is None else start + onset, onset_phase=phase,
        onset_c_rate=None if onset_c is None else round(onset_c, 4),
        magnitude=None if magnitude is None else round(magnitude, 6), magnitude_unit=fault["unit"],
        ramp_s=None if fault["ramp_s"] is None else round(fault["ramp_s"], 1),
        rule_first_fired_s=None if rule is None else int(rule[0]),
        rule_first_fired_time=None if rule is None else start + int(rule[0]),
        rule_cell=None if rule is None else int(rule[1]),
        largest_spread_v=round(float(readings["largest_spread"]), 4),
        logged_hours=logged_hours(p), days=p.get("days_kept") or p["days"],
        log=f"{vehicle}.log", asc=f"{vehicle}.asc", dbc=f"{vehicle}.dbc", config=f"{vehicle}.toml",
        truth=f"{vehicle}.truth.csv.gz")
    if fault["kind"] == "micro-short":
        entry["leak_a"] = round(magnitude * p["capacity_ah"], 4)
    if p.get("charge_derate", 1.0) < 1:
        entry["charge_derated"] = p["charge_derate"]
    if p.get("days_kept"):
        entry["days_kept"] = p["days_kept"]
    if fault["kind"] == "resistance-growth":
        entry["added_resistance_ohm"] = round(fault["added_ohm"] / parallel, 6)
    if p.get("current_sensor"):
        entry["current_sensor"] = {key: round(value, 6) for key, value in p["current_sensor"].items()}
    if p.get("coolant"):
        entry["coolant"] = dict(p["coolant"], rise_k=round(p["coolant"]["rise_k"], 3))
    if p.get("cooling"):
        entry["cooling"] = dict(p["cooling"], spread=round(p["cooling"]["spread"], 4))
    return entry


def cooling_at(cooling, cell, cells):
    """A cell's cooling by its place in the pack (a scale of its heat transfer, ±`spread` from the best
    cooled place to the worst, the places of measurement.place_warmth: written as cos, not 1 - 2 x warmth,
    which differs in the last bit and would change heldout-pack-heat's generated packs). So a healthy
    pack's sensors part under a heavy current, each by its place, and come together at rest."""
    if not cooling:
        return 1.0
    place = cell / max(cells - 1, 1)
    if cooling["profile"] == "coolant path":
        return 1 + cooling["spread"] * (1 - 2 * place)
    return 1 + cooling["spread"] * np.cos(2 * np.pi * place)


def run_seconds(p):
    """The whole run's length: to the last day's last logged second."""
    return (p["days"] - 1) * DAY + int(p["day_hours"] * 3600) + 1


def kept_seconds(p):
    """The run's length when cut to `days_kept`: to the kept days' last logged second; with the nights
    logged, through the last kept night (the cell ran empty in the next day's drive, not before)."""
    if p.get("log_nights"):
        return p["days_kept"] * DAY
    return (p["days_kept"] - 1) * DAY + int(p["day_hours"] * 3600) + 1


def logged_hours(p):
    if p.get("log_nights"):  # every second of the run, or of its kept part
        return round(((kept_seconds(p) if p.get("days_kept") else run_seconds(p)) - 1) / 3600, 2)
    return round((p.get("days_kept") or p["days"]) * p["day_hours"], 2)


def pipeline_settings(path):
    """The pipeline sections of a celldrift config (everything after [pack]: snapshot, features, rules,
    model), with model paths made absolute so that the fleet's configs find them."""
    folder = os.path.dirname(os.path.abspath(path))
    lines, keep, section = [], False, None
    for line in open(path):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").split(".")[0]
            keep = section not in ("pack",)
        if not keep:
            continue
        if section == "model" and "=" in stripped and not stripped.startswith("#"):
            key, value = stripped.split("=", 1)
            relative = value.split("#")[0].strip().strip('"')
            line = f'{key.strip()} = "{relative if relative.startswith("/") else os.path.join(folder, relative)}"\n'
        lines.append(line)
    return "".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=sorted(SPLITS), default="ci")
    parser.add_argument("--out", required=True)
    parser.add_argument("--vehicles", type=int, help="default: the split's")
    parser.add_argument("--days", type=int, help="logged days per vehicle (default: the split's)")
    parser.add_argument("--only", help="comma-separated vehicle indices to generate (the plan stays the split's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--reuse", action="store_true", help="label vehicles whose files are there again instead of simulating them")
    parser.add_argument("--settings", default=os.path.join(os.path.dirname(__file__), "../../firmware-samples/celldrift_pack.toml"),
                        help="celldrift config whose pipeline sections (snapshot, features, rules, model) every vehicle gets")
    arguments = parser.parse_args()
    spec = SPLITS[arguments.split]
    os.makedirs(arguments.out, exist_ok=True)
    plans = plan(arguments.split, arguments.vehicles or spec["vehicles"], arguments.days or spec["days"])
    if arguments.only:
        chosen = {int(i) for i in arguments.only.split(",")}
        plans = [p for p in plans if p["index"] in chosen]
    settings = pipeline_settings(arguments.settings)
    for p in plans:
        p["settings"] = settings
    started = time.time()
    # Largest packs first, so the pool's last task is a short one.
    order = sorted(plans, key=lambda p: -p["cells"])
    everyone = plan(arguments.split, arguments.vehicles or spec["vehicles"], arguments.days or spec["days"])
    failed = []
    with multiprocessing.get_context("fork").Pool(max(1, arguments.jobs)) as pool:
        tasks = [(p, arguments.out, arguments.reuse) for p in order]
        # labels.json is rewritten as each vehicle finishes (a small pack done behind a large one is in it
        # at once): a run cut short keeps what it made.
        for vehicle, result in pool.imap_unordered(simulate_task, tasks, chunksize=1):
            if result is None:
                failed.append(vehicle)
            labels = write_labels(everyone, arguments.out)
    labels = write_labels(everyone, arguments.out)
    print(f"{len(labels)} vehicles in {time.time() - started:.0f} s -> {arguments.out}/labels.json")
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (regenerate them with --only)")


if __name__ == "__main__":
    main()
