#!/usr/bin/env bash
# Runs each libFuzzer target for a fixed time, one after another (one core each), and prints
# one summary line per target. Usage: run.sh BUILD_DIR SECONDS TARGET...
#
# Each target reads its committed seeds (tests/fuzz/corpus/TARGET, never written) and a working
# corpus in BUILD_DIR/corpus-work/TARGET that keeps what earlier runs found. Crashes, timeouts
# and out-of-memory inputs go to BUILD_DIR/crashes. Exits 1 when any target failed.
set -uo pipefail
build_dir=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
crashes="$build_dir/crashes"
mkdir -p "$crashes" "$build_dir/logs"
# Symbolized stack traces in crash reports when llvm-symbolizer is installed (package llvm-14).
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
summary=()
for target in "$@"; do
  binary="$build_dir/tests/fuzz/fuzz_$target"
  work="$build_dir/corpus-work/$target"
  log="$build_dir/logs/$target.log"
  mkdir -p "$work"
  echo "fuzz: $target for ${seconds}s (log: $log)"
  # -timeout: an input taking longer than 10 s is reported as a hang. -rss_limit_mb bounds
  # memory, so an input that makes a parser allocate without limit is reported too.
  "$binary" "$work" "$here/corpus/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/$target-" \
    >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  # The last status line ("#N DONE cov: C ft: F corp: N/SIZE ...") has coverage and corpus.
  status=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$status")
  line=$(printf '%-15s execs=%s exec/s=%s cov=%s ft=%s corpus=%s' "$target" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
  if [ "$rc" -ne 0 ]; then
    line="$line FAILED (exit $rc)"
    failed+=("$target")
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*property violated|artifact_prefix|Test unit written)' \
      "$log" | head -20
  fi
  summary+=("$line")
done

echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}; inputs in $crashes, logs in $build_dir/logs"
  exit 1
fi
echo "fuzz: no crashes"
