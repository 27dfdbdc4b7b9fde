# The fuzz targets and their libFuzzer options (sourced by run_corpus.sh and campaign.sh).
# fuzz_opts TARGET: options every run of TARGET gets (input size limit, dictionary).
POF_FUZZ_RAW="idx idx_gz cifar svhn json"
POF_FUZZ_H5="dataset model ckpt info"
POF_FUZZ_DICT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dict"
export POF_FUZZ_DICT
fuzz_opts() {
  local d="$POF_FUZZ_DICT"
  case "$1" in
    idx | idx_gz) echo "-max_len=4096 -dict=$d/$1.dict" ;;
    cifar) echo "-max_len=12400" ;;
    svhn) echo "-max_len=4096 -dict=$d/svhn.dict" ;;
    json) echo "-max_len=4096 -dict=$d/json.dict" ;;
    dataset | model | ckpt | info) echo "-max_len=65536 -dict=$d/hdf5.dict" ;;
  esac
}
# Memory and time limits of one input: an allocation pof makes from a header field before checking
# it shows as an out-of-memory finding, a loop over an unchecked count as a timeout.
POF_FUZZ_LIMITS="-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
# Remove the scratch directories (/dev/shm/pof-fuzz.<pid>) of fuzz processes that died without
# their atexit cleanup (a crash, a timeout, a kill).
fuzz_clean_shm() {
  local d
  for d in /dev/shm/pof-fuzz.*; do
    [ -d "$d" ] && ! kill -0 "${d##*.}" 2> /dev/null && rm -rf "$d"
  done
  return 0
}
