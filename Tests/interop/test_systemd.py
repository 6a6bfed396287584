"""The service side: the unit's hardening as systemd itself scores it, the example config against
check-config, sd_notify (READY, watchdog keep-alives, STOPPING) to a listener on $NOTIFY_SOCKET, and log
lines with syslog priorities when standard error is the journal's stream."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from conftest import CELLDRIFT, ROOT, absolute_config, run

SYSTEMD = ROOT / "systemd"


def test_unit_exposure_is_two_or_lower():
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", SYSTEMD / "celldrift.service"],
                         capture_output=True, text=True, check=True).stdout
    exposure = float(re.search(r"Overall exposure level for celldrift.service: ([0-9.]+)", out).group(1))
    assert exposure <= 2.0
    unit = (SYSTEMD / "celldrift.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=celldrift", "StateDirectory=celldrift",
                 "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_RAW"):
        assert line in unit


def test_example_config_checks_and_mistakes_name_their_line(tmp_path, celldrift):
    folder = tmp_path / "etc"
    folder.mkdir()
    shutil.copy(SYSTEMD / "celldrift.toml", folder)
    shutil.copy(ROOT / "firmware-samples" / "celldrift_pack.dbc", folder)
    shutil.copy(ROOT / "firmware-samples" / "models" / "pack-model.safetensors", folder)
    shutil.copy(ROOT / "firmware-samples" / "models" / "cell-model.safetensors", folder)
    out, _ = run("check-config", folder / "celldrift.toml")
    assert "OK" in out and "96 cells" in out and "cell_spread (spread > 0.05)" in out and "127.0.0.1:1883" in out
    text = (folder / "celldrift.toml").read_text()
    (folder / "celldrift.toml").write_text(text.replace('topics = ["bms/#"]', "topics = 7").replace("port = 1883", "prot = 1883"))
    _, err = run("check-config", folder / "celldrift.toml", check=False)
    line = text.splitlines().index("port = 1883") + 1
    assert f"{folder / 'celldrift.toml'}:{line}: mqtt.prot: unknown key" in err


def test_sd_notify_ready_watchdog_stopping(tmp_path, celldrift):
    config = tmp_path / "daemon.toml"
    config.write_text((ROOT / "firmware-samples" / "celldrift_pack.toml").read_text()
                      .replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"')
                      .replace('pack = "models/', f'pack = "{ROOT / "firmware-samples" / "models"}/')
                      .replace('cell = "models/', f'cell = "{ROOT / "firmware-samples" / "models"}/')
                      + "\n[mqtt]\nport = 9\n")  # no broker: the daemon still runs and keeps its outbox
    for name in (str(tmp_path / "notify.sock"), f"@celldrift-test-{os.getpid()}"):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(name.replace("@", "\0", 1) if name.startswith("@") else name)
        listener.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=name, WATCHDOG_USEC="200000")
        daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", tmp_path / "o.db"], env=env,
                                  stderr=subprocess.PIPE, text=True)
        states = []
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and states.count("WATCHDOG=1") < 3:
                states.append(listener.recv(4096).decode())
            daemon.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in states:
                states.append(listener.recv(4096).decode())
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.communicate(timeout=30)
            listener.close()
        assert states[0].startswith("READY=1\nSTATUS=running")
        assert states.count("WATCHDOG=1") >= 3 and states[-1] == "STOPPING=1"
        assert daemon.returncode == 0


def test_log_priorities_when_standard_error_is_the_journal(tmp_path, celldrift):
    """systemd sets JOURNAL_STREAM to the device and inode of the stream it gives as standard error:
    then each line starts with its syslog priority (journald's PRIORITY); any other standard error gets
    the level's name."""
    config = absolute_config(tmp_path, "\n[mqtt]\nport = 9\n")
    for journal in (True, False):
        log = tmp_path / f"stderr-{journal}.txt"
        with log.open("w") as stream:
            status = os.fstat(stream.fileno())
            env = dict(os.environ, JOURNAL_STREAM=f"{status.st_dev}:{status.st_ino + (0 if journal else 1)}")
            daemon = subprocess.Popen([CELLDRIFT, "run", "--config", config, "--db", tmp_path / "o.db"], stderr=stream, env=env)
            time.sleep(1.5)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
        lines = log.read_text().splitlines()
        if journal:
            assert lines[0].startswith("<5>celldrift run: 127.0.0.1:9") and lines[-1].startswith("<5>{")
            assert all(re.match(r"<[2-7]>", line) for line in lines)
        else:
            assert lines[0].startswith("notice: celldrift run: 127.0.0.1:9") and lines[-1].startswith("notice: {")
