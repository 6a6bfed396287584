"""The daemon under change and failure, against real mosquitto brokers: SIGHUP reloads rules without
losing state; the local broker killed and restarted; the cloud away for a long stretch with a bounded
outbox; the daemon killed with SIGKILL mid-stream and restarted: every committed alarm is delivered,
a duplicate always with the same id."""
import gzip
import json
import signal
import subprocess
import time

import paho.mqtt.client as mqtt

from conftest import daemon_summary, CELLDRIFT, absolute_config, json_lines, run
from test_daemon_mqtt import SAMPLES, free_port, start_broker, subscriber, wait_for


def daemon_config(tmp_path, local_port, extra=""):
    return absolute_config(tmp_path, f"\n[mqtt]\nport = {local_port}\n" + extra)


def publisher_on(port, name="bms-sim"):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def snapshot_lines(fault):
    return gzip.open(SAMPLES / f"{fault}.snapshots.jsonl.gz", "rt").read().splitlines()


def stats(database):
    return json.loads(run("outbox", "stats", "--db", database, "--json")[0])


def stop(daemon):
    daemon.send_signal(signal.SIGTERM)
    _, err = daemon.communicate(timeout=30)
    return err


def test_sighup_reloads_rules_and_keeps_state(tmp_path):
    port = free_port()
    broker = start_broker(tmp_path, port, "local")
    config = daemon_config(tmp_path, port)
    database = tmp_path / "o.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
    publisher = publisher_on(port)
    try:
        time.sleep(0.5)
        lines = snapshot_lines("healthy")
        for line in lines[:45]:
            publisher.publish("bms/healthy/snapshot", line, qos=1).wait_for_publish(5)
        time.sleep(0.5)
        assert stats(database)["pending"] == 0
        # A broken file is refused and the running config stays.
        config.write_text(config.read_text() + "\n[rules.broken]\nfeature = \"nothing\"\nraise_above = 1\n")
        daemon.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        config.write_text(config.read_text().replace('\n[rules.broken]\nfeature = "nothing"\nraise_above = 1\n', "")
                          .replace("raise_above = 0.050", "raise_above = 0.005").replace("clear_below = 0.050", "clear_below = 0.004"))
        daemon.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        for line in lines[45:]:
            publisher.publish("bms/healthy/snapshot", line, qos=1).wait_for_publish(5)
        assert wait_for(lambda: stats(database)["pending"] >= 1, 10)
    finally:
        err = stop(daemon)
        publisher.loop_stop()
        broker.terminate()
        broker.wait(timeout=10)
    assert "error: reload refused, keeping the running config" in err and 'feature "nothing" is not one of' in err
    assert "reloaded" in err and daemon.returncode == 0
    alarms = json_lines(run("outbox", "export", "--db", database)[0])
    # The healthy pack's spread sits between 5 and 50 mV: only the reloaded 5 mV rule raises.
    assert [a["kind"] for a in alarms] == ["cell_spread"] and 0.005 < alarms[0]["payload"]["spread_v"] < 0.050


def test_local_broker_killed_and_restarted(tmp_path):
    """The broker dies mid-stream and comes back on the same port: the daemon reconnects, its
    persistent session picks up, and the alarm raised afterwards arrives and is stored."""
    port = free_port()
    broker = start_broker(tmp_path, port, "local")
    database = tmp_path / "o.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", daemon_config(tmp_path, port), "--db", database],
                              stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        publisher = publisher_on(port)
        lines = snapshot_lines("micro-short")
        for line in lines[:15]:  # the alarm comes later (snapshot 27 or so)
            publisher.publish("bms/micro-short/snapshot", line, qos=1).wait_for_publish(5)
        publisher.loop_stop()
        broker.kill()
        broker.wait(timeout=10)
        time.sleep(1)
        broker = start_broker(tmp_path, port, "local")
        alarms_client, alarms = subscriber(port, "celldrift/+/alarms/+")
        status_client, statuses = subscriber(port, "celldrift/+/status")
        # Back online (the reconnect backoff is at most a few seconds here): it says so again.
        assert wait_for(lambda: any(payload == b"online" for _, payload, _ in statuses), 30)
        status_client.loop_stop()
        publisher = publisher_on(port, "bms-sim-2")
        for line in lines[15:]:
            publisher.publish("bms/micro-short/snapshot", line, qos=1).wait_for_publish(10)
        assert wait_for(lambda: alarms, 30)
        publisher.loop_stop()
        alarms_client.loop_stop()
    finally:
        err = stop(daemon)
        broker.terminate()
        broker.wait(timeout=10)
    assert daemon.returncode == 0, err
    stored = json_lines(run("outbox", "export", "--db", database)[0])
    assert [json.loads(alarms[0][1])["id"]] == [r["id"] for r in stored]
    assert daemon_summary(err)["snapshots"] == len(lines)


