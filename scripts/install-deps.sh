#!/usr/bin/env bash
# Installs what building and testing celldrift needs on Debian 12, only what is missing.
# Swift itself is expected on PATH (the toolchain is not a Debian package).
# --test: also what only the tests use (headless Chromium for the report's screenshot, systemd-analyze).
set -euo pipefail

need=()
pkg-config --exists zlib 2>/dev/null || need+=(zlib1g-dev)
# The binary logs' compressed blocks (BLF containers, MDF4 DZ blocks), inflated whole: 10x zlib here.
pkg-config --exists libdeflate 2>/dev/null || need+=(libdeflate-dev)
pkg-config --exists sqlite3 2>/dev/null || need+=(libsqlite3-dev)
pkg-config --exists libmosquitto 2>/dev/null || need+=(libmosquitto-dev)
# libcurl's headers for the HTTPS uplink; the library itself is opened only when one is configured.
pkg-config --exists libcurl 2>/dev/null || need+=(libcurl4-openssl-dev)
# The demo's brokers and clients (and the tests' broker).
[[ -x /usr/sbin/mosquitto ]] || command -v mosquitto >/dev/null || need+=(mosquitto)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v gzip >/dev/null || need+=(gzip)
command -v bc >/dev/null || need+=(bc)
# Spark (the fleet job's tests, local mode) runs on Java 17.
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
if [[ ${1:-} == --test ]]; then
    command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)
    command -v systemd-analyze >/dev/null || need+=(systemd)
fi

if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "install-deps: swift is not on PATH (Swift 6.x toolchain needed)" >&2; exit 1; }
