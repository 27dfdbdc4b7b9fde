#!/bin/bash
# A fuzzing campaign: each target of the fuzz build in turn, for POF_FUZZ_RAW_SECONDS (raw formats
# and JSON, default 1800) or POF_FUZZ_H5_SECONDS (HDF5 files, default 600), in libFuzzer's
# fork mode (a crash, timeout or out-of-memory is saved and fuzzing goes on), at nice 19.
# Usage: campaign.sh FUZZ_BUILD_DIR OUT_DIR [TARGET...]     (default: every target)
# OUT_DIR/<target>/corpus (starts from tests/fuzz/corpus/<target>), OUT_DIR/<target>/artifacts,
# OUT_DIR/<target>.log, and OUT_DIR/report.md: per target the time, executions, executions per
# second, coverage (edges "cov", features "ft") and every artifact with its first stack frames and
# whether it is in pof's code or in a library. New corpus inputs and fixed artifacts that are worth
# keeping are copied into tests/fuzz/corpus by hand.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(cd "$1" && pwd)" || exit 1
mkdir -p "$2" && out="$(cd "$2" && pwd)" || exit 1
shift 2
. "$here/targets.sh"
targets="${*:-$POF_FUZZ_RAW $POF_FUZZ_H5}"
report="$out/report.md"
[ -f "$report" ] || printf '| target | minutes | executions | exec/s | cov | ft | corpus | crash/timeout/oom |\n|---|---|---|---|---|---|---|---|\n' > "$report"

# classify ARTIFACT: one line "kind; frames" from re-running it
classify() {
  local t="$1" a="$2" log="$2.txt" kind where
  timeout 120 "$bin/fuzz_$t" $POF_FUZZ_LIMITS "$a" > "$log" 2>&1
  kind=$(grep -oE 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer): [A-Za-z-]+( [a-z-]+)?|runtime error: [^ ]+( [^ ]+)?|left [0-9]+ file descriptor' "$log" | head -1)
  [ -n "$kind" ] || kind="no longer reproduces"
  where=$(grep -E '^ +#[0-9]+ ' "$log" | grep -vE 'interceptor|libFuzzer|fuzzer::|__sanitizer|libc|/fuzz/|_start|in main |in (malloc|calloc|realloc|free|strdup) ' | head -3 |
            sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //; s/ \(BuildId[^)]*\)//; s|/[^ ]*/src/|src/|' | paste -sd ';' -)
  case "$where" in src/*) owner=pof ;; *libhdf5*) owner=libhdf5 ;; "") owner="?" ;; *) owner=library ;; esac
  echo "$kind; $owner; ${where:-no stack}"
}

for t in $targets; do
  case " $POF_FUZZ_H5 " in *" $t "*) sec=${POF_FUZZ_H5_SECONDS:-600} ;; *) sec=${POF_FUZZ_RAW_SECONDS:-1800} ;; esac
  mkdir -p "$out/$t/corpus" "$out/$t/artifacts"
  cp -n "$here/corpus/$t"/* "$out/$t/corpus/"
  echo "campaign: $t for $sec s ($(date -u +%H:%M) UTC)"
  start=$(date +%s)
  (cd "$out/$t" && nice -n 19 "$bin/fuzz_$t" $(fuzz_opts "$t") $POF_FUZZ_LIMITS -fork=1 \
     -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$sec" \
     -artifact_prefix="$out/$t/artifacts/" -print_final_stats=1 corpus > "$out/$t.log" 2>&1)
  fuzz_clean_shm
  secs=$(($(date +%s) - start))
  last=$(grep -E '^#[0-9]+: cov: ' "$out/$t.log" | tail -1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<< "$last")
  field() { grep -oE "$1: [0-9/]+" <<< "$last" | awk '{print $2}'; }
  printf '| %s | %.1f | %s | %s | %s | %s | %s | %s |\n' "$t" "$(echo "$secs / 60" | bc -l)" "${execs:-?}" \
    "$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$(field cov)" "$(field ft)" "$(field corp)" \
    "$(field oom/timeout/crash | awk -F/ '{print $3"/"$2"/"$1}')" >> "$report"
  for a in "$out/$t/artifacts"/*; do
    [ -f "$a" ] && [ "${a%.txt}" = "$a" ] && echo "- $t $(basename "$a"): $(classify "$t" "$a")" >> "$out/findings.md"
  done
  fuzz_clean_shm
done
[ -f "$out/findings.md" ] && { echo; echo "Artifacts (kind; owner; first frames):"; cat "$out/findings.md"; } >> "$report"
echo "campaign: done; $report"
