"""The physics fleet's solver check (scripts/fleet/cells.py): every cell of a solve must pass the charge its
current carries. A solver that steps over short current pulses after a quiet spell (IDAKLU does, at any
tolerance, unless stopped where the current starts to change) leaves a "healthy" cell at another state
of charge than the string, which the detectors then rightly flag: the generator must not make such a pack."""
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts" / "fleet"))
import cells  # noqa: E402

SECONDS = 1801


def pulses():
    """Short charge and discharge pulses between quiet spells: the profile an unbounded step skips."""
    random = np.random.default_rng(1)
    current = np.zeros(SECONDS)
    for start in range(200, SECONDS - 100, 150):
        current[start:start + int(random.integers(5, 40))] = random.uniform(-5, 10)
    return current


@pytest.fixture(scope="module")
def string():
    times = np.arange(SECONDS, dtype=float)
    string = cells.CellString("nmc", "Chen2020", times, pulses(), 298.15)
    inputs = [string.cell_inputs(0.7), string.cell_inputs(0.7, leak_a=0.5, leak_onset=300.0)]
    return string, inputs, times[::10]


def test_every_cell_passes_the_charge_of_its_current_leak_included(string):
    string, inputs, samples = string
    string.solve(inputs, samples)
    assert string.charge_error is not None and string.charge_error < cells.CHARGE_TOLERANCE / 2


def test_the_check_sees_charge_a_cell_did_not_pass(string):
    string, inputs, samples = string
    solutions = string.solve_checked(inputs, samples)
    leaking = dict(inputs[1])
    assert string.charge_missed(solutions[1], leaking, samples) < cells.CHARGE_TOLERANCE / 2
    # The leaking cell judged as if it had no leak: it passed 0.5 A for 1,470 s more than its current.
    leaking["Leak current [A]"] = 0.0
    missed = string.charge_missed(solutions[1], leaking, samples)
    expected = 0.5 * (SECONDS - 1 - 300 - 30) / (string.capacity * inputs[1]["Area scale"] * 3600)
    assert missed == pytest.approx(expected, rel=0.02)


def test_a_solve_that_runs_through_quiet_spells_skips_pulses_and_the_stopped_one_does_not(string):
    string, inputs, samples = string
    simulation = string.build(cells.SOLVER_TOLERANCE)
    through = simulation.solve([0.0, SECONDS - 1.0], t_interp=samples, inputs=inputs)
    assert max(string.charge_missed(s, cell, samples) for s, cell in zip(through, inputs)) > cells.CHARGE_TOLERANCE
    assert len(string.breakpoints) == 2 + 2 * len(range(200, SECONDS - 100, 150)) * 2
    stopped = simulation.solve(string.breakpoints, t_interp=samples, inputs=inputs)
    assert max(string.charge_missed(s, cell, samples) for s, cell in zip(stopped, inputs)) < cells.CHARGE_TOLERANCE / 2


def test_a_cell_stopped_by_a_voltage_limit_says_which():
    """The generator's fall-backs (a derated charger at the maximum voltage, a day kept at the minimum)
    answer the solve's typed stop, not any error whose text happens to match."""
    times = np.arange(601, dtype=float)
    charging = cells.CellString("nmc", "Chen2020", times, np.full(601, -3 * 5.0), 298.15)
    with pytest.raises(cells.CellStopped) as stopped:
        charging.solve([charging.cell_inputs(0.95)], times[::10])
    assert stopped.value.at_maximum_voltage and not stopped.value.at_minimum_voltage
    emptying = cells.CellString("nmc", "Chen2020", times, np.full(601, 3 * 5.0), 298.15)
    with pytest.raises(cells.CellStopped) as stopped:
        emptying.solve([emptying.cell_inputs(0.1)], times[::10])
    assert stopped.value.at_minimum_voltage and not stopped.value.at_maximum_voltage


@pytest.mark.parametrize("chemistry,parameter_set",
                         [(chemistry, name) for chemistry, names in cells.PARAMETER_SETS.items() for name in names])
def test_every_parameter_set_a_split_draws_passes_the_charge_check(chemistry, parameter_set):
    """A chemistry added to the fleet (NCA and LCO in the twenty-third session) must solve the pulses, leak included,
    at the generator's tolerance: a set whose cell the check would refuse makes no vehicle at all."""
    times = np.arange(SECONDS, dtype=float)
    probe = cells.CellString(chemistry, parameter_set, times[:2], np.zeros(2), 298.15)
    # The pulses are amperes for a 5 Ah cell: scaled to this cell's capacity, the same C-rates.
    string = cells.CellString(chemistry, parameter_set, times, pulses() * probe.capacity / 5.0, 288.15)
    inputs = [string.cell_inputs(0.6), string.cell_inputs(0.6, leak_a=probe.capacity / 10, leak_onset=300.0)]
    voltages, _ = string.solve(inputs, times[::10])
    assert string.charge_error < cells.CHARGE_TOLERANCE
    # The C/10 leak takes ~4 % of the cell's charge in the 25 minutes: its cell ends below the other.
    assert voltages[1, -1] < voltages[0, -1] - 0.005


@pytest.mark.parametrize("split,chemistry", [("heldout-nca", "nca"), ("heldout-lco", "lco"), ("heldout-healthy-lfp", "lfp")])
def test_a_split_of_one_chemistry_draws_only_that_chemistrys_parameter_sets(split, chemistry):
    import generate
    from splits import SPLITS
    plans = generate.plan(split, SPLITS[split]["vehicles"], SPLITS[split]["days"])
    assert {p["chemistry"] for p in plans} == {chemistry}
    assert {p["parameter_set"] for p in plans} <= set(cells.PARAMETER_SETS[chemistry])


def test_a_pack_charged_to_the_top_ends_each_day_where_it_began():
    """The charge-end tests read a pack at the same top each day; a scheduled taper stops at C/20 short of its
    whole, so a charge that put back only what was driven left the pack ~1 % lower every day, off the knee
    within days. With `to_top` each day's charge ends at the start's SOC, its taper ended within the day."""
    import generate
    from splits import SPLITS
    for p in generate.plan("heldout-lfp-tops-b", SPLITS["heldout-lfp-tops-b"]["vehicles"], SPLITS["heldout-lfp-tops-b"]["days"]):
        c_rate, _, _ = generate.timeline(p, np.random.default_rng(p["seed"]))
        soc = p["start_soc"] - np.cumsum(c_rate) / 3600
        day_seconds = int(p["day_hours"] * 3600)
        for day in range(p["days"]):
            day_end = day * generate.DAY + day_seconds - 1
            charging = np.flatnonzero(c_rate[day * generate.DAY:day_end + 1] < 0)
            assert len(charging) > 900, (p["vehicle"], day)
            assert abs(soc[day_end] - p["start_soc"]) < 0.002, (p["vehicle"], day, soc[day_end])
            assert charging[-1] < day_seconds - 60, (p["vehicle"], day)
