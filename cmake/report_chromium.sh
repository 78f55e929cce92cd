#!/bin/bash
# The HTML report opens in headless Chromium, with no network, without console errors, and
# its charts render: every SVG has a non-empty box (the page's own self-check, read back
# with --dump-dom), there are bars, and a screenshot is taken and is not blank.
#   report_chromium.sh RMAPLAB SOURCE_DIR WORK_DIR        (exit 77: skipped)
set -u
rmaplab=$1 src=$2 work=$3
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "SKIP: chromium is not installed (apt-get install chromium)"; exit 77; }
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1
"$rmaplab" compare "$src/bench/workloads" --schemes all --no-check --format json > compare.json || exit 1
"$rmaplab" replay "$src/traces/python-tests.rmt" --scheme all --json replay.json > /dev/null || exit 1
"$rmaplab" report compare.json replay.json --picture "$src/docs/pictures/fork-chain.rmap@chain" \
  --picture "$src/docs/pictures/lazy-upgrade.rmap@after-fork:lazy" -o report.html || exit 1
# Self-contained: no address but the SVG namespace.
if grep -oE 'https?://[^"<> ]+' report.html | grep -v '^http://www.w3.org/' | grep -q .; then
  echo "FAIL: the report refers to the network:"; grep -oE 'https?://[^"<> ]+' report.html | sort -u
  exit 1
fi
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
       --disable-extensions --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND"
       --user-data-dir="$work/profile" --enable-logging=stderr --v=0 --window-size=1280,3200)
timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$work/report.html" > dom.html 2> console.log
check=$(grep -o 'selfcheck {[^<]*' dom.html | sed 's/^selfcheck //; s/&quot;/"/g')
echo "self-check: $check"
[ -n "$check" ] || { echo "FAIL: the page's self-check did not run"; tail -20 console.log; exit 1; }
python3 - "$check" <<'PY' || exit 1
import json, sys
c = json.loads(sys.argv[1])
bad = []
if c["svgs"] < 4: bad.append("expected at least 4 SVGs (2 charts, 2 pictures), got %d" % c["svgs"])
if c["bars"] < 10: bad.append("expected bars in the charts, got %d" % c["bars"])
if c["empty"]: bad.append("SVGs with an empty box: %s" % c["empty"])
if c["errors"]: bad.append("script errors: %s" % c["errors"])
if bad:
    print("FAIL: " + "; ".join(bad)); sys.exit(1)
PY
if grep -E 'CONSOLE|Uncaught|Failed to load' console.log; then
  echo "FAIL: console messages above"; exit 1
fi
timeout 120 "$chromium" "${flags[@]}" --screenshot="$work/report.png" "file://$work/report.html" 2>> console.log
size=$(stat -c %s report.png 2>/dev/null || echo 0)
echo "screenshot: $size bytes"
[ "$size" -gt 50000 ] || { echo "FAIL: the screenshot is missing or blank"; exit 1; }
echo "PASS"
