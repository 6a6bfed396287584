#!/usr/bin/env python3
"""The detection goals of issue 16 measured on evaluated fleets (docs/fleet.md, "The goals"): per goal the
vehicles it concerns, what was measured, and whether it holds. Reads `evaluation-<variant>.json` (from
`make fleet` / make-fleets.sh) and each split's labels.json.

    python3 scripts/fleet/goals.py [--variant as-shipped] heldout heldout-leaks heldout-healthy
"""
import argparse
import json
import os
import statistics


def load(out, split, variant):
    folder = os.path.join(out, f"fleet-{split}")
    evaluation = json.load(open(os.path.join(folder, f"evaluation-{variant}.json")))
    labels = {label["vehicle"]: label for label in json.load(open(os.path.join(folder, "labels.json")))}
    return [(vehicle, labels[vehicle["vehicle"]]) for vehicle in evaluation["vehicles"]]


def minutes(hours):
    return "-" if hours is None else f"{hours * 60:.0f} min"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("splits", nargs="+")
    parser.add_argument("--variant", default="as-shipped")
    parser.add_argument("--out", default="out")
    arguments = parser.parse_args()
    rows = [row for split in arguments.splits for row in load(arguments.out, split, arguments.variant)]

    print("## Resistance growth (named at its cell; lead over the 50 mV rule)")
    leads = []
    for vehicle, label in rows:
        if label["fault"] != "resistance-growth":
            continue
        flowing = label.get("onset_phase") in ("drive", "charge")
        lead = vehicle["lead_h"]
        if flowing and vehicle["named"] and lead is not None:
            leads.append(lead)
        print(f"- {label['vehicle']} {label['chemistry']} {label['cells']} cells, +{label['magnitude'] * 100:.0f} % over "
              f"{label['ramp_s'] / 60:.0f} min, onset while {'current flowed (' + label['onset_phase'] + ')' if flowing else 'parked'}: "
              f"{'named after ' + minutes(vehicle['delay_h']) if vehicle['named'] else 'not named'}; rule "
              f"{'never fired' if label['rule_first_fired_time'] is None else 'fired, lead ' + minutes(lead)}")
    flowing = [(v, l) for v, l in rows if l["fault"] == "resistance-growth" and l.get("onset_phase") in ("drive", "charge")]
    ahead = all(v["named"] and (v["lead_h"] is None or v["lead_h"] > 0) for v, l in flowing if l["rule_first_fired_time"] is not None)
    print(f"while current flows: {sum(v['named'] for v, _ in flowing)} of {len(flowing)} named; every one the rule saw named ahead "
          f"of it: {'yes' if ahead else 'no'}; median lead {minutes(statistics.median(leads)) if leads else '-'} over {len(leads)}")

    print("\n## Leaks of C/150 or more (rest after onset to the detection)")
    for chemistry in ("nmc", "lfp"):
        leaks = [(v, l) for v, l in rows if l["fault"] == "micro-short" and l["chemistry"] == chemistry and l["magnitude"] >= 1 / 150]
        within = [v for v, _ in leaks if v["named"] and v["rest_h_to_detection"] is not None and v["rest_h_to_detection"] <= 1]
        details = ", ".join(f"{l['vehicle']} C/{1 / l['magnitude']:.0f}: "
                            + (minutes(v["rest_h_to_detection"]) + " of rest" if v["named"] else "not named") for v, l in leaks)
        print(f"- {chemistry}: {len(within)} of {len(leaks)} within 60 min of rest ({details})")

    print("\n## Hot joints of 3 K or more and sensor faults (named by sensor)")
    for kind in ("hot-joint", "sensor-offset", "sensor-stuck"):
        cases = [(v, l) for v, l in rows if l["fault"] == kind and (kind != "hot-joint" or l["magnitude"] >= 3)]
        within = [v for v, _ in cases if v["named"] and v["delay_h"] <= 0.5]
        details = ", ".join(f"{l['vehicle']}: " + (minutes(v["delay_h"]) if v["named"] else "not named") for v, l in cases)
        print(f"- {kind}: {len(within)} of {len(cases)} within 30 min ({details})")

    print("\n## False alarms (healthy packs, and before the onsets)")
    for chemistry in ("nmc", "lfp"):
        chosen = [(v, l) for v, l in rows if l["chemistry"] == chemistry]
        alarms = [(l["vehicle"], a["kind"], a["cell"] if a["cell"] is not None else a["sensor"]) for v, l in chosen for a in v["false_alarms"]]
        hours = sum(v["healthy_hours"] for v, _ in chosen)
        print(f"- {chemistry}: {len(alarms)} in {hours:.0f} healthy vehicle-hours {alarms if alarms else ''}")
    lowered = [(v, l) for v, l in rows if l.get("soc_lowered_for_charge")]
    if lowered:
        print(f"  of which on packs the generator ran from a lower SOC (before 2026-12-02): "
              f"{sum(len(v['false_alarms']) for v, _ in lowered)} in {sum(v['healthy_hours'] for v, _ in lowered):.0f} h")
    print(f"- alarms naming another cell or sensor after an onset: {sum(v['wrong_target_alarms'] for v, _ in rows)}")


if __name__ == "__main__":
    main()
