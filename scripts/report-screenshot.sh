#!/bin/sh
# Takes a PNG screenshot of a celldrift HTML report with headless Chromium (Debian's chromium package),
# so anyone can look at a report without opening it: scripts/report-screenshot.sh REPORT.html OUT.png [HEIGHT]
set -eu
report=${1:?usage: report-screenshot.sh REPORT.html OUT.png [HEIGHT]}
out=${2:?usage: report-screenshot.sh REPORT.html OUT.png [HEIGHT]}
height=${3:-2400}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "report-screenshot: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
case "$report" in /*) ;; *) report="$(pwd)/$report" ;; esac
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: CI and the demo run as root, where Chromium's sandbox refuses to start.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size=1060,"$height" --screenshot="$out" "file://$report" >/dev/null 2>&1
[ -s "$out" ] || { echo "report-screenshot: no screenshot written to $out" >&2; exit 1; }
echo "$out"
