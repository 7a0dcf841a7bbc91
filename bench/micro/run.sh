#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - make bench-micro: runs mara-micro 5 times per benchmark and keeps the medians as
# bench/results/micro-<host>-<date>.json, with the text summary (summarize.py) beside it as .txt.
# Usage: bench/micro/run.sh [BUILD_DIR]   (default build; relative to the repository root)
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${1:-build}
bin=$build/bench/micro/mara-micro
if [ ! -x "$bin" ]; then
	echo "bench-micro: $bin not built: it needs libbenchmark-dev, libosip2-dev and" \
		"libfreediameter-dev (make deps), then ninja -C $build" >&2
	exit 1
fi

mkdir -p bench/results
out=bench/results/micro-$(uname -n)-$(date +%Y-%m-%d)
"$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
	--benchmark_out="$out.json" --benchmark_out_format=json
python3 bench/micro/summarize.py "$out.json" >"$out.txt"
echo
cat "$out.txt"
echo
echo "bench-micro: wrote $out.json and $out.txt"