def test_long_cloud_outage_bounded_outbox_then_full_drain(tmp_path):
    """The cloud is away while many alarms come (a 1 mV rule on every snapshot of six packs): the
    outbox stays within max_records, every eviction is counted, and what is kept drains when it returns."""
    port, cloud_port = free_port(), free_port()
    broker = start_broker(tmp_path, port, "local")
    config = daemon_config(tmp_path, port, f'[uplink]\nhost = "127.0.0.1"\nport = {cloud_port}\n')
    config.write_text(config.read_text().replace("max_records", "#").replace("[outbox]", "[outbox]")
                      .replace("raise_above = 0.050", "raise_above = 0.001").replace("clear_below = 0.050", "clear_below = 0.001")
                      .replace("minimum_duration_s = 10", "minimum_duration_s = 0")
                      + "[outbox]\nmax_records = 20\n")
    database = tmp_path / "o.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
    cloud = None
    try:
        time.sleep(0.5)
        publisher = publisher_on(port)
        for fault in ("healthy", "micro-short", "hot-spot", "capacity-fade", "sensor-offset", "loose-connection"):
            for index, line in enumerate(snapshot_lines(fault)):
                # The spread falls back under 1 mV never: alternate a flat snapshot to make the rule clear and re-raise.
                if index % 2:
                    flat = json.loads(line)
                    flat["cell_voltages"] = [3.7] * len(flat["cell_voltages"])
                    line = json.dumps(flat)
                publisher.publish(f"bms/{fault}/snapshot", line, qos=1).wait_for_publish(5)
        publisher.loop_stop()
        time.sleep(1)
        before = stats(database)
        assert before["pending"] == 20 and before["evicted"] > 0 and before["evicted_unacknowledged"] == before["evicted"]
        cloud = start_broker(tmp_path, cloud_port, "cloud")
        receiver, received = subscriber(cloud_port, "celldrift/+/records")
        assert wait_for(lambda: stats(database)["acknowledged"] == 20, 60)
        assert wait_for(lambda: len(received) >= 20, 10)
        receiver.loop_stop()
    finally:
        err = stop(daemon)
        broker.terminate()
        broker.wait(timeout=10)
        if cloud:
            cloud.terminate()
            cloud.wait(timeout=10)
    assert daemon.returncode == 0, err
    summary = daemon_summary(err)
    assert summary["records"] == 20 + before["evicted"]
    kept = {r["id"] for r in json_lines(run("outbox", "export", "--db", database)[0])}
    assert {json.loads(payload)["id"] for _, payload, _ in received} == kept


def test_sigkill_mid_stream_then_every_committed_alarm_is_delivered(tmp_path):
    """SIGKILL while alarms flow and the cloud is away; after a restart (with the cloud up) every
    record committed before the kill is delivered; duplicates, if any, carry the same id."""
    port, cloud_port = free_port(), free_port()
    broker = start_broker(tmp_path, port, "local")
    config = daemon_config(tmp_path, port, f'[uplink]\nhost = "127.0.0.1"\nport = {cloud_port}\n')
    config.write_text(config.read_text().replace("raise_above = 0.050", "raise_above = 0.001")
                      .replace("clear_below = 0.050", "clear_below = 0.001").replace("minimum_duration_s = 10", "minimum_duration_s = 0")
                      # Every flip its own alarm: no hold-off joining them into one.
                      + "\n[alarms]\nhold_off_s = 0\n")
    database = tmp_path / "o.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.DEVNULL)
    cloud = None
    try:
        time.sleep(0.5)
        publisher = publisher_on(port)
        # Killed while snapshots keep coming, once a few alarms are committed. Not at a fixed count: how
        # many the daemon (a debug build here) has committed by then depends on the machine (at message
        # 60 it was 1-2 in a third of the runs of one machine, 3 or more on another).
        for index, line in enumerate(snapshot_lines("micro-short")):
            if index % 2:
                flat = json.loads(line)
                flat["cell_voltages"] = [3.7] * len(flat["cell_voltages"])
                line = json.dumps(flat)
            publisher.publish("bms/micro-short/snapshot", line, qos=1).wait_for_publish(5)
            time.sleep(0.01)
            if index >= 20 and (stats(database)["pending"] >= 3 or index == 80):
                break
        daemon.kill()
        daemon.wait(timeout=10)
        publisher.loop_stop()
        committed = {r["id"] for r in json_lines(run("outbox", "export", "--db", database)[0])}
        assert len(committed) >= 3
        integrity = subprocess.run(["sqlite3", database, "PRAGMA integrity_check"], capture_output=True, text=True).stdout
        assert integrity.strip() == "ok"
        cloud = start_broker(tmp_path, cloud_port, "cloud")
        receiver, received = subscriber(cloud_port, "celldrift/+/records")
        daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
        # The broker kept the daemon's persistent session: the snapshots published while it was dead
        # arrive after the restart and may raise more alarms. Every one committed before the kill is delivered.
        def acknowledged():
            return {r["id"] for r in json_lines(run("outbox", "export", "--db", database)[0]) if r["state"] == "acknowledged"}
        assert wait_for(lambda: acknowledged() >= committed, 60)
        assert wait_for(lambda: {json.loads(p)["id"] for _, p, _ in received} >= committed, 10)
        receiver.loop_stop()
    finally:
        if daemon.poll() is None:
            stop(daemon)
        broker.terminate()
        broker.wait(timeout=10)
        if cloud:
            cloud.terminate()
            cloud.wait(timeout=10)
    ids = [json.loads(p)["id"] for _, p, _ in received]
    assert set(ids) >= committed and set(ids) <= {r["id"] for r in json_lines(run("outbox", "export", "--db", database)[0])}
