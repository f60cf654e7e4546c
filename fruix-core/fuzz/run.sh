#!/bin/sh
# Runs fuzz targets for SECONDS each (default 60), starting from the committed seeds and
# the corpus of earlier runs. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets it use the nightly-only sanitizer flags.
# Exits non-zero on the first crash, leaving the input in artifacts/<target>/.
#   fruix-core/fuzz/run.sh 45          # CI: 6 targets x 45 s
#   fruix-core/fuzz/run.sh 3600 ufs    # one target, longer
set -eu
cd "$(dirname "$0")"
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-gpt fat ufs spec pkg catalogue}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $targets; do
  mkdir -p "corpus/$target"
  status=0
  cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "$target: ${runs:-?} executions in $seconds s, exit status $status"
  if [ "$status" -ne 0 ]; then
    grep -v "^\s*\[" "$log" | tail -40 | cut -c1-300 >&2
    echo "fuzz target $target failed: input in fruix-core/fuzz/artifacts/$target" >&2
    exit 1
  fi
done
