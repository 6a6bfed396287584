"""The daemon under load (docs/BENCHMARKS.md): `celldrift run` (release) fed 8,000 frames/s over MQTT
for a minute by paho-mqtt (the shipped faulty samples' candump lines, each restamped with the wall-clock
time it is published at; one vehicle unless --vehicles), on a mosquitto broker on 127.0.0.1. Prints the
daemon's CPU (% of one core, from /proc), its peak RSS, and the alarm latency (frame published -> alarm
received on MQTT, p50/p99).

    .venv/bin/python scripts/bench/daemon_load.py [--rate 8000] [--seconds 60]
"""
import argparse
import sys
import gzip
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import paho.mqtt.client as mqtt

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "firmware-samples" / "simulated"



def daemon_summary(err):
    """The daemon's last log line: its counts as JSON after the level."""
    line = err.strip().splitlines()[-1]
    return json.loads(line[line.index("{"):])


# Receives in a process of its own: the alarms (latency from the frame's timestamp, the event time), or
# with "frames" the BMS messages themselves (the peers' own latency: publisher -> broker -> subscriber,
# no celldrift in the path), so that the daemon's figure can be read against the rig's in the same run.
LISTENER = """
import json, sys, time
import paho.mqtt.client as mqtt
port, path, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = open(path, "w", buffering=1)
def on_message(_client, _userdata, message):
    stamp = json.loads(message.payload)["event_time"] if what == "alarms" else float(message.payload.split(b")")[0][1:])
    out.write(f"{time.time() - stamp}\\n")
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{what}")
client.on_message = on_message
client.connect("127.0.0.1", port)
client.subscribe("celldrift/+/alarms/#" if what == "alarms" else "bms/#", qos=1 if what == "alarms" else 0)
client.loop_forever()
"""


