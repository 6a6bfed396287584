"""How far a leak's size through the secant between two learned OCV bins can be from the leak, from
PyBaMM's own full-cell OCV curves of every parameter set the fleets draw (cells.PARAMETER_SETS).

A leak's fall in volts is the leak through the OCV's local slope where the cell rests; celldrift divides
it by the secant between the two learned 5 % bins nearest that SOC (PackScale). The size is then
local slope / secant times the leak. For every rest SOC (8-97 %) and every second bin 3-40 % away this
prints the share of rest points whose size would be within 1.5 (and 2) times the leak, by the secant's
slope, LFP apart from the others (docs/features.md, "The leak's size").

    secant_error.py            # about 2 min: 8 parameter sets, 97 SOCs each
"""
import os
import sys

import numpy as np
import pybamm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cells import PARAMETER_SETS, parameter_values  # noqa: E402

BANDS = [(0.1, 0.15), (0.15, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.7), (0.7, 1.0), (1.0, 2.0),
         (2.0, float("inf"))]


def scalar(value):
    return float(np.asarray(value).ravel()[0])


def ocv_curve(name, socs):
    """Full-cell OCV (V) at each SOC (0-1): positive electrode's OCP less the negative's, at the
    stoichiometries PyBaMM sets for that SOC, at 25 °C."""
    base = parameter_values(name)
    curve = []
    for soc in socs:
        values = base.copy()
        values.set_initial_state(float(soc))
        ocp = []
        for electrode in ("negative", "positive"):
            concentration = values[f"Initial concentration in {electrode} electrode [mol.m-3]"]
            stoichiometry = concentration / values[f"Maximum concentration in {electrode} electrode [mol.m-3]"]
            function = values[f"{electrode.capitalize()} electrode OCP [V]"]
            ocp.append(scalar(values.evaluate(function(pybamm.Scalar(stoichiometry)))) if callable(function)
                       else scalar(function))
        curve.append(ocp[1] - ocp[0])
    return np.array(curve)


def size_ratios(socs, ocv):
    """(secant slope, reach, local slope / secant) for every rest SOC and every second bin 3-40 % from it."""
    fine = np.linspace(socs[0], socs[-1], 10 * (len(socs) - 1) + 1)
    voltage = np.interp(fine, socs, ocv)
    local = np.gradient(voltage, fine)
    out = []
    for index, soc in enumerate(fine):
        if soc < 0.08:
            continue
        for reach in np.arange(0.03, 0.401, 0.01):
            for other in (soc - reach, soc + reach):
                if other < fine[0] or other > fine[-1]:
                    continue
                secant = (np.interp(other, fine, voltage) - voltage[index]) / (other - soc)
                if secant > 0:
                    out.append((secant, reach, local[index] / secant))
    return out


def main():
    socs = np.linspace(0.02, 0.98, 97)
    ratios = {"lfp": [], "others": []}
    for chemistry, names in PARAMETER_SETS.items():
        for name in names:
            ocv = ocv_curve(name, socs)
            these = size_ratios(socs, ocv)
            flattest = min(secant for secant, reach, _ in these if reach >= 0.095)
            print(f"{chemistry} {name}: OCV {ocv[0]:.3f} V at 2 %, {ocv[48]:.3f} at 50 %, {ocv[-1]:.3f} at 98 %;"
                  f" flattest secant over 10 % of SOC or more {flattest:.3f} V per unit", flush=True)
            ratios["lfp" if chemistry == "lfp" else "others"] += these
    print("secant V/unit SOC | LFP: rest points, share within 1.5x (2x) | others: the same")
    for low, high in BANDS:
        cells = []
        for group in ("lfp", "others"):
            chosen = [ratio for secant, _, ratio in ratios[group] if low <= secant < high]
            if not chosen:
                cells.append(f"{group}: none")
                continue
            within = sum(1 for r in chosen if 1 / 1.5 <= r <= 1.5) / len(chosen)
            loose = sum(1 for r in chosen if 0.5 <= r <= 2) / len(chosen)
            cells.append(f"{group}: {len(chosen):6d} {within:4.2f} ({loose:4.2f})")
        print(f"{low:4.2f}-{high:4.2f} | " + " | ".join(cells))
    for flattest, steepest in [(0.15, 0.3), (0.3, float("inf"))]:
        print(f"LFP secants of {flattest}-{steepest} V per unit SOC, by how far the second bin is: rest points,"
              " within 1.5x (2x)")
        for low, high in [(0.0, 0.035), (0.035, 0.05), (0.0, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.41)]:
            chosen = [ratio for secant, reach, ratio in ratios["lfp"]
                      if flattest <= secant < steepest and low < reach <= high + 1e-9]
            within = sum(1 for r in chosen if 1 / 1.5 <= r <= 1.5) / max(1, len(chosen))
            loose = sum(1 for r in chosen if 0.5 <= r <= 2) / max(1, len(chosen))
            print(f"reach {100 * low:.1f}-{100 * high:.1f} % | {len(chosen):6d} {within:4.2f} ({loose:4.2f})")


if __name__ == "__main__":
    main()
