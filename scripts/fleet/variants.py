"""Writes every vehicle config of a fleet again with the pipeline sections of a shipped celldrift config,
one folder per variant (docs/fleet.md, "Figures"): <fleet>/variant-<name>/<vehicle>.toml, DBC paths
absolute. The vehicle's own part (its DBC and [pack] mapping) is kept as generated.

    variants.py FLEET_FOLDER            # all variants
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import pipeline_settings  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../firmware-samples")
CELL_MODEL = os.path.abspath(os.path.join(SAMPLES, "models/cell-model.safetensors"))

# name: (the config whose pipeline sections are used, TOML appended after them)
VARIANTS = {
    # The pipeline before the per-cell detectors: the rules in amperes and the cell-drift model.
    "before-detectors": ("celldrift_pack_rules.toml", "\n[detection]\nenabled = false\n"),
    # What ships: the BMS's 50 mV rule, the per-cell detectors, the pack model's daily event.
    "as-shipped": ("celldrift_pack.toml", ""),
    # What ships, with the cell-drift model on ([model] is the shipped config's last table).
    "with-cell-model": ("celldrift_pack.toml", f'cell = "{CELL_MODEL}"\n'),
}


def vehicle_part(path):
    """The generated config up to its first pipeline section, with the DBC path made absolute."""
    folder = os.path.dirname(os.path.abspath(path))
    lines = []
    for line in open(path):
        stripped = line.strip()
        if stripped.startswith("[") and stripped != "[pack]":
            break
        if stripped.startswith('dbc = "') and not stripped.startswith('dbc = "/'):
            line = f'dbc = "{os.path.join(folder, stripped[len("dbc = ") + 1:-1])}"\n'
        lines.append(line)
    return "".join(lines)


def write_variants(fleet):
    configs = sorted(glob.glob(os.path.join(fleet, "*.toml")))
    for name, (source, extra) in VARIANTS.items():
        settings = pipeline_settings(os.path.join(SAMPLES, source)).rstrip("\n") + "\n" + extra
        folder = os.path.join(fleet, f"variant-{name}")
        os.makedirs(folder, exist_ok=True)
        for config in configs:
            with open(os.path.join(folder, os.path.basename(config)), "w") as file:
                file.write(vehicle_part(config) + settings)
    return list(VARIANTS)


if __name__ == "__main__":
    print(" ".join(write_variants(sys.argv[1])))
