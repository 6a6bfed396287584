"""Issue 14's inputs thrown at the running daemon (a real mosquitto on 127.0.0.1, the local API on
loopback) while a prober asks /healthz every 100 ms: the daemon neither dies nor hangs nor stalls (every
health check answered within a second), its log stays small, and it refuses and counts what it must."""
import json
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt

from conftest import CELLDRIFT, absolute_config, api_port, daemon_summary
from test_daemon_mqtt import broker, subscriber, wait_for  # noqa: F401 (broker is a fixture)


def snapshot(ts, vehicle=None, cells=96):
    body = {"ts": ts, "cell_voltages": [3.7] * cells}
    if vehicle is not None:
        body["vehicle"] = vehicle
    return json.dumps(body)


def test_hostile_inputs_neither_stop_nor_stall_the_daemon(tmp_path, broker):
    config = absolute_config(tmp_path, f'\n[mqtt]\nport = {broker}\nclient_id = "celldrift-hostile"\ntopics = ["bms/#"]\n'
                                       '[api]\nport = 0\n[gateway]\nmax_vehicles = 20\n')
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", tmp_path / "outbox.db"],
                              stderr=subprocess.PIPE, text=True)
    port = int(api_port(daemon))
    # Its retained `online` comes after its subscriptions on the same connection: what is published from
    # then on reaches it (a message published before has no subscriber and is dropped, uncounted; under
    # load that lost the first payloads below).
    status_client, statuses = subscriber(broker, "celldrift/+/status")
    assert wait_for(lambda: any(payload == b"online" for _, payload, _ in statuses))
    status_client.loop_stop()
    status_client.disconnect()
    latencies, failures, stop = [], [], threading.Event()

    def probe():
        while not stop.is_set():
            started = time.monotonic()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
            except Exception as error:  # noqa: BLE001 (any failure is what the test reports)
                failures.append(repr(error))
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)

    prober = threading.Thread(target=probe)
    prober.start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hostile")
    publisher.connect("127.0.0.1", broker)
    publisher.loop_start()
    sockets = []
    try:
        for payload in [snapshot(1e300), snapshot(-1e300), snapshot(10000000000), snapshot(10000086400),
                        snapshot(1790000000), snapshot(1790000000000), snapshot(1790000001, vehicle="a+b"),
                        "(1790000000.000000) can0 123#ZZ\n" * 65000]:
            publisher.publish("bms/hostile/snapshot", payload, qos=1).wait_for_publish(10)
        for vehicle in range(200):
            publisher.publish(f"bms/v{vehicle}/snapshot", snapshot(1790000000), qos=1)
        # A trickling client, 100 idle connections, a negative Content-Length, a vin no topic can carry.
        trickler = socket.create_connection(("127.0.0.1", port))
        sockets.append(trickler)
        for _ in range(100):
            sockets.append(socket.create_connection(("127.0.0.1", port)))
        for byte in b"GET /hea":
            try:
                trickler.send(bytes([byte]))
            except OSError:
                break  # let go: the oldest incomplete connection makes room for newer ones, or its 2 s ran out
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port)) as bad:
            bad.sendall(b"POST /inference HTTP/1.1\r\nContent-Length: -1\r\n\r\n")
            assert bad.recv(100).startswith(b"HTTP/1.1 400")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/inference", method="POST",
                                         data=json.dumps({"vin": "x+y", "date": "2026-11-01",
                                                          "features": ",".join(["1"] * 84)}).encode())
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("a vin with + was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 400 and b"vehicle id" in error.read()
        assert wait_for(lambda: daemon.poll() is not None or len(latencies) > 30, 30)
        assert daemon.poll() is None, "the daemon stopped"
    finally:
        stop.set()
        prober.join()
        for held in sockets:
            held.close()
        publisher.loop_stop()
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err[-2000:]
    assert not failures and max(latencies) < 1, (failures[:3], max(latencies))
    summary = daemon_summary(err)
    assert summary["vehicles"] == 20 and summary["refused_vehicles"] >= 180
    assert summary["malformed"] >= 65000 + 6 and summary["rejected_times"] == 0
    assert len(err) < 200_000, f"{len(err)} bytes of log"
