"""What the BMS measures and sends: cell voltages and temperature sensors with noise and the DBC's
resolution, sensor faults, the pack's current, voltage and SOC; the 50 mV rule on what it logged; and
the logs (candump -L and Vector ASC, absolute times) and the ground truth written from it."""
import datetime
import gzip
import os

import numpy as np

VOLTAGE_NOISE_V = 0.0005
TEMPERATURE_NOISE_K = 0.1
RULE_SPREAD_V = 0.050
RULE_SECONDS = 10
HEATING_LAG_S = 600.0


def measure(p, layout, random, logged, phases, current_a, voltages, temperatures_c, soc, fault):
    cells, samples = voltages.shape
    measured = voltages + random.normal(0, VOLTAGE_NOISE_V, voltages.shape)
    # Each sensor sits among a group of neighbouring cells and reads their mean, with its own small bias.
    groups = np.array_split(np.arange(cells), p["sensors"])
    sensors = np.array([temperatures_c[group].mean(axis=0) for group in groups])
    sensors += random.normal(0, 0.3, (p["sensors"], 1)) + random.normal(0, TEMPERATURE_NOISE_K, sensors.shape)
    if p.get("coolant") and not p["coolant"].get("warms_cells"):
        # Where the coolant warms the cells themselves (PyBaMM's ambient), the sensors read it in their cells.
        sensors += coolant_rise(p["coolant"], p["sensors"], current_a / p["capacity_ah"], logged)
    if fault["sensor"] is not None:
        sensors[fault["sensor"]] = sensor_fault(fault, sensors[fault["sensor"]], logged, phases, current_a)
    sensor = p.get("current_sensor")
    if sensor is None:
        peak = np.abs(current_a).max() or 1.0
        current = current_a + random.normal(0, 0.002 * peak, samples)
    else:
        # A Hall sensor's own noise and zero offset, as C-rates of the pack: on a small pack they reach
        # the rest band (C/50) while nothing flows.
        current = current_a + p["capacity_ah"] * (sensor["offset_c"] + random.normal(0, sensor["noise_c"], samples))
    return dict(
        cells_measured=measured, cells_logged=layout.quantize_voltage(measured),
        sensors_measured=sensors, sensors_logged=layout.quantize_temperature(sensors),
        current=current, pack_voltage=voltages.sum(axis=0), soc=np.clip(soc * 100, 0, 100), groups=groups,
        largest_spread=np.ptp(layout.quantize_voltage(measured), axis=0).max())


def sensor_fault(fault, reading, logged, phases, current_a):
    after = logged >= fault["onset_s"]
    if fault["kind"] == "sensor-offset":
        return reading + fault["magnitude"] * after
    if fault["kind"] == "sensor-stuck":
        held = reading.copy()
        held[after] = reading[np.argmax(after)]
        return held
    # hot-joint: a loosening joint's I²R heat, lagging the current; its size is the rise at the day's
    # mean drive heating, reached over the ramp after the onset.
    heat = current_a ** 2
    mean_drive_heat = heat[phases == "drive"].mean() if (phases == "drive").any() else heat.mean()
    lagged = lagged_heat(heat / mean_drive_heat, logged, HEATING_LAG_S)
    ramp = np.clip((logged - fault["onset_s"]) / fault["ramp_s"], 0, 1)
    return reading + fault["magnitude"] * ramp * lagged


def lagged_heat(heat, logged, lag_s):
    """`heat` at the logged seconds through a first-order lag of `lag_s`, cooled off over the nights
    between logged days."""
    lagged = np.zeros_like(heat)
    level = 0.0
    for index in range(len(heat)):
        if index and logged[index] - logged[index - 1] > 1:
            level = 0.0
        level += (heat[index] - level) / lag_s
        lagged[index] = level
    return lagged


# How a pack sheds its heat by place: along a coolant path (the first places take the coolant coldest), or
# an air-cooled pack whose edges cool best.
PLACE_PROFILES = ("coolant path", "edges")


def place_warmth(profile, place):
    """How warm a place (0 to 1 along the pack, in the DBC's order) runs under heat: 0 the best cooled,
    1 the worst."""
    return place if profile == "coolant path" else (1 - np.cos(2 * np.pi * place)) / 2


def coolant_rise(coolant, sensors, c_rate, logged):
    """Per sensor, what the coolant adds to its reading (K): the coolant warms along its path with the
    pack's heat (the C-rate's square through the loop's lag), `rise_k` from the best cooled place to the
    worst at a steady 1C."""
    warmth = place_warmth(coolant["profile"], np.linspace(0, 1, sensors))
    return coolant["rise_k"] * warmth[:, None] * lagged_heat(c_rate ** 2, logged, coolant["lag_s"])[None, :]


def rule_first_fired(cells_logged, logged):
    """The BMS's consistency rule on the logged readings: spread above 50 mV for 10 s (every reading from
    the first above to one 10 s later). Returns (second, cell farthest from the median) or None."""
    spread = np.ptp(cells_logged, axis=0)
    above = spread > RULE_SPREAD_V + 1e-9
    run_start = None
    for index in range(len(logged)):
        if not above[index] or (index and logged[index] - logged[index - 1] > 1):
            run_start = index if above[index] else None
            continue
        if run_start is None:
            run_start = index
        if logged[index] - logged[run_start] >= RULE_SECONDS:
            column = cells_logged[:, index]
            return int(logged[index]), int(np.argmax(np.abs(column - np.median(column))))
    return None


