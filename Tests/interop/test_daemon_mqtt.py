"""celldrift run against a real mosquitto broker on 127.0.0.1 (started here), with paho-mqtt as the
peer: snapshots and candump lines in, alarms committed to SQLite and published on MQTT with the same
id, malformed payloads counted and survived, SIGTERM ends with exit 0 and a retained `offline`."""
import gzip
import shutil
import json
import pathlib
import random
import signal
import socket
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import api_port, daemon_summary, CELLDRIFT, ROOT, absolute_config, json_lines, run

SAMPLES = ROOT / "firmware-samples" / "simulated"
CONFIG = ROOT / "firmware-samples" / "celldrift_pack.toml"
LABELS = {label["fault"]: label for label in json.loads((SAMPLES / "labels.json").read_text())}


MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    """A free port below the kernel's ephemeral range. A port the kernel handed out (bind to 0) can be
    handed out again as the source port of any outgoing connection before the test's broker binds it;
    and a client that keeps reconnecting to a port nobody listens on yet (the uplink while the cloud
    is "down") can even connect to itself when its source port comes round to the target port. Both
    stopped a broker from starting in CI. Source ports never come from below the ephemeral range."""
    low = int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(10000, low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port below the ephemeral range")


@pytest.fixture
def broker(tmp_path):
    port = free_port()
    process = start_broker(tmp_path, port, "mosquitto")
    yield port
    process.terminate()
    process.wait(timeout=10)


def subscriber(port, topic):
    received = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
    client.on_message = lambda _c, _u, message: received.append((message.topic, message.payload, message.retain))
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    return client, received


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_snapshots_in_alarms_out(tmp_path, broker, celldrift):
    import urllib.request

    config = absolute_config(tmp_path, f'\n[mqtt]\nport = {broker}\nclient_id = "celldrift-test"\ntopics = ["bms/#"]\n'
                                       '[api]\nport = 0\n', source="celldrift_pack_rules.toml")
    database = tmp_path / "outbox.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
    alarms_client, alarms = subscriber(broker, "celldrift/+/alarms/+")
    status_client, statuses = subscriber(broker, "celldrift/+/status")
    scores_client, scores = subscriber(broker, "celldrift/+/scores")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bms-sim")
    publisher.connect("127.0.0.1", broker)
    publisher.loop_start()
    try:
        metrics = f"http://127.0.0.1:{api_port(daemon)}/metrics"
        assert wait_for(lambda: any(payload == b"online" for _, payload, _ in statuses))
        snapshots = gzip.open(SAMPLES / "micro-short.snapshots.jsonl.gz", "rt").read().splitlines()
        for index, line in enumerate(snapshots):
            publisher.publish("bms/micro-short/snapshot", line, qos=1).wait_for_publish(5)
            if index == 10:
                publisher.publish("bms/micro-short/snapshot", b"\xff\x00 not a frame", qos=1).wait_for_publish(5)
                publisher.publish("bms/micro-short/snapshot", '{"ts": 1, "cell_voltages": [3.7]}', qos=1).wait_for_publish(5)
                publisher.publish("bms/micro-short/snapshot", json.dumps({"ts": 1767571200, "cell_voltages": [3.7] * 96,
                                                                          "cell_balancing": [0] * 95}), qos=1).wait_for_publish(5)
        # candump lines of the healthy sample, decoded with the config's DBC.
        lines = gzip.open(SAMPLES / "healthy.log.gz", "rt").read().splitlines()[:3000]
        for line in lines:
            publisher.publish("bms/healthy/can", line, qos=1)
        publisher.publish("bms/healthy/can", "", qos=1).wait_for_publish(5)
        # The binary layout: 8-byte little-endian nanoseconds, then the kernel's struct can_frame.
        for line in gzip.open(SAMPLES / "healthy.log.gz", "rt").read().splitlines()[3000:3500]:
            stamp, _, frame = line.split()
            ident, data = frame.split("#")
            payload = bytes.fromhex(data)
            raw = int(ident, 16) | (0x80000000 if len(ident) == 8 else 0)
            binary = (int(float(stamp.strip("()")) * 1e9).to_bytes(8, "little") + raw.to_bytes(4, "little")
                      + bytes([len(payload), 0, 0, 0]) + payload.ljust(8, b"\0"))
            publisher.publish("bms/healthy/can", binary, qos=1)
        publisher.publish("bms/healthy/can", b"\0" * 8 + (0x20000004).to_bytes(4, "little") + bytes(12), qos=1).wait_for_publish(5)
        # Batches: 50 candump lines a message, as a bridge batching its frames; one torn line among them.
        batched = gzip.open(SAMPLES / "healthy.log.gz", "rt").read().splitlines()[3500:4500]
        batched.insert(777, "(1767571200.000000) can0 1F")
        for start in range(0, len(batched), 50):
            publisher.publish("bms/healthy/can", "\n".join(batched[start:start + 50]) + "\n", qos=1).wait_for_publish(5)
        assert wait_for(lambda: len(alarms) >= 1)
        # Every message handled before the daemon is stopped (on a busy machine the alarm comes long before
        # the last frames are read): the snapshots and the three bad ones, the candump lines and the empty
        # message, the binary frames and the bad one, the batches.
        published = len(snapshots) + 3 + len(lines) + 1 + 500 + 1 + -(-len(batched) // 50)
        handled = f"celldrift_mqtt_messages_total {float(published)}"
        assert wait_for(lambda: handled in urllib.request.urlopen(metrics, timeout=10).read().decode(), 60)
    finally:
        time.sleep(1)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        publisher.loop_stop()
    assert daemon.returncode == 0, err
    summary = daemon_summary(err)
    assert summary["snapshots"] == len(snapshots) and summary["malformed"] == 6 and summary["frames"] == 4500
    assert summary["vehicles"] == 2 and summary["outbox_errors"] == 0
    assert "bms/micro-short/snapshot: malformed snapshot: 1 cell voltages; the config's pack has 96" in err
    assert "bms/micro-short/snapshot: malformed payload (14 bytes): expected a timestamp" in err
    assert ('bms/micro-short/snapshot: malformed snapshot: field "cell_balancing" is not an array of 96 flags, '
            "one per cell voltage") in err
    # The alarm on MQTT is the one in SQLite: same id, same cell (the labelled one).
    topic, payload, _ = alarms[0]
    published = json.loads(payload)
    # The snapshots name their vehicle; the candump lines take it from the topic (bms/<vehicle>/...).
    vehicle = json.loads(snapshots[0])["vehicle"]
    assert topic == f"celldrift/{vehicle}/alarms/cell_spread" and published["cell"] == LABELS["micro-short"]["cell"]
    stored = json_lines(run("outbox", "export", "--db", database)[0])
    assert [record["id"] for record in stored] == [published["id"]]
    assert wait_for(lambda: any(payload == b"offline" for _, payload, _ in statuses), 10)
    alarms_client.loop_stop()
    status_client.loop_stop()
    scores_client.loop_stop()
    # The cell-drift model scored every cell each minute once the window was full; the retained scores
    # name the faulty cell, the pack score being the highest cell score.
    latest = [json.loads(payload) for topic, payload, _ in scores if topic == f"celldrift/{vehicle}/scores"][-1]
    cell_model = latest["cell_model"]
    assert len(cell_model["cell_scores"]) == 96 and cell_model["cell"] == LABELS["micro-short"]["cell"]
    assert abs(cell_model["pack_score"] - max(cell_model["cell_scores"])) <= 1e-4 and cell_model["threshold"] > 0.9
    # A late subscriber still sees the retained status.
    late, late_statuses = subscriber(broker, "celldrift/+/status")
    assert wait_for(lambda: late_statuses, 10) and late_statuses[0][1] == b"offline" and late_statuses[0][2]
    late.loop_stop()


def test_interleaved_topics_keep_their_own_names(tmp_path, broker, celldrift):
    """Messages on several topics read in one turn: each is handled as its own topic's (the client
    shares one topic string across a run of messages on one topic, and must not across a change)."""
    import urllib.request

    # Every warning logged: the test reads the topic each one names ([gateway] log_lines_per_second
    # bounds them, ten a second by default).
    config = absolute_config(tmp_path, f'\n[mqtt]\nport = {broker}\nclient_id = "celldrift-topics"\ntopics = ["bms/#"]\n'
                                       '[api]\nport = 0\n[gateway]\nlog_lines_per_second = 1000\n')
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", tmp_path / "outbox.db"],
                              stderr=subprocess.PIPE, text=True)
    status_client, statuses = subscriber(broker, "celldrift/+/status")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bms-topics")
    publisher.connect("127.0.0.1", broker)
    publisher.loop_start()
    sequence = []
    try:
        metrics = f"http://127.0.0.1:{api_port(daemon)}/metrics"
        assert wait_for(lambda: any(payload == b"online" for _, payload, _ in statuses))
        lines = gzip.open(SAMPLES / "healthy.log.gz", "rt").read().splitlines()[:600]
        for index, line in enumerate(lines):
            sequence.append((f"bms/v{index % 3}/can", line))
            if index % 50 == 7:
                sequence.append((f"bms/torn{index % 4}/can", f"torn {index}"))
        for topic, payload in sequence:
            last = publisher.publish(topic, payload, qos=1)
        last.wait_for_publish(5)
        handled = f"celldrift_mqtt_messages_total {float(len(sequence))}"
        assert wait_for(lambda: handled in urllib.request.urlopen(metrics, timeout=10).read().decode(), 30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        publisher.loop_stop()
        status_client.loop_stop()
    assert daemon.returncode == 0, err
    summary = daemon_summary(err)
    torn = [topic for topic, payload in sequence if payload.startswith("torn")]
    assert summary["frames"] == 600 and summary["malformed"] == len(torn) == 12 and summary["vehicles"] == 3
    named = [line.split(": malformed payload")[0].split()[-1] for line in err.splitlines() if ": malformed payload" in line]
    assert named == torn


def test_unreachable_broker_is_survived_then_joined(tmp_path, celldrift):
    """Started before its broker: the client retries with backoff and subscribes once it is up."""
    port = free_port()
    config = absolute_config(tmp_path, f"\n[mqtt]\nport = {port}\n")
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", tmp_path / "o.db"], stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert daemon.poll() is None
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        client, statuses = subscriber(port, "celldrift/+/status")
        assert wait_for(lambda: any(payload == b"online" for _, payload, _ in statuses), 30)
        client.loop_stop()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
        broker.terminate()
        broker.wait(timeout=10)
    assert daemon.returncode == 0


def start_broker(tmp_path, port, name):
    conf = tmp_path / f"{name}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = tmp_path / f"{name}.log"
    process = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"{name} broker did not start on port {port}: {log.read_text()[-500:]}")


def test_uplink_delivers_the_backlog_when_the_cloud_returns(tmp_path, broker, celldrift):
    """The cloud broker is down while three faulty packs raise alarms: they wait in the outbox
    (pending); when it comes up every one is delivered with its id, and acknowledged only then."""
    faults = ("micro-short", "hot-spot", "capacity-fade")
    # What the same snapshots raise through the same pipeline offline: the records the daemon must keep.
    expected = 0
    for fault in faults:
        out, _ = run("replay", "--config", CONFIG, "--db", tmp_path / f"{fault}.db", "--json",
                     SAMPLES / f"{fault}.snapshots.jsonl.gz")
        summary = json.loads(out)
        expected += sum(summary["alarms"].values()) + summary["alarm_updates"] + summary["alarm_clears"]
    assert expected >= 3
    cloud_port = free_port()
    config = absolute_config(tmp_path, f'\n[mqtt]\nport = {broker}\n[uplink]\nhost = "127.0.0.1"\nport = {cloud_port}\n'
                      + 'topic = "fleet/{vehicle}/records"\n[api]\nport = 0\nbacklog_s = 2\n')
    database = tmp_path / "outbox.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
    api = f"http://127.0.0.1:{api_port(daemon)}"

    def health():
        import urllib.error
        import urllib.request
        try:
            return 200, json.loads(urllib.request.urlopen(f"{api}/healthz", timeout=10).read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bms-sim")
    publisher.connect("127.0.0.1", broker)
    publisher.loop_start()
    cloud = None
    try:
        time.sleep(0.5)
        for fault in faults:
            for line in gzip.open(SAMPLES / f"{fault}.snapshots.jsonl.gz", "rt").read().splitlines():
                publisher.publish(f"bms/{fault}/snapshot", line, qos=1).wait_for_publish(5)

        def stats():
            return json.loads(run("outbox", "stats", "--db", database, "--json")[0])

        assert wait_for(lambda: stats()["pending"] == expected)
        time.sleep(1)
        # Nothing is lost or marked while the cloud is away, and /healthz says why it is unwell once the
        # oldest record has waited past backlog_s (issue 18: it said ok).
        assert stats()["pending"] == expected and stats()["acknowledged"] == 0
        assert wait_for(lambda: health()[0] == 503, 10)
        status, body = health()
        assert any("not yet acknowledged by the cloud" in reason for reason in body["reasons"]), body
        assert body["uplink_connected"] is False and body["oldest_unacknowledged_age_s"] >= 2
        cloud = start_broker(tmp_path, cloud_port, "cloud")
        receiver, received = subscriber(cloud_port, "fleet/+/records")
        assert wait_for(lambda: stats()["acknowledged"] == expected, 60)
        assert wait_for(lambda: len(received) >= expected, 10)
        assert wait_for(lambda: health()[0] == 200, 10), health()
        receiver.loop_stop()
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        publisher.loop_stop()
        if cloud:
            cloud.terminate()
            cloud.wait(timeout=10)
    assert daemon.returncode == 0, err
    stored = {r["id"]: r for r in json_lines(run("outbox", "export", "--db", database)[0])}
    delivered = {json.loads(payload)["id"]: topic for topic, payload, _ in received}
    assert set(delivered) == set(stored) and all(r["state"] == "acknowledged" for r in stored.values())
    assert all(topic == f"fleet/{stored[i]['vehicle']}/records" for i, topic in delivered.items())
    assert daemon_summary(err)["delivered"] == expected


def test_socketcan_without_kernel_support_is_a_clear_error(tmp_path, celldrift):
    """This kernel has no AF_CAN: `run` with a [socketcan] interface says so and stops (the read path
    itself is tested through a socketpair in Tests/CANTests/SocketCANTests.swift)."""
    config = absolute_config(tmp_path, '\n[socketcan]\ninterface = "can0"\n')
    _, err = run("run", "--config", config, "--db", tmp_path / "o.db", check=False)
    has_can = hasattr(socket, "AF_CAN") and _kernel_has_can()
    expected = "no such CAN interface" if has_can else "SocketCAN is not available: this kernel has no AF_CAN"
    assert f"Error: socketcan: can0: cannot open: {expected}" in err


def _kernel_has_can():
    try:
        socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW).close()
        return True
    except OSError:
        return False


def test_local_api_inference_health_metrics(tmp_path, broker, celldrift):
    """The seed's POST /inference on loopback answers the probability `predict` gives and stores the
    seed's event; /healthz and /metrics (Prometheus text) report the daemon; mistakes get a 400."""
    import urllib.error
    import urllib.request

    config = absolute_config(tmp_path, f'\n[mqtt]\nport = {broker}\n[api]\nport = 0\n')
    database = tmp_path / "outbox.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
    try:
        port = int(api_port(daemon))
        base = f"http://127.0.0.1:{port}"
        row = (ROOT / "firmware-samples" / "seed" / "test_batch_samples.csv").read_text().splitlines()[0].split(",")
        request = json.dumps({"vin": row[0], "date": row[1], "features": ",".join(row[2:])}).encode()
        answer = urllib.request.urlopen(urllib.request.Request(f"{base}/inference", data=request, method="POST"), timeout=10)
        probability = float(answer.read())
        expected, _ = run("predict", "--model", CONFIG.parent / "models" / "pack-model.safetensors", stdin=request.decode())
        assert probability == float(expected)
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(urllib.request.Request(f"{base}/inference", data=b'{"vin": "V"}', method="POST"), timeout=10)
        assert bad.value.code == 400 and b"request needs vin" in bad.value.read()
        # A year too large for the day count once trapped the daemon; now it is one more bad date.
        for date in ("9000000000000000000-01-01", "+2024-01-01", "2024-1-"):
            huge = json.dumps({"vin": row[0], "date": date, "features": ",".join(row[2:])}).encode()
            with pytest.raises(urllib.error.HTTPError) as bad:
                urllib.request.urlopen(urllib.request.Request(f"{base}/inference", data=huge, method="POST"), timeout=10)
            assert bad.value.code == 400 and b"date (YYYY-MM-DD)" in bad.value.read(), date
        health = json.loads(urllib.request.urlopen(f"{base}/healthz", timeout=10).read())
        assert health["status"] == "ok" and health["outbox_pending"] == 1
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        # Read as Prometheus reads it: types, labels, the summary's parts.
        from prometheus_client.parser import text_string_to_metric_families
        families = {family.name: family for family in text_string_to_metric_families(metrics)}
        assert families["celldrift_outbox_depth"].type == "gauge" and families["celldrift_outbox_depth"].samples[0].value == 1
        records = families["celldrift_records"]
        assert records.type == "counter"
        assert [(s.name, s.labels, s.value) for s in records.samples] == [
            ("celldrift_records_total", {"vehicle": row[0], "kind": "pack_consistency_14d"}, 1.0)]
        inference = families["celldrift_inference_seconds"]
        assert inference.type == "summary"
        assert {s.name: s.value for s in inference.samples}["celldrift_inference_seconds_count"] == 1
        version = run("--version")[0].split()[-1]
        assert families["celldrift_build_info"].samples[0].labels == {"version": version}
        assert families["celldrift_frames"].type == "counter" and "celldrift_last_input_age_seconds" in families
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/nothing", timeout=10)
        assert missing.value.code == 404
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    events = [r for r in json_lines(run("outbox", "export", "--db", database)[0]) if r["type"] == "inference"]
    assert len(events) == 1 and events[0]["payload"]["request_id"] == events[0]["id"]
    # The latest pack score stays retained on <prefix>/<vin>/scores.
    late, scores = subscriber(broker, "celldrift/+/scores")
    assert wait_for(lambda: scores, 10)
    late.loop_stop()
    assert scores[0][0] == f"celldrift/{row[0]}/scores" and json.loads(scores[0][1])["pack_model"]["score"] == probability and scores[0][2]
    assert events[0]["payload"]["vin"] == row[0] and events[0]["score"] == probability
