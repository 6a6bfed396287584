"""Writes scripts/release/hot-functions.txt, the functions the daemon runs, which the release link places
together (lld's --symbol-ordering-file, Package.swift): a page of the binary's code becomes resident when
any function on it runs (and the kernel maps its cached neighbours with it), so the daemon's few hundred
kilobytes of code spread over 10 MB of text kept 5.7 MB of it resident; gathered, 3.8 MB
(docs/BENCHMARKS.md, "The binary's hot code gathered").

    .venv/bin/python scripts/release/hot_functions.py [--celldrift .build/release/celldrift] [--seconds 40]

Runs scripts/bench/daemon_load.py with the daemon under valgrind's callgrind (at a rate valgrind keeps
up with: the same code runs at any rate) and keeps every function of the celldrift binary that ran, by
its symbol name, sorted. Give it the static build (`make release`, the default path after it): with the
shared Swift runtime, the runtime's and standard library's functions are not in the binary and would be
left out of the list. Run it again after large changes: a name no longer in the binary is ignored by
the linker (the list only goes stale, it never breaks the build).
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "scripts" / "release" / "hot-functions.txt"
# Callgrind's name compression: "fn=(12) name" defines id 12, "fn=(12)" reuses it; objects likewise.
ENTRY = re.compile(r"^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$")


def functions_run(profile, binary):
    """The functions of `binary` that callgrind's `profile` saw running (their own cost lines)."""
    objects, names, current_object, seen = {}, {}, None, set()
    with open(profile) as file:
        for line in file:
            match = ENTRY.match(line.rstrip("\n"))
            if not match:
                continue
            kind, number, name = match.groups()
            table = objects if kind in ("ob", "cob") else names
            if name:
                table[number] = name
            if kind == "ob":
                current_object = objects[number]
            elif kind == "fn" and current_object == binary:
                seen.add(names[number])
    # Valgrind marks a second function of the same name with 'N, and names code without a symbol by its
    # address: neither is a symbol the linker knows.
    return sorted(name for name in seen if "'" not in name and not name.startswith("0x"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--celldrift", default=str(ROOT / ".build" / "release" / "celldrift"))
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--rate", type=int, default=800)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is needed (apt-get install valgrind)")
    folder = pathlib.Path(tempfile.mkdtemp())
    # Valgrind cannot read the DWARF that Swift 6.3 writes ("possibly corrupted debuginfo"): a copy
    # without it, symbols kept.
    binary = folder / "celldrift"
    shutil.copy(args.celldrift, binary)
    subprocess.run(["strip", "--strip-debug", binary], check=True)
    profile = folder / "callgrind.out"
    wrapper = (f"valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file={profile} "
               f"--log-file={folder / 'valgrind.log'}")
    subprocess.run([sys.executable, ROOT / "scripts" / "bench" / "daemon_load.py", "--celldrift", binary, "--wrapper", wrapper,
                    "--seconds", str(args.seconds), "--rate", str(args.rate)], check=True)
    names = functions_run(profile, str(binary))
    if len(names) < 100:
        sys.exit(f"only {len(names)} functions seen running in {binary}: see {folder / 'valgrind.log'}")
    OUTPUT.write_text("".join(f"{name}\n" for name in names))
    print(f"{len(names)} functions -> {OUTPUT.relative_to(ROOT)}")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
