"""The outbox survives SIGKILL: a child commits alarms and reports each commit; it is killed at random
moments many times; every reported alarm is in the database afterwards, and the database passes
PRAGMA integrity_check (checked with the real sqlite3 CLI)."""
import os
import random
import select
import signal
import subprocess
import time

from conftest import CELLDRIFT

KILLS = 30


def committed_ids_until_killed(database, rng):
    child = subprocess.Popen([CELLDRIFT, "outbox", "stress", "--db", str(database)], stdout=subprocess.PIPE)
    deadline = time.monotonic() + rng.uniform(0.05, 0.6)
    reported = []
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], 0.01)
        if ready:
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    buffer += child.stdout.read()
    for line in buffer.decode().splitlines():
        if line.startswith("committed ") and len(line) == len("committed ") + 36:
            reported.append(line.split()[1])
    return reported


def sqlite(database, sql):
    result = subprocess.run(["sqlite3", str(database), sql], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def test_every_reported_commit_survives_sigkill(tmp_path, celldrift):
    rng = random.Random(1234)
    database = tmp_path / "outbox.db"
    reported = []
    for _ in range(KILLS):
        reported += committed_ids_until_killed(database, rng)
    assert len(reported) > KILLS * 5, "the child committed too little to prove anything"
    stored = set(sqlite(database, "SELECT id FROM records;"))
    missing = [record for record in reported if record not in stored]
    assert not missing, f"{len(missing)} reported commits are not in the database"
    assert sqlite(database, "PRAGMA integrity_check;") == ["ok"]
    assert sqlite(database, "PRAGMA journal_mode;") == ["wal"]
