# celldrift: `make demo` runs the main job on built-in defaults, `make test` sets up and runs every test.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
DEBUG_BIN := .build/debug/celldrift
RELEASE_BIN := .build/release/celldrift
SAMPLES := firmware-samples

.PHONY: all deps test-deps venv build release test test-swift test-interop demo bench bench-logs bench-spark fleet fuzz clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

$(VENV)/.installed: requirements-test.txt | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed

build: deps
	swift build --build-tests

# The gateway's binary: the Swift runtime linked in (nothing to install beside it, and ~4 MB less
# resident than with the shared runtime libraries).
release: deps
	swift build -c release --static-swift-stdlib

test: test-deps build release venv
	swift test --skip-build
	CELLDRIFT=$(DEBUG_BIN) CELLDRIFT_RELEASE=$(RELEASE_BIN) $(PYTHON) -m pytest -q Tests/interop
	scripts/fuzz.sh $(FUZZ_TEST_SECONDS)

# Each libFuzzer target (docs/fuzzing.md) until FUZZ_RUNS executions or FUZZ_SECONDS, whichever comes
# first; `make test` runs each for FUZZ_TEST_SECONDS.
FUZZ_RUNS ?= 10000000
FUZZ_SECONDS ?= 10800
FUZZ_TEST_SECONDS ?= 15
fuzz: deps venv
	FUZZ_RUNS=$(FUZZ_RUNS) scripts/fuzz.sh $(FUZZ_SECONDS)

demo: release
	@echo "== DBC check: $(SAMPLES)/kona_pcan.dbc"
	$(RELEASE_BIN) dbc $(SAMPLES)/kona_pcan.dbc
	@echo "== decode a real Kona EV capture (Vector ASC) with its DBC: the first BMS frames that carry signals"
	$(RELEASE_BIN) decode --dbc $(SAMPLES)/kona_pcan.dbc $(SAMPLES)/logs/kona_bms_main_relay_on.asc 2>/dev/null \
		| grep -v '"signals": {}' | head -n 6
	@echo "== the same capture, all frames, value-table names, counts only:"
	$(RELEASE_BIN) decode --dbc $(SAMPLES)/kona_pcan.dbc --choices --count-only $(SAMPLES)/logs/kona_bms_main_relay_on.asc
	@echo "== simulate a 96-cell pack for 14 days with a micro-short, and see when the 50 mV rule fires:"
	$(RELEASE_BIN) simulate --fault micro-short --days 14 --seed 2028 --out out/demo-simulation
	@echo "== the simulated BMS log of that fault (shipped sample), cell extremes as the rule fires:"
	$(RELEASE_BIN) decode --dbc $(SAMPLES)/celldrift_pack.dbc $(SAMPLES)/simulated/micro-short.log.gz 2>/dev/null \
		| grep CellExtremes | awk 'NR % 1500 == 0'
	@echo "== replay that log through the pipeline: the spread rule raises an alarm into the SQLite outbox"
	rm -f out/demo-outbox.db*
	$(RELEASE_BIN) replay --config $(SAMPLES)/celldrift_pack.toml --db out/demo-outbox.db $(SAMPLES)/simulated/micro-short.log.gz
	$(RELEASE_BIN) outbox list --db out/demo-outbox.db
	sqlite3 out/demo-outbox.db "SELECT kind, cell, datetime(event_time, 'unixepoch'), json_extract(payload, '$$.spread_v') FROM records;"
	@echo "== a report of that run: spread, cell deviations (the micro-short cell stands out), current, SOC, alarms"
	$(RELEASE_BIN) report --db out/demo-outbox.db --config $(SAMPLES)/celldrift_pack.toml \
		--log $(SAMPLES)/simulated/micro-short.log.gz -o out/demo-report.html
	@if command -v chromium >/dev/null; then scripts/report-screenshot.sh out/demo-report.html out/demo-report.png 2000; \
		else echo "(install chromium for a PNG screenshot: scripts/report-screenshot.sh out/demo-report.html out/demo-report.png)"; fi
	@echo "== the seed's pack model (int8, shipped): its evaluation, then the seed's batch scored into the outbox"
	$(RELEASE_BIN) evaluate pack --model $(SAMPLES)/models/pack-model.safetensors
	$(RELEASE_BIN) predict --model $(SAMPLES)/models/pack-model.safetensors --batch $(SAMPLES)/seed/test_batch_samples.csv --db out/demo-outbox.db
	sqlite3 out/demo-outbox.db "SELECT vehicle, json_extract(payload, '$$.date'), round(score, 3) FROM records WHERE type = 'inference' ORDER BY score DESC LIMIT 3;"
	@echo "== the cell-drift model (int8, shipped): 12 held-out simulated vehicles, 10 days each; every cell scored each minute"
	$(RELEASE_BIN) evaluate cell --model $(SAMPLES)/models/cell-model.safetensors --vehicles 12 --days 10
	@echo "== a real SavvyCAN/GVRET capture, gzip-compressed on the fly:"
	gzip -c $(SAMPLES)/logs/kona_power_off_on_ready_off.gvret.csv | $(RELEASE_BIN) decode --dbc $(SAMPLES)/kona_pcan.dbc --count-only
	@echo "== the daemon: local and cloud mosquitto on loopback, alarms over MQTT, the cloud down and up"
	BIN=$(RELEASE_BIN) scripts/demo-daemon.sh

bench: release venv
	scripts/bench-decode.sh

# The binary log readers (BLF, MF4) against the candump reader and python-can / asammdf.
bench-logs: release venv
	scripts/bench-logs.sh

# The fleet job on Spark local[2] against replay --jobs 2 on the same fleet.
bench-spark: release venv
	scripts/bench-spark.sh

# The independent physics fleets (PyBaMM) and the pipeline's figures on them (docs/fleet.md; ~1 h on 2 cores).
fleet: release venv
	scripts/fleet/make-fleets.sh $(PYTHON) $(RELEASE_BIN)

clean:
	rm -rf .build .build-* $(VENV)
