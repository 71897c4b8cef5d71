#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time each (`make fuzz`, `make fuzz-short`): every target
# on a working copy of its seed corpus in build-fuzz/corpus-work/ (what it learns stays out of
# the repo), crash inputs into build-fuzz/artifacts/<target>/. Prints executions and crash
# files per target and exits 1 when any target crashed, after running them all.
#
# Usage: tests/fuzz/run.sh [TARGET...]   (default: all four)
# Environment: FUZZ_SECONDS (default 60) per target; FUZZ_DIR (default build-fuzz);
# FUZZ_ARGS, more libFuzzer flags, e.g. "-fork=2 -ignore_crashes=1" to keep going past a
# known crash.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_DIR:-$root/build-fuzz}
[[ $build = /* ]] || build=$root/$build
seconds=${FUZZ_SECONDS:-60}
read -r -a extra <<< "${FUZZ_ARGS:-}"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_router fuzz_json_body fuzz_config fuzz_recipient_code)

# Per target: the longest input worth trying, and a dictionary when there is one.
options_for() {
  case "$1" in
    fuzz_router) echo "-max_len=4096 -dict=$here/json.dict" ;;
    fuzz_json_body) echo "-max_len=4096 -dict=$here/json.dict" ;;
    fuzz_config) echo "-max_len=8192" ;;
    fuzz_recipient_code) echo "-max_len=1024" ;;
    *) echo "" ;;
  esac
}

status=0
summary=()
for target in "${targets[@]}"; do
  binary=$build/bin/$target
  if [[ ! -x $binary ]]; then
    echo "fuzz: $binary is missing (make fuzz builds it)" >&2
    exit 2
  fi
  work=$build/corpus-work/$target
  artifacts=$build/artifacts/$target
  log=$build/fuzz-$target.log
  mkdir -p "$work"
  rm -rf "$artifacts" && mkdir -p "$artifacts"
  # Seeds, including any committed reproducer of an open bug, which fails the run until fixed.
  if [[ -d $here/corpus/$target ]]; then cp -p "$here/corpus/$target/"* "$work/" 2>/dev/null; fi

  echo "fuzz: $target for ${seconds}s (log: ${log#"$root"/})"
  # shellcheck disable=SC2046  # options_for's words are separate flags
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" $(options_for "$target") "${extra[@]}" "$work" > "$log" 2>&1
  rc=$?

  execs=$(awk '/^stat::number_of_executed_units:/ {n = $2} END {print n + 0}' "$log")
  mapfile -t found < <(find "$artifacts" -type f | sort)
  line="$target: $execs executions, ${#found[@]} crash file(s)"
  if [[ $rc -ne 0 || ${#found[@]} -gt 0 ]]; then
    status=1
    line+=" (exit $rc)"
    echo "fuzz: $target FAILED; the report:" >&2
    grep -E -m 12 "ERROR: |SUMMARY: |invariant violated|^    #[0-9] " "$log" >&2
    for f in "${found[@]}"; do
      echo "fuzz:   reproduce with: ${binary#"$root"/} ${f#"$root"/}" >&2
    done
  fi
  summary+=("$line")
done

echo
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
for target in "${targets[@]}"; do
  for f in "$build/artifacts/$target"/*; do
    [[ -e $f ]] && echo "  crash: ${f#"$root"/}"
  done
done
exit $status