def daemon_online(port, daemon, seconds=60):
    said = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-status")
    client.on_message = lambda _client, _userdata, message: said.append(message.payload)
    client.connect("127.0.0.1", port)
    client.subscribe("celldrift/+/status")
    deadline = time.monotonic() + seconds
    while b"online" not in said and daemon.poll() is None and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    return b"online" in said


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_by_file(pid):
    """Resident kB per mapped file (anonymous memory under "[anonymous]"), from /proc/PID/smaps."""
    totals, name = {}, None
    for line in pathlib.Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):
            name = fields[5] if len(fields) > 5 else "[anonymous]"
        elif fields[0] == "Rss:":
            totals[name] = totals.get(name, 0) + int(fields[1])
    return totals


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=8000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--vehicles", type=int, default=1, help="vehicles sharing the rate (a gateway serves one)")
    parser.add_argument("--batch", type=int, default=1, help="candump lines per MQTT message (a bridge batching its frames)")
    parser.add_argument("--celldrift", default=str(ROOT / ".build" / "release" / "celldrift"))
    parser.add_argument("--no-detection", action="store_true", help="the per-cell detectors off ([detection] enabled = false)")
    parser.add_argument("--log", help="a candump log (plain or .gz) of the shipped DBC to replay instead of the samples, "
                                      "e.g. one with the per-cell balancing flags the shipped samples predate")
    parser.add_argument("--mappings", action="store_true", help="also print the daemon's resident memory by mapped file")
    parser.add_argument("--wrapper", default="", help="a command the daemon runs under (scripts/release/hot_functions.py "
                                                       "runs it under callgrind); its output must not go to stderr")
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp())
    port = free_port()
    (folder / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", folder / "mosquitto.conf"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    # The BMS rule without its minimum duration (raise above 50 mV, clear below 49.9 mV), on a stretch of
    # the log where the spread crosses 50 mV (see below), so that alarms come often enough for a p99.
    config = folder / "daemon.toml"
    config.write_text((ROOT / "firmware-samples" / "celldrift_pack.toml").read_text()
                      .replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"')
                      .replace('pack = "models/', f'pack = "{ROOT / "firmware-samples" / "models"}/')
                      .replace('cell = "models/', f'cell = "{ROOT / "firmware-samples" / "models"}/')
                      .replace("clear_below = 0.050", "clear_below = 0.0499").replace("minimum_duration_s = 10", "minimum_duration_s = 0")
                      + f"\n[mqtt]\nport = {port}\n" + ("\n[detection]\nenabled = false\n" if args.no_detection else ""))
    daemon = subprocess.Popen(args.wrapper.split() + [args.celldrift, "run", "--config", config, "--db", folder / "outbox.db"],
                              stderr=subprocess.PIPE, text=True)
    # Frames are published once the daemon's retained `online` is there (it follows its subscriptions on
    # the same connection; a message published before them reaches no one). A daemon that refuses the
    # config (an older binary and a newer config's keys) exits at once: say so before the listeners start,
    # which would otherwise outlive this script and hold a pipe after it open.
    if not daemon_online(port, daemon):
        broker.terminate()
        daemon.kill()
        sys.exit(f"{args.celldrift} run exited ({daemon.wait()}) or never said online: {daemon.stderr.read().strip()}")
    # The alarms are received in a process of their own: on the publisher's interpreter, the receiving
    # thread waits for the GIL behind the publishing loop and the latency measures Python, not celldrift.
    latency_file, rig_file = folder / "latencies.txt", folder / "rig.txt"
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, str(port), str(latency_file), "alarms"])
    rig = subprocess.Popen([sys.executable, "-c", LISTENER, str(port), str(rig_file), "frames"])
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bms")
    publisher.max_queued_messages_set(0)
    publisher.connect("127.0.0.1", port)
    # A bridge sends each message as it is published: without TCP_NODELAY, paho's socket holds small
    # writes (Nagle) until the broker's delayed ACK, which measured 20-40 ms of "latency" that is the
    # publisher's own.
    publisher.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # No network thread: publish() then writes at once on this thread. With paho's thread, each write
    # waited for the GIL behind the loop that builds the next lines (a median of 11 ms with 16-line
    # messages, none of it the broker's or celldrift's).
    for _ in range(20):
        publisher.loop(timeout=0.05)
    # One vehicle (a gateway's) whose BMS log is replayed at the whole rate, restamped as it goes.
    faulty = ["micro-short", "sensor-offset", "hot-spot", "capacity-fade", "resistance-growth", "loose-connection"]
    logs = [[line.split(" ", 1)[1] for line in gzip.open(SAMPLES / f"{name}.log.gz", "rt").read().splitlines()] for name in faulty]
    if args.log:
        opener = gzip.open if args.log.endswith(".gz") else open
        with opener(args.log, "rt") as file:
            # Its first two hours at most (the loop wraps within them): 70-odd frames a second of 96 cells.
            logs = [[line.split(" ", 1)[1] for _, line in zip(range(7200 * 80), file)]]
    # The micro-short log's spread passes 49 mV 210 s in and 50 mV 268 s in (68 frames a second): the
    # one vehicle loops over 200-280 s, so the rule clears at each wrap and raises again (a pass takes
    # 0.7 s at 8,000 frames/s) instead of once per 7.7 s pass over the whole log (3 alarms in 25 s).
    if args.vehicles == 1 and not args.log:
        logs[0] = logs[0][200 * 68:280 * 68]
    vehicles = args.vehicles
    cursors = [(vehicle, logs[vehicle % len(logs)], (vehicle * 997) % 61200) for vehicle in range(vehicles)]
    start_cpu, start = cpu_seconds(daemon.pid), time.monotonic()
    # Sent every millisecond as due (a bridge forwards frames as they come; a coarser tick would send
    # bursts that a reader gets for free in one read).
    sent, tick, messages, serviced = 0, 0.001, 0, time.monotonic()
    while time.monotonic() - start < args.seconds:
        due = int((time.monotonic() - start) * args.rate)
        while due - sent >= args.batch:
            vehicle, log, offset = cursors[(sent // args.batch) % vehicles]
            now = time.time()
            lines = [f"({now:.6f}) " + log[(offset + (sent + k) // vehicles) % len(log)] for k in range(args.batch)]
            publisher.publish(f"bms/V{vehicle:04d}/can", "\n".join(lines), qos=0)
            sent += args.batch
            messages += 1
        if time.monotonic() - serviced > 1:  # keep-alive and anything the broker sent
            publisher.loop(timeout=0)
            serviced = time.monotonic()
        time.sleep(tick)
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(daemon.pid) - start_cpu
    status = {line.split(":")[0]: line.split()[1] for line in pathlib.Path(f"/proc/{daemon.pid}/status").read_text().splitlines()
              if line.startswith(("VmHWM", "RssAnon", "RssFile"))}
    # The peak, and what it is made of now: the daemon's own memory (anonymous) and the binary's and
    # libraries' pages mapped from the page cache (file), which vary with what the kernel maps around
    # each fault, not with the daemon.
    rss, anonymous, mapped = (int(status[key]) for key in ("VmHWM", "RssAnon", "RssFile"))
    by_file = resident_by_file(daemon.pid) if args.mappings else {}
    time.sleep(2)
    daemon.terminate()
    _, err = daemon.communicate(timeout=30)
    summary = daemon_summary(err)
    publisher.disconnect()
    for process in (listener, rig):
        process.terminate()
        process.wait(timeout=10)
    latencies = [float(line) for line in latency_file.read_text().split()] if latency_file.exists() else []
    rig_latencies = sorted(float(line) for line in rig_file.read_text().split()) if rig_file.exists() else []
    broker.terminate()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")
    peers = lambda q: rig_latencies[min(len(rig_latencies) - 1, int(q * len(rig_latencies)))] * 1000 if rig_latencies else float("nan")
    print(f"{sent} frames in {messages} messages in {elapsed:.1f} s ({sent / elapsed:.0f} frames/s published, "
          f"{summary['frames']} received by the daemon, "
          f"{vehicles} vehicles); daemon CPU {100 * cpu / elapsed:.2f} % of one core, peak RSS {rss / 1024:.1f} MB "
          f"(now {anonymous / 1024:.1f} MB anonymous, {mapped / 1024:.1f} MB file-backed); "
          f"{len(latencies)} alarms, latency p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms; the peers alone "
          f"(publisher -> broker -> subscriber, {len(rig_latencies)} messages): p50 {peers(0.5):.1f} ms, p99 {peers(0.99):.1f} ms")


    for name, kilobytes in sorted(by_file.items(), key=lambda item: -item[1])[:12]:
        print(f"  {kilobytes / 1024:5.1f} MB  {name}")


if __name__ == "__main__":
    main()
