#!/usr/bin/env python3
"""One table of every split and variant `make fleet` evaluated (docs/fleet.md, "In short"):

    python scripts/fleet/summary.py [out]
"""
import json
import os
import sys

SPLITS = [("tuning", "tuning"), ("tuning-leaks", "tuning"), ("tuning-healthy", "tuning"), ("tuning-lfp-charge", "tuning"), ("ci", "tuning (CI)"), ("heldout", "held out"),
          ("heldout-leaks", "held out"), ("heldout-healthy", "held out"), ("heldout-healthy-b", "held out"),
          ("heldout-healthy-c", "held out"), ("heldout-leaks-b", "held out"), ("heldout-healthy-d", "held out"),
          ("heldout-leaks-c", "held out"), ("heldout-resistance", "held out"), ("heldout-b", "held out"),
          ("heldout-resistance-b", "held out"), ("heldout-healthy-e", "held out"),
          ("heldout-healthy-f", "held out")]
VARIANTS = [("before-detectors", "before the detectors"), ("as-shipped", "as shipped"), ("with-cell-model", "with the cell-drift model")]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "out"
    print("| split | role | variant | vehicles | faulty named | rule fired | named ahead of it | false alarms | healthy vehicle-hours | naming another |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for split, role in SPLITS:
        for variant, title in VARIANTS:
            path = os.path.join(out, f"fleet-{split}", f"evaluation-{variant}.json")
            if not os.path.exists(path):
                continue
            result = json.load(open(path))
            s = result["overall"]
            faulty = sum(1 for v in result["vehicles"] if v["fault"] != "healthy")
            print(f"| {split} | {role} | {title} | {s['vehicles']} | {s['named']} of {faulty} | {s['rule_fired']} | {s['ahead_of_rule']} | "
                  f"{s['false_alarms']} | {s['healthy_vehicle_hours']:.0f} | {s['wrong_target_alarms']} |")


if __name__ == "__main__":
    main()
