#!/bin/bash
# Checkpoint round trip: written at 2 ranks, read at 1, 2 and 4 ranks with any ownership,
# every value and metadata field bitwise equal; the piece loop (tiny -chunk) and ranks that
# own nothing (-uneven); no optimizer state; checksums; a corrupted payload is refused.
set -uo pipefail
T="$1"
source "$2/tests/ckpt/lib_ckpt.sh"
ckpt_workdir

pass 2 "write a.h5 at 2 ranks" "written a.h5" -mode write -path a.h5
for n in 1 2 4; do
  pass $n "read a.h5 at $n ranks: bitwise equal" "roundtrip ok" -mode read -path a.h5
done
fail 2 "negative control: other expected values (-vseed 2) must not compare equal" "round trip of a.h5 is not exact" -mode read -path a.h5 -vseed 2
mpi 2 -mode read -path a.h5 -vseed 2
grep -qE "bitwise differences [1-9][0-9]* [1-9][0-9]* [1-9][0-9]* [1-9][0-9]*" "$T_OUT" \
  && ok "negative control differs in all four arrays" || { bad "negative control"; cat "$T_OUT"; }

# pieces of 7 elements; rank 0 owns no entries of the Vecs at write (2 ranks) and at 4 ranks
pass 2 "write b.h5 at 2 ranks, -chunk 7, rank 0 owns nothing" "written b.h5" -mode write -path b.h5 -uneven -chunk 7 -n 2005 -nbn 61 -vseed 3
pass 1 "read b.h5 at 1 rank, -chunk 5" "roundtrip ok" -mode read -path b.h5 -chunk 5 -n 2005 -nbn 61 -vseed 3
pass 2 "read b.h5 at 2 ranks, uneven" "roundtrip ok" -mode read -path b.h5 -uneven -n 2005 -nbn 61 -vseed 3
pass 4 "read b.h5 at 4 ranks, uneven, -chunk 11" "roundtrip ok" -mode read -path b.h5 -uneven -chunk 11 -n 2005 -nbn 61 -vseed 3

# no optimizer state, no theta0 (a pretrain model file)
pass 2 "write c.h5 without momentum and theta0" "written c.h5" -mode write -path c.h5 -momentum 0 -theta0 0 -vseed 4
pass 4 "read c.h5 at 4 ranks" "roundtrip ok" -mode read -path c.h5 -momentum 0 -theta0 0 -vseed 4 -writer_ranks 2
fail 2 "asking c.h5 for momentum is refused" "c.h5 holds no optimizer state" -mode read -path c.h5 -theta0 0 -vseed 4
fail 2 "asking c.h5 for theta0 is refused" "c.h5 holds no theta0" -mode read -path c.h5 -momentum 0 -vseed 4

# written at 1 and at 4 ranks too (ranks attribute = writer's size)
pass 4 "write d.h5 at 4 ranks" "written d.h5" -mode write -path d.h5 -vseed 5 -writer_ranks 4
pass 1 "read d.h5 at 1 rank" "roundtrip ok" -mode read -path d.h5 -vseed 5 -writer_ranks 4
pass 1 "write e.h5 at 1 rank" "written e.h5" -mode write -path e.h5 -vseed 6 -writer_ranks 1
pass 2 "read e.h5 at 2 ranks" "roundtrip ok" -mode read -path e.h5 -vseed 6 -writer_ranks 1

# overwrite: the new file replaces the old one
pass 2 "overwrite a.h5 with other values" "written a.h5" -mode write -path a.h5 -vseed 7
pass 2 "read the overwritten a.h5" "roundtrip ok" -mode read -path a.h5 -vseed 7

ls *.tmp.* > /dev/null 2>&1 && bad "temporary files left: $(ls *.tmp.*)" || ok "no temporary files left"

# checksums are zlib CRC-32 of the file-order bytes (independent check with Python)
/usr/bin/python3 - b.h5 > py.txt 2>&1 <<'PY'
import sys, zlib, h5py
f = h5py.File(sys.argv[1], "r")
for d in ["params", "momentum", "bn_running", "theta0"]:
    c = zlib.crc32(f[d][()].tobytes())
    assert c == int(f.attrs["crc32_" + d]), (d, c, f.attrs["crc32_" + d])
assert f.attrs["format_version"] == 1 and f.attrs["complete"] == 1
assert list(f.attrs["milestones"][:5]) == [60, 121, 182, 243, 304]
assert len(f.attrs["options_json"]) == 16000
print("python checks ok")
PY
grep -q "python checks ok" py.txt && ok "CRC-32 and attributes agree with an independent reader (h5py)" || { bad "h5py check"; cat py.txt; }

# one flipped byte in the middle of /params: metadata still valid, data refused
cp d.h5 flip.h5
/usr/bin/python3 - flip.h5 > py.txt 2>&1 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    off = f["params"].id.get_offset() + 8 * 500 + 3
with open(sys.argv[1], "r+b") as g:
    g.seek(off); b = g.read(1); g.seek(off); g.write(bytes([b[0] ^ 0x10]))
print("flipped")
PY
pass 2 "flip.h5: metadata still valid" "meta ok" -mode meta -path flip.h5
fail 2 "flip.h5: corrupted /params refused at 2 ranks" "flip.h5 is corrupt: the data of /params do not match their checksum" -mode read -path flip.h5 -vseed 5 -writer_ranks 4
fail 4 "flip.h5: corrupted /params refused at 4 ranks" "flip.h5 is corrupt" -mode read -path flip.h5 -vseed 5 -writer_ranks 4
ckpt_finish
