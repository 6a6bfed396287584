#!/usr/bin/env python3
"""Markdown tables of `celldrift evaluate fleet --json` results, one per variant (docs/fleet.md):

    python scripts/fleet/report.py "as shipped=out/fleet-heldout/evaluation.json" ...
"""
import json
import sys


def hours(value):
    if value is None:
        return "-"
    return f"{value * 60:.0f} min" if abs(value) < 1 else f"{value:.1f} h"


def ratio(value):
    """A closest call's nearness (1 raises; absent from evaluations before the forty-fourth session)."""
    return "-" if value is None else f"{value:.2f}"


def table(title, path):
    result = json.load(open(path))
    lines = [f"**{title}** (`{path}`)", "",
             "| fault | chemistry | vehicles | found | named | median delay | rule fired | named ahead of it | median lead | false alarms | per 1,000 healthy h | naming another | closest call |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for group in result["groups"] + [{"fault": "all", "chemistry": "", "summary": result["overall"]}]:
        s = group["summary"]
        rate = s["false_alarms_per_1000_h"]
        lines.append(f"| {group['fault']} | {group['chemistry']} | {s['vehicles']} | {s['found']} | {s['named']} | "
                     f"{hours(s['median_delay_h'])} | {s['rule_fired']} | {s['ahead_of_rule']} | {hours(s['median_lead_h'])} | "
                     f"{s['false_alarms']} | {'-' if rate is None else f'{rate:.1f}'} | {s['wrong_target_alarms']} | {ratio(s.get('highest_closest_call'))} |")
    lines.append(f"\nHealthy vehicle-hours: {result['overall']['healthy_vehicle_hours']:.0f}.\n")
    return "\n".join(lines)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        title, path = argument.split("=", 1)
        print(table(title, path))