def frames(layout, p, logged, readings):
    """(time, id, extended, data) of every frame in time order: the status message at the BMS's rate,
    the cell pages and the sensor pages spread over each second. The cells are measured together at the
    second's start (as a BMS's front end samples them) and sent page by page; the current frames carry
    the current of their own instant."""
    database = layout.database
    start = p["start_time"]
    status_name, current_signal, voltage_signal, soc_signal, _ = layout.status
    status = database.get_message_by_name(status_name)
    sign = -1.0 if layout.current_positive == "charge" else 1.0
    pages = [(database.get_message_by_name(name), mux, value, carried, True) for name, mux, value, carried in layout.pages]
    pages += [(database.get_message_by_name(name), mux, value, carried, False)
              for name, mux, value, carried in layout.temperature_pages]
    rate = p["bms_rate_hz"]
    balancing = database.get_message_by_name(layout.balancing[0]) if layout.balancing else None
    cells_logged, sensors_logged = readings["cells_logged"], readings["sensors_logged"]
    current, pack_voltage, soc = readings["current"], readings["pack_voltage"], readings["soc"]
    in_mv = [message.get_signal_by_name(layout.cell_signal(carried[0])).unit == "mV" if is_cells else False
             for message, _, _, carried, is_cells in pages]
    for index, second in enumerate(logged):
        base = start + float(second)
        following = index + 1 if index + 1 < len(logged) and logged[index + 1] == second + 1 else index
        second_frames = []
        for tick in range(rate):
            share = tick / rate
            amperes = current[index] * (1 - share) + current[following] * share
            data = status.encode({current_signal: sign * amperes, voltage_signal: pack_voltage[index], soc_signal: soc[index]},
                                 strict=False)
            second_frames.append((base + 0.005 + share, status.frame_id, status.is_extended_frame, data))
        for order, (message, mux, value, carried, is_cells) in enumerate(pages):
            values = {mux: value} if mux else {}
            if is_cells:
                scale = 1000.0 if in_mv[order] else 1.0
                for cell in carried:
                    values[layout.cell_signal(cell)] = round(cells_logged[cell, index] * scale, 6)
            else:
                for sensor in carried:
                    values[layout.sensor_signal(sensor)] = round(float(sensors_logged[sensor, index]), 6)
            second_frames.append((base + 0.02 + 0.9 * order / len(pages), message.frame_id, message.is_extended_frame,
                                  message.encode(values)))
        if layout.balancing:
            flags = {layout.balancing[1]: int(readings["bleeding"][:, index].any())}
            flags.update({layout.balancing_signal(cell): int(readings["bleeding"][cell, index]) for cell in range(p["cells"])})
            second_frames.append((base + 0.01, balancing.frame_id, balancing.is_extended_frame, balancing.encode(flags)))
        # A log is in time order: a 10 Hz status message interleaves with the pages.
        second_frames.sort(key=lambda frame: frame[0])
        yield from second_frames


def asc_date(seconds):
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%a %b %d %I:%M:%S.") + f"{moment.microsecond // 1000:03d} " + moment.strftime("%p %Y").lower()


def write_logs(out, vehicle, layout, p, logged, readings):
    candump_path = os.path.join(out, f"{vehicle}.log")
    asc_path = os.path.join(out, f"{vehicle}.asc")
    start = p["start_time"]
    with open(candump_path, "w") as candump, open(asc_path, "w") as asc:
        asc.write(f"date {asc_date(start)}\nbase hex  timestamps absolute\ninternal events logged\n// version 9.0.0\n")
        asc.write(f"Begin Triggerblock {asc_date(start)}\n   0.000000 Start of measurement\n")
        for time, frame_id, extended, data in frames(layout, p, logged, readings):
            hex_data = data.hex().upper()
            identifier = f"{frame_id:08X}" if extended else f"{frame_id:03X}"
            candump.write(f"({time:.6f}) can0 {identifier}#{hex_data}\n")
            asc_id = f"{frame_id:X}x" if extended else f"{frame_id:X}"
            spaced = " ".join(hex_data[i:i + 2] for i in range(0, len(hex_data), 2))
            asc.write(f"{time - start:11.6f} 1  {asc_id:<15} Rx   d {len(data)} {spaced}\n")
        asc.write("End TriggerBlock\n")
    truth_path = os.path.join(out, f"{vehicle}.truth.csv.gz")
    header = (["time", "current_a"] + [layout.cell_signal(c) for c in range(p["cells"])]
              + [layout.sensor_signal(s) for s in range(p["sensors"])])
    table = np.column_stack([start + logged.astype(float), readings["current"], readings["cells_measured"].T,
                             readings["sensors_measured"].T])
    with gzip.open(truth_path, "wt", compresslevel=3) as truth:
        truth.write(",".join(header) + "\n")
        np.savetxt(truth, table, fmt=["%.3f", "%.4f"] + ["%.5f"] * (table.shape[1] - 2), delimiter=",")
