#!/usr/bin/env python3
"""How good a leak alarm's `time_to_rule_s` is (issue 16, item 5): each leaking vehicle of the splits given
whose BMS rule fired is replayed with its as-shipped config, and the first leak alarm's estimate of when
the 50 mV rule will fire is compared with when it did (docs/fleet.md, "Twentieth session").

The generator logs only part of each day, so the rule's firing is known to lie between the last logged
second at which the true spread was still within 50 mV and the second it fired (the label's, from the
truth); an estimate is "in the window" when it falls there, else early or late by its distance from it.

    python3 scripts/fleet/time_to_rule.py [--celldrift BIN] [--out out] heldout-leaks heldout-leaks-d heldout-b
"""
import argparse
import json
import os
import sqlite3
import subprocess
import tempfile

from goals import rule_saw, truth

RULE_V = 0.050


def rule_window(out, label):
    """(earliest, latest) event time at which the rule's spread can have crossed 50 mV."""
    table = truth(out, label)
    cells = table[:, 2:2 + label["cells"]]
    spread = cells.max(axis=1) - cells.min(axis=1)
    fired = label["rule_first_fired_time"]
    within = (table[:, 0] < fired) & (spread <= RULE_V)
    earliest = float(table[within, 0].max()) if within.any() else float(table[0, 0])
    return earliest, float(fired)


def first_leak_alarm(celldrift, folder, label):
    """(event time, time_to_rule_s, cell) of the vehicle's first leak alarm, or None."""
    config = os.path.join(folder, "variant-as-shipped", f"{label['vehicle']}.toml")
    with tempfile.TemporaryDirectory() as scratch:
        db = os.path.join(scratch, "outbox.db")
        subprocess.run([celldrift, "replay", "--config", config, os.path.join(folder, label["log"]), "--db", db,
                        "--quiet"], check=True, stdout=subprocess.DEVNULL)
        with sqlite3.connect(db) as connection:
            row = connection.execute(
                "SELECT event_time, json_extract(payload, '$.time_to_rule_s'), cell"
                " FROM records WHERE type = 'alarm' AND kind = 'cell_leak' ORDER BY event_time LIMIT 1").fetchone()
    return row


def hours(seconds):
    return f"{seconds / 3600:.1f} h"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("splits", nargs="+")
    parser.add_argument("--out", default="out")
    parser.add_argument("--celldrift", default=".build/release/celldrift")
    arguments = parser.parse_args()
    print("| vehicle | chemistry | leak (C) | alarm at cell | estimated time to the rule | the rule fired within | verdict |")
    print("|---|---|---|---|---|---|---|")
    verdicts = []
    for split in arguments.splits:
        folder = os.path.join(arguments.out, f"fleet-{split}")
        for label in json.load(open(os.path.join(folder, "labels.json"))):
            if label["fault"] != "micro-short" or not rule_saw(label):
                continue
            alarm = first_leak_alarm(arguments.celldrift, folder, label)
            if alarm is None or alarm[1] is None:
                why = "no leak alarm" if alarm is None else "named without an estimate (nor a size)"
                print(f"| {label['vehicle']} | {label['chemistry']} | {label['magnitude']:.4f} | - | - | - | {why} |")
                continue
            at, estimate, cell = alarm
            earliest, latest = rule_window(arguments.out, label)
            predicted = at + estimate
            if latest <= at:
                verdict = "the rule fired first"
            elif predicted < earliest:
                verdict = f"early by {hours(earliest - predicted)}"
            elif predicted > latest:
                verdict = f"late by {hours(predicted - latest)}"
            else:
                verdict = "in the window"
            verdicts.append(verdict.split(" by ")[0])
            named = "right" if cell == label["cell"] else f"cell {cell}, not {label['cell']}"
            print(f"| {label['vehicle']} | {label['chemistry']} | {label['magnitude']:.4f} | {named} | {hours(estimate)} | "
                  f"{hours(max(0.0, earliest - at))} to {hours(latest - at)} after the alarm | {verdict} |")
    counts = {verdict: verdicts.count(verdict) for verdict in sorted(set(verdicts))}
    print(f"\n{len(verdicts)} estimates: " + ", ".join(f"{count} {verdict}" for verdict, count in counts.items()))


if __name__ == "__main__":
    main()
