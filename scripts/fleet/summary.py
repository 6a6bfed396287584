#!/usr/bin/env python3
"""One table of every split and variant `make fleet` evaluated (docs/fleet.md, "In short"):

    python scripts/fleet/summary.py [out]
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import ratio  # noqa: E402
from splits import SPLITS  # noqa: E402

VARIANTS = [("before-detectors", "before the detectors"), ("as-shipped", "as shipped"), ("with-cell-model", "with the cell-drift model")]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "out"
    print("| split | role | variant | vehicles | faulty named | rule fired | named ahead of it | false alarms | healthy vehicle-hours | naming another | closest call |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    # Tuning splits first, then the held-out ones in the order they were drawn (their start dates).
    for split in sorted(SPLITS, key=lambda name: (not name.startswith(("tuning", "ci")), SPLITS[name]["start"])):
        role = "tuning (CI)" if split.startswith("ci") else "tuning" if split.startswith("tuning") else "held out"
        for variant, title in VARIANTS:
            path = os.path.join(out, f"fleet-{split}", f"evaluation-{variant}.json")
            if not os.path.exists(path):
                continue
            result = json.load(open(path))
            s = result["overall"]
            faulty = sum(1 for v in result["vehicles"] if v["fault"] != "healthy")
            print(f"| {split} | {role} | {title} | {s['vehicles']} | {s['named']} of {faulty} | {s['rule_fired']} | {s['ahead_of_rule']} | "
                  f"{s['false_alarms']} | {s['healthy_vehicle_hours']:.0f} | {s['wrong_target_alarms']} | "
                  f"{ratio(s.get('highest_closest_call'))} |")


if __name__ == "__main__":
    main()
