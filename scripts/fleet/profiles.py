"""Current profiles of a vehicle's days: drive cycles from a speed trace through road-load physics,
parking, and a constant-current charge that tapers as a constant-voltage phase would.

All currents are C-rates (1.0 = the cell's capacity in amperes), positive when discharging, at 1 Hz.
"""
import numpy as np

GRAVITY = 9.81
AIR_DENSITY = 1.2

# Vehicle classes: mass (kg), drag area CdA (m²), rolling resistance, auxiliary load (W), the C-rate at
# the class's peak power, top speeds (km/h) of urban and highway driving.
CLASSES = {
    "light": dict(mass=180.0, drag_area=0.6, rolling=0.012, auxiliary=40.0, peak_c=2.5, urban=35.0, highway=70.0),
    "car": dict(mass=1700.0, drag_area=0.65, rolling=0.010, auxiliary=600.0, peak_c=2.0, urban=55.0, highway=125.0),
}


def speed_trace(kind, seconds, top_kmh, random):
    """Speed (m/s) at 1 Hz: urban stop-and-go, or highway cruising with slow-downs."""
    speed = np.zeros(seconds)
    t = 0
    v = 0.0
    while t < seconds:
        if kind == "urban":
            target = random.uniform(0.4, 1.0) * top_kmh / 3.6
            cruise = int(random.uniform(8, 60))
            stop = int(random.uniform(4, 40))
        else:
            target = random.uniform(0.75, 1.0) * top_kmh / 3.6
            cruise = int(random.uniform(120, 600))
            stop = 0 if random.random() < 0.8 else int(random.uniform(5, 30))
        accelerate = random.uniform(0.8, 2.5)
        while v < target and t < seconds:
            v = min(target, v + accelerate * random.uniform(0.6, 1.0))
            speed[t] = v
            t += 1
        for _ in range(cruise):
            if t >= seconds:
                break
            v = max(0.0, v + random.normal(0, 0.25) - 0.02 * (v - target))
            speed[t] = v
            t += 1
        if kind == "highway" and stop == 0:
            continue
        brake = random.uniform(1.0, 3.0)
        while v > 0 and t < seconds:
            v = max(0.0, v - brake * random.uniform(0.6, 1.0))
            speed[t] = v
            t += 1
        t += stop
    # The trip ends standing still.
    tail = min(seconds, 30)
    speed[-tail:] = np.linspace(speed[-tail], 0, tail)
    return speed


def drive_c_rate(speed, vehicle_class, random):
    """The pack's C-rate while driving: road load and auxiliaries, regenerative braking limited to a
    fraction of the peak, scaled so the class's peak power is its peak C-rate."""
    spec = CLASSES[vehicle_class]
    acceleration = np.diff(speed, prepend=speed[0])
    force = (spec["mass"] * acceleration + 0.5 * AIR_DENSITY * spec["drag_area"] * speed ** 2
             + spec["mass"] * GRAVITY * spec["rolling"] * (speed > 0.1))
    power = force * speed
    power = np.where(power > 0, power / 0.9, power * 0.7)
    peak_power = spec["mass"] * 2.5 * (spec["highway"] / 3.6) * 0.7 + 0.5 * AIR_DENSITY * spec["drag_area"] * (spec["highway"] / 3.6) ** 3
    c_rate = (power + spec["auxiliary"]) / peak_power * spec["peak_c"]
    c_rate = np.clip(c_rate, -0.35 * spec["peak_c"], spec["peak_c"])
    return c_rate + random.normal(0, 0.003, len(c_rate))


# The C-rate at which a charge's taper stops (a charger's constant-voltage end).
TAPER_END_C = 0.05


def charge_c_rate(seconds, ampere_hours_c, rate, taper_share, random):
    """A charge (negative C-rate) returning `ampere_hours_c` capacities: constant current, then a
    current that decays exponentially as a constant-voltage phase's does, ending at C/20."""
    constant = max(0.0, ampere_hours_c * (1 - taper_share)) * 3600 / rate
    tau = ampere_hours_c * taper_share * 3600 / rate if taper_share > 0 else 1.0
    t = np.arange(seconds, dtype=float)
    c = np.where(t < constant, rate, rate * np.exp(-(t - constant) / tau))
    c = np.where(c < TAPER_END_C, 0.0, c)
    return -(c + random.normal(0, 0.002, seconds) * (c > 0))


def day_profile(vehicle_class, random, day_seconds, usage, to_top=None):
    """One logged day: drive, park, drive, park, charge back what was driven, rest. Returns the C-rate
    at 1 Hz and the phase of each second ('drive', 'park', 'charge'). With `to_top` (capacities the
    days before left short of the start's SOC), the charge ends where the day began, its taper to C/20
    included, as a home charger's constant voltage ends at the top every day."""
    spec = CLASSES[vehicle_class]
    parts, phases = [], []

    def add(values, phase):
        parts.append(values)
        phases.extend([phase] * len(values))

    first_kind = "urban" if random.random() < usage["urban_share"] else "highway"
    legs = [(first_kind, random.uniform(0.10, 0.20)), (None, random.uniform(0.08, 0.16)),
            ("highway" if first_kind == "urban" else "urban", random.uniform(0.08, 0.18)), (None, random.uniform(0.05, 0.1))]
    for kind, share in legs:
        seconds = int(share * day_seconds)
        if kind is None:
            add(np.zeros(seconds), "park")
        else:
            top = spec[kind] * usage["speed_scale"]
            add(drive_c_rate(speed_trace(kind, seconds, top, random), vehicle_class, random) * usage["intensity"], "drive")
    used = sum(p.sum() for p in parts) / 3600  # capacities
    remaining = day_seconds - sum(len(p) for p in parts)
    # A charger strong enough to put back what was driven within the day, tapering before the end; a
    # derated one (usage["charge_derate"] < 1, as a BMS limits a cold pack's charge) puts back what fits
    # and the night's slow charge the rest (`overnight_charge`).
    rate = max(usage["charge_c"], used / (remaining / 3600 * 0.75)) * usage.get("charge_derate", 1.0)
    returned = max(used, 0.02)
    if to_top is not None:
        returned, rate = topping_charge(used + to_top, rate, usage["taper_share"], remaining)
    charge = charge_c_rate(remaining, returned, rate, usage["taper_share"], random)
    add(charge, "charge")
    c_rate = np.concatenate(parts)
    return c_rate, phases


def topping_charge(wanted_c, rate, taper_share, seconds, end_c=TAPER_END_C):
    """The capacities to schedule and the rate for `charge_c_rate` to put back `wanted_c` by its taper's
    end (which stops at `end_c` short of the exponential's whole) within 95 % of `seconds`: the rate
    raised until it fits."""
    wanted_c = max(wanted_c, 0.02)
    while True:
        scheduled = wanted_c / (1 - taper_share * end_c / rate)
        constant = scheduled * (1 - taper_share) * 3600 / rate
        taper = scheduled * taper_share * 3600 / rate * np.log(rate / end_c)
        if constant + taper <= 0.95 * seconds or rate > 3:
            return scheduled, rate
        rate *= 1.1


def overnight_charge(deficit_c, seconds, rate=0.1):
    """An unlogged slow charge (negative C-rate) putting back `deficit_c` capacities: what a derated
    day's charge left for the night."""
    length = min(seconds, int(max(deficit_c, 0.0) * 3600 / rate))
    c = np.zeros(seconds)
    c[:length] = -rate
    return c
