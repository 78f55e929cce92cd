#!/bin/bash
# Runs the three libFuzzer targets on their seed corpora:
#   fuzz/run.sh BUILD_DIR SECONDS|-runs=N [SHARED_DIR]
# Seeds: every scenario of the project and ../shared (parser); the traces in
# fuzz/corpus/trace, compressed and as text (trace reader); nothing (model: its inputs are
# operation bytes). A crash leaves its input in BUILD_DIR/artifacts and fails the run.
set -euo pipefail
build=$1 limit=$2 shared=${3:-../shared}
root=$(cd "$(dirname "$0")/.." && pwd)
case $limit in -runs=*) budget=$limit ;; *) budget=-max_total_time=$limit ;; esac
corpus=$build/corpus
mkdir -p "$corpus/parser" "$corpus/trace" "$corpus/model" "$build/artifacts"
cp "$root"/tests/scenarios/*.rmap "$root"/tests/regress/*.rmap "$corpus/parser/"
cp "$shared"/scenarios/*.rmap "$corpus/parser/" 2>/dev/null || true
for t in "$root"/fuzz/corpus/trace/*.rmt; do
  cp "$t" "$corpus/trace/"
  { printf 'T'; zstd -dc "$t" 2>/dev/null || true; } > "$corpus/trace/$(basename "$t" .rmt).txt"
done
status=0
run() {  # run NAME MAX_LEN
  echo "== $1 fuzzer ($budget)"
  "$build/$1_fuzzer" "$budget" -max_len="$2" -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$1-" "$corpus/$1" 2>&1 |
    grep -E '^Done|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|crash-|timeout-|oom-' || true
  [ -z "$(ls "$build"/artifacts/"$1"-* 2>/dev/null)" ] || { echo "$1: crash inputs in $build/artifacts"; status=1; }
}
run parser 4096
run trace 16384
run model 256
exit $status
