"""The cloud uplink over HTTPS (libcurl): a Python HTTPS endpoint on loopback that requires a client
certificate and a bearer token, made here with openssl. Records are acknowledged only on 2xx: refused
batches (503) come back with the same ids; the endpoint down for a stretch leaves them pending, and when
it returns the backlog drains oldest first. Inference events go out in the seed's event schema."""
import http.server
import json
import signal
import ssl
import subprocess
import threading
import time
import urllib.request

from conftest import CELLDRIFT, api_port, daemon_summary, json_lines, run
from test_daemon_mqtt import free_port, start_broker, wait_for
from test_daemon_resilience import daemon_config, publisher_on, snapshot_lines, stats
from test_uplink_tls import certificates


class Endpoint:
    """A cloud ingest endpoint: answers `refuse` requests with 503, then stores each batch."""

    def __init__(self, folder, port, refuse=0):
        self.batches, self.requests, self.refuse = [], [], refuse
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append((self.path, dict(self.headers), json.loads(body)))
                if self.headers.get("Authorization") != "Bearer s3cret":
                    code = 401
                elif endpoint.refuse > 0:
                    endpoint.refuse -= 1
                    code = 503
                else:
                    endpoint.batches.append(json.loads(body))
                    code = 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "server.crt", folder / "server.key")
        context.load_verify_locations(folder / "ca.crt")
        context.verify_mode = ssl.CERT_REQUIRED
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def records(self):
        return [record for batch in self.batches for record in batch["records"]]


def test_https_uplink_acknowledges_on_2xx_and_drains_after_an_outage(tmp_path, celldrift):
    certificates(tmp_path)
    local_port, cloud_port = free_port(), free_port()
    local = start_broker(tmp_path, local_port, "local")
    endpoint = Endpoint(tmp_path, cloud_port, refuse=2)
    config = daemon_config(tmp_path, local_port,
                           f'[uplink]\nurl = "https://127.0.0.1:{cloud_port}/ingest"\ntoken = "s3cret"\nwindow = 4\n'
                           f'ca_file = "{tmp_path / "ca.crt"}"\ncert_file = "{tmp_path / "client.crt"}"\n'
                           f'key_file = "{tmp_path / "client.key"}"\n[api]\nport = 0\n'
                           # The delivery counts below are of the rule's alarm and the inference events: the
                           # per-cell detectors stay out of them.
                           '[detection]\nenabled = false\n')
    database = tmp_path / "o.db"
    daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", database], stderr=subprocess.PIPE, text=True)
    try:
        api = f"http://127.0.0.1:{api_port(daemon)}"

        def infer(day):
            request = json.dumps({"vin": "VIN-HTTPS", "date": f"2026-01-{day:02}", "features": ",".join(["1"] * 84)}).encode()
            urllib.request.urlopen(urllib.request.Request(f"{api}/inference", data=request, method="POST"), timeout=10).read()

        publisher = publisher_on(local_port)
        for line in snapshot_lines("micro-short"):
            publisher.publish("bms/micro-short/snapshot", line, qos=1).wait_for_publish(5)
        publisher.loop_stop()
        for day in range(1, 6):
            infer(day)
        # Two refusals (503), then everything acknowledged: 1 alarm and 5 inference events.
        assert wait_for(lambda: stats(database)["acknowledged"] == 6, 60), stats(database)
        refused_ids = [[r["id"] for r in body["records"]] for _, _, body in endpoint.requests[:2]]
        delivered_ids = [r["id"] for r in endpoint.records]
        assert all(set(ids) <= set(delivered_ids) for ids in refused_ids), "a refused batch comes back with the same ids"
        path, headers, _ = endpoint.requests[0]
        assert path == "/ingest" and headers["Content-Type"] == "application/json"
        assert int(headers["X-Celldrift-Records"]) == len(endpoint.requests[0][2]["records"]) <= 4

        # The endpoint goes away: new records wait in the outbox; when it is back they drain oldest first.
        endpoint.stop()
        for day in range(6, 16):
            infer(day)
        time.sleep(3)
        # One reading of the counts: the daemon keeps trying the endpoint, so a batch moves between pending and
        # in flight (the window's 4 records) from one reading to the next, and two readings counted it twice.
        counts = stats(database)
        assert counts["acknowledged"] == 6 and counts["pending"] + counts["in_flight"] == 10, \
            [(r["kind"], r.get("cell"), r["state"]) for r in json_lines(run("outbox", "export", "--db", database)[0])]
        health = json.loads(urllib.request.urlopen(f"{api}/healthz", timeout=10).read())
        assert health["uplink_connected"] is False
        endpoint = Endpoint(tmp_path, cloud_port)
        assert wait_for(lambda: stats(database)["acknowledged"] == 16, 120), stats(database)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
        endpoint.stop()
        local.terminate()
        local.wait(timeout=10)
    assert daemon.returncode == 0, err
    assert daemon_summary(err)["delivered"] == 16
    stored = {r["id"]: r for r in json_lines(run("outbox", "export", "--db", database)[0])}
    after = endpoint.records
    assert sorted(r["id"] for r in after) == sorted(i for i, r in stored.items() if r["payload"].get("date", "") >= "2026-01-06")
    # Oldest first, except the newest pending record that rides along in every batch (the newest of all
    # in the first one): without it, the batches' records are in order.
    batches = [sorted(r["payload"]["date"] for r in batch["records"]) for batch in endpoint.batches]
    assert batches[0][-1] == "2026-01-15" and len(batches) >= 3
    rest = [date for batch in batches for date in batch[:-1]]
    assert rest == sorted(rest)
    event = after[0]["payload"]
    assert {"request_id", "vin", "date", "predicted_prob"} <= set(event) and event["request_id"] == after[0]["id"]
