#!/bin/bash
# A small data-centre fleet through the CLI: `bench --datacentre` measures every scheme
# in its own child (exit 0, JSON with one run per scheme, no misses), `--emit` writes the
# scenario, and `compare` over all schemes runs it. Usage: bench_datacentre.sh RMAPLAB OUT
set -euo pipefail
bin=$1 out=$2
rm -rf "$out" && mkdir -p "$out"
"$bin" bench --datacentre --families 3 --procs 4 --vmas 5 --vma-pages 6 --reclaim \
  --json "$out/dc.json" | tee "$out/dc.txt"
python3 - "$out/dc.json" "$("$bin" schemes | wc -l)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
assert d["datacentre"]["resident_pages"] == 3 * 4 * 5 * 6, d["datacentre"]
assert len(runs) == int(sys.argv[2]), (len(runs), sys.argv[2])
for r in runs:
    assert "error" not in r, r
    assert r["folios"] == 360 and r["faults"] == 360, r
    assert r["reclaim"]["walks"] == 360 and r["reclaim"]["misses"] == 0, r
    assert r["rss_peak_bytes"] > 0 and r["core_bytes"]["folios"] > 0, r
print("datacentre json ok:", len(runs), "schemes")
PY
"$bin" bench --datacentre --families 3 --procs 4 --vmas 5 --vma-pages 6 --emit "$out/dc.rmap"
test "$(grep -c ' fork ' "$out/dc.rmap")" = 9
"$bin" compare "$out/dc.rmap" --schemes all --format csv > "$out/compare.csv"
test "$(tail -n +2 "$out/compare.csv" | wc -l)" = "$("$bin" schemes | wc -l)"
echo "compare ok"
