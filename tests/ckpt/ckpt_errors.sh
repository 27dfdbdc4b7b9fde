#!/bin/bash
# Bad checkpoints and failed writes: each gives its own message naming the file, a non-zero
# exit on every rank and no hang (2 and 4 ranks); a failed write leaves no temporary file.
set -uo pipefail
T="$1"
source "$2/tests/ckpt/lib_ckpt.sh"
ckpt_workdir

pass 2 "write good.h5" "written good.h5" -mode write -path good.h5
size=$(stat -c %s good.h5)
cp good.h5 trunc.h5 && truncate -s $((size / 2)) trunc.h5
printf 'this is not HDF5\n' > text.h5
: > empty.h5
/usr/bin/python3 - > py.txt 2>&1 <<'PY'
import shutil, h5py
for n in ["noparams", "nocomplete", "v2", "shortbn", "notckpt"]:
    shutil.copy("good.h5", n + ".h5")
with h5py.File("noparams.h5", "r+") as f: del f["params"]
with h5py.File("nocomplete.h5", "r+") as f: del f.attrs["complete"]
with h5py.File("v2.h5", "r+") as f: f.attrs.modify("format_version", 2)
with h5py.File("shortbn.h5", "r+") as f:
    d = f["bn_running"][:-1]; del f["bn_running"]; f["bn_running"] = d
with h5py.File("notckpt.h5", "w") as f: f["train/images"] = [1, 2, 3]
print("prepared")
PY
grep -q prepared py.txt && ok "damaged copies prepared with h5py" || { bad "h5py preparation"; cat py.txt; }

for n in 2 4; do
  fail $n "truncated file at $n ranks"      "checkpoint trunc.h5 is truncated or damaged: HDF5 cannot open it \(truncated file" -mode meta -path trunc.h5
  fail $n "non-HDF5 file at $n ranks"       "checkpoint text.h5 is not an HDF5 file"            -mode meta -path text.h5
  fail $n "missing /params at $n ranks"     "checkpoint noparams.h5 has no dataset /params"     -mode meta -path noparams.h5
  fail $n "no complete mark at $n ranks"    "checkpoint nocomplete.h5 is incomplete \(no 'complete' mark\)" -mode meta -path nocomplete.h5
  fail $n "format version 2 at $n ranks"    "checkpoint v2.h5 has format version 2, this pof reads version 1" -mode meta -path v2.h5
done
fail 2 "missing file"                       "checkpoint nosuch.h5 does not exist"               -mode meta -path nosuch.h5
fail 2 "empty file"                         "checkpoint empty.h5 is empty"                      -mode meta -path empty.h5
fail 2 "a directory"                        "checkpoint \. is not a regular file"              -mode meta -path .
fail 2 "/bn_running one value short"        "dataset /bn_running has 36 values, but n_bn_state = 37" -mode meta -path shortbn.h5
fail 2 "an HDF5 file that is no checkpoint" "notckpt.h5 is not a pof checkpoint"                -mode meta -path notckpt.h5
# pof_ckpt_read validates the same way before any collective open
fail 4 "read of the truncated file at 4 ranks" "checkpoint trunc.h5 is truncated or damaged"   -mode read -path trunc.h5
fail 4 "read of the file without /params at 4 ranks" "noparams.h5 has no dataset /params"     -mode read -path noparams.h5
# a reader with a different model size
fail 2 "Vec of the wrong size"              "checkpoint good.h5: the master Vec has 1000 entries, but n_params = 1003" -mode read -path good.h5 -n 1000
pass 2 "the good file still reads" "roundtrip ok" -mode read -path good.h5

# failed writes leave nothing behind and never damage what is there
fail 2 "write into a missing directory"     "cannot create checkpoint file nodir/x.h5.tmp" -mode write -path nodir/x.h5
[ -e nodir ] && bad "nodir was created" || ok "nothing created for the missing directory"
mkdir isdir.h5
fail 2 "rename onto a directory fails"      "checkpoint isdir.h5 not written \\(stage commit failed on rank 0: cannot rename isdir.h5.tmp.[0-9]+.[0-9a-f]{16} to isdir.h5: Is a directory" -mode write -path isdir.h5
ls isdir.h5.tmp.* > /dev/null 2>&1 && bad "temporary file left after the failed rename" || ok "temporary file removed after the failed rename"
cp good.h5 keep.h5
fail 2 "write with an invalid size (n_params 0)" "implausible sizes n_params 0" -mode write -path keep.h5 -n 0
cmp -s good.h5 keep.h5 && ok "existing keep.h5 untouched by the failed write" || bad "keep.h5 changed"
ls *.tmp.* > /dev/null 2>&1 && bad "temporary files left: $(ls *.tmp.*)" || ok "no temporary files left"
ckpt_finish
