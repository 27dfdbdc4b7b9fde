#!/bin/bash
# pof's own code is compiled for POF_ARCH: libpofcore holds AVX-512 (EVEX-encoded) instructions
# exactly when the compiler's target for that -march has AVX-512F. With POF_ARCH=x86-64-v3 (the
# sanitizer build of tests/run.sh) this shows that the library runs on AVX2-only nodes; with
# native on an AVX-512 CPU, that -march=native reached the compiler.
# Usage: test_arch.sh <cc> <POF_ARCH or ""> <libpofcore.a>
set -uo pipefail
cc=$1 arch=$2 lib=$3
pass=0 fail=0
flags=()
[ -n "$arch" ] && flags=(-march="$arch")
# (the macros are read whole first: with pipefail, grep -q closing the pipe early could fail the
# compiler with SIGPIPE and turn "some" into "none")
defs=$("$cc" "${flags[@]}" -dM -E -x c /dev/null)
if grep -q '__AVX512F__' <<< "$defs"; then want=some; else want=none; fi
# In 64-bit mode an instruction whose first byte is 0x62 is EVEX (AVX-512). cpu.c.o is left out:
# its peak-FLOP kernels are compiled per ISA (target attributes) and chosen at run time by CPUID.
count() {
  objdump -d "$lib" | awk -F'\t' -v evex="$1" '/^[^ \t].*\.o: +file format/ { skip = ($0 ~ /^cpu\.c\.o:/) }
    !skip && NF >= 3 && (!evex || $2 ~ /^62 /)' | wc -l
}
n=$(count 1)
total=$(count 0)
echo "POF_ARCH='$arch': $n EVEX instructions of $total in $(basename "$lib"), expected $want"
ok=0
if [ $want = some ]; then [ "$n" -gt 0 ] && ok=1; else [ "$n" -eq 0 ] && ok=1; fi
if [ "$total" -gt 1000 ] && [ $ok = 1 ]; then
  pass=$((pass + 1))
else
  echo "FAIL: libpofcore's instructions do not match -march=$arch"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
