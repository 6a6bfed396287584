"""A BMS's passive balancing for the PyBaMM fleet: which cell it bleeds, when, for how long.

Our own simulator's BMS bleeds every cell it reads a few millivolts above the lowest while it balances
(Sources/Simulator/Pack.swift). This one works otherwise, as SOC-based BMSs do: a while into each long rest
it takes every cell's state of charge (here the true one, which the schedule gives in closed form: a
cell's charge is its start less what the drive, its leak and its earlier bleeds took) and bleeds each
cell more than `deadband_soc` above the lowest for as long as that excess takes at its bleed current, or
until the rest ends. So the bleeds are planned before PyBaMM solves the cells and go into it as currents,
and the flags the BMS sends are exactly when each cell bled.
"""
import numpy as np

# Seconds over which a bleed current sets in and stops (a resistor switched: the solver needs no step).
BLEED_RAMP_S = 5.0


def rest_windows(c_rate, least_s):
    """(start, end) seconds of every stretch without current at least `least_s` long."""
    resting = np.concatenate([[False], c_rate == 0, [False]])
    edges = np.flatnonzero(np.diff(resting.astype(int)))
    return [(int(start), int(end)) for start, end in zip(edges[::2], edges[1::2]) if end - start >= least_s]


def ramped_charge(samples, onset, length):
    """Charge (A·s per A) a current ramped in over `length` from `onset` has carried by each sample."""
    ramped = np.clip(np.asarray(samples, dtype=float) - onset, 0, None)
    return np.minimum(ramped, length) ** 2 / (2 * length) + np.clip(ramped - length, 0, None)


def plan_bleeds(c_rate, cell_capacity, cells, balancing, bleed_a):
    """Each cell's bleeds as (onset, end) seconds, over the rest windows in time order.

    `cells`: per cell its start SOC (0-1), capacity scale (area), leak (A) and leak onset (s);
    `bleed_a`: the bleed current of one simulated cell (A)."""
    drive = np.concatenate([[0.0], np.cumsum(c_rate)]) * cell_capacity  # A·s by each second
    bled = np.zeros(len(cells))
    bleeds = [[] for _ in cells]
    for start, end in rest_windows(c_rate, balancing["least_rest_s"]):
        decided = start + balancing["delay_s"]
        if decided >= end - 60:
            continue
        socs = []
        for cell, (soc, area, leak_a, leak_onset) in enumerate(cells):
            taken = drive[decided] + leak_a * float(ramped_charge(decided, leak_onset, 60.0)) + bled[cell]
            socs.append(soc - taken / (cell_capacity * area * 3600))
        lowest = min(socs)
        for cell, soc in enumerate(socs):
            excess = soc - lowest
            if excess <= balancing["deadband_soc"]:
                continue
            seconds = excess * cell_capacity * cells[cell][1] * 3600 / bleed_a
            stop = min(decided + seconds, end - 60)
            if stop - decided < 60:
                continue
            bleeds[cell].append((float(decided), float(stop)))
            bled[cell] += bleed_a * (stop - decided)
    return bleeds


def bleed_charge(bleeds, bleed_a, samples):
    """Charge (A·s) one cell's bleeds have taken by each sample."""
    total = np.zeros(len(np.atleast_1d(samples)))
    for onset, end in bleeds:
        total += ramped_charge(samples, onset, BLEED_RAMP_S) - ramped_charge(samples, end, BLEED_RAMP_S)
    return bleed_a * total


def flags(bleeds, samples):
    """Whether each cell bleeds at each sample: [cells, samples] booleans."""
    samples = np.asarray(samples)
    out = np.zeros((len(bleeds), len(samples)), dtype=bool)
    for cell, windows in enumerate(bleeds):
        for onset, end in windows:
            out[cell] |= (samples >= onset) & (samples < end)
    return out
