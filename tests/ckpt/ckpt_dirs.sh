#!/bin/bash
# Checkpoint directories: find the newest good checkpoint (setting a truncated newer one aside as
# <name>.corrupt with a warning; an error when none is good), not-found cases, pruning to the newest N, the early directory check, the
# signature check and the checkpoint name.
set -uo pipefail
T="$1"
source "$2/tests/ckpt/lib_ckpt.sh"
ckpt_workdir

# ---- pof_rundir_ckpt_name
pass 1 "checkpoint name has 10 digits" "^run/ckpt-0000001234\.h5$" -mode name -dir run -step 1234

# ---- find_latest
mkdir empty
pass 2 "empty directory: not found" "^not found" -mode latest -dir empty
pass 2 "missing directory: not found" "^not found" -mode latest -dir nosuchdir
mkdir run
pass 2 "write step 10" "written" -mode write -path run/ckpt-0000000010.h5 -step 10
pass 2 "write step 20" "written" -mode write -path run/ckpt-0000000020.h5 -step 20
pass 2 "write step 30" "written" -mode write -path run/ckpt-0000000030.h5 -step 30
pass 2 "all complete: the newest is found" "^found run/ckpt-0000000030\.h5$" -mode latest -dir run
truncate -s $(( $(stat -c %s run/ckpt-0000000030.h5) / 2 )) run/ckpt-0000000030.h5
cp run/ckpt-0000000010.h5 run/ckpt-0000000040.h5.tmp.4242   # an interrupted write: ignored
cp run/ckpt-0000000010.h5 run/ckpt-99.h5                    # not the name pattern: ignored
pass 2 "truncated newest set aside: step 20 found" "^found run/ckpt-0000000020\.h5$" -mode latest -dir run
grep -qE "^pof: warning: checkpoint run/ckpt-0000000030\.h5 failed verification \(checkpoint run/ckpt-0000000030\.h5 is truncated.*\): renamed to run/ckpt-0000000030\.h5\.corrupt; resuming from run/ckpt-0000000020\.h5$" "$T_OUT" \
  && ok "the file is reported, with the reason, the new name and the checkpoint used" || { bad "no warning for the file set aside"; cat "$T_OUT"; }
[ -e run/ckpt-0000000030.h5.corrupt ] && [ ! -e run/ckpt-0000000030.h5 ] && ok "renamed to ckpt-0000000030.h5.corrupt (kept, no longer a candidate)" || { bad "not renamed"; ls run; }
[ "$(grep -c 'pof: warning' "$T_OUT")" -eq 1 ] && ok "one warning (rank 0 only, tmp and odd names not probed)" || { bad "warning count"; cat "$T_OUT"; }
pass 2 "step 20 found is readable" "roundtrip ok" -mode read -path run/ckpt-0000000020.h5 -step 20
pass 4 "same answer at 4 ranks" "^found run/ckpt-0000000020\.h5$" -mode latest -dir run
mkdir bad
printf 'junk' > bad/ckpt-0000000001.h5; cp run/ckpt-0000000030.h5.corrupt bad/ckpt-0000000002.h5
fail 2 "only broken checkpoints: an error listing both" "^pof: error: no usable checkpoint in bad: all 2 failed verification \(they are left as they are; .*\): \[checkpoint bad/ckpt-0000000002\.h5 is truncated.*\] \[checkpoint bad/ckpt-0000000001\.h5 is not an HDF5 file" -mode latest -dir bad
[ "$(ls bad | tr '\n' ' ')" = "ckpt-0000000001.h5 ckpt-0000000002.h5 " ] && ok "... nothing renamed" || { bad "bad/ now holds: $(ls bad)"; }
fail 2 "a regular file as directory" "cannot list checkpoint directory run/ckpt-0000000010.h5" -mode latest -dir run/ckpt-0000000010.h5

# ---- prune
mkdir pr
for s in 1 2 3 5 8; do cp run/ckpt-0000000010.h5 pr/ckpt-000000000$s.h5; done
cp run/ckpt-0000000010.h5 pr/ckpt-0000000009.h5.tmp.77; echo keep > pr/notes.txt; cp run/ckpt-0000000010.h5 pr/model.h5
pass 2 "prune keep 2" "pruned" -mode prune -dir pr -keep 2
got=$(cd pr && ls | tr '\n' ' ')
[ "$got" = "ckpt-0000000005.h5 ckpt-0000000008.h5 model.h5 notes.txt " ] && ok "newest 2 kept, stale tmp removed, other files untouched ($got)" || bad "after prune: $got"
pass 2 "prune keep 5 with 2 present" "pruned" -mode prune -dir pr -keep 5
[ "$(ls pr | wc -l)" -eq 4 ] && ok "nothing more deleted" || bad "prune keep 5 deleted files: $(ls pr)"
fail 2 "prune keep 0 is refused" "checkpoints to keep must be >= 1, got 0" -mode prune -dir pr -keep 0
pass 2 "prune of a missing directory is a no-op" "pruned" -mode prune -dir nosuchdir -keep 1

# ---- check_dir
pass 2 "nested new directory is created" "dir ok" -mode checkdir -dir new/a/b/c
[ -d new/a/b/c ] && [ -z "$(ls -A new/a/b/c)" ] && ok "created, probe file removed" || bad "new/a/b/c: $(ls -A new/a/b/c 2>&1)"
pass 2 "existing directory" "dir ok" -mode checkdir -dir run
fail 2 "path under a regular file (/etc/passwd/x)" "cannot create checkpoint directory /etc/passwd/x: Not a directory" -mode checkdir -dir /etc/passwd/x
fail 2 "an existing regular file" "checkpoint directory run/ckpt-0000000010.h5 is not a directory" -mode checkdir -dir run/ckpt-0000000010.h5
if ! touch /sys/.pof-probe 2> /dev/null; then
  fail 2 "/sys (a directory root cannot create files in)" "checkpoint directory /sys is not writable: cannot create a file in it" -mode checkdir -dir /sys
else rm -f /sys/.pof-probe; echo "skip /sys is writable here"; fi
mkdir ro
if mount -t tmpfs -o ro,size=64k tmpfs ro 2> /dev/null; then
  trap 'umount "$W/ro" 2> /dev/null' EXIT
  fail 2 "read-only tmpfs" "checkpoint directory ro is not writable: cannot create a file in it \(Read-only file system\)" -mode checkdir -dir ro
  umount ro
else echo "skip read-only tmpfs: mount not permitted here"; fi

# ---- signature
pass 2 "same signature" "signature ok \(wanted depth 10, width 2, classes 10, dataset 'fashion-mnist'\)" -mode signature -path run/ckpt-0000000010.h5
fail 2 "other depth is refused" "model file run/ckpt-0000000010\.h5 is WRN-10-2 \(base 4, 1x28x28 input, 10 classes, dataset fashion-mnist\), but this run needs WRN-16-2 .*: depth 10 != 16" -mode signature -path run/ckpt-0000000010.h5 -want_depth 16
fail 2 "other width is refused" "needs WRN-10-8 .*: width 2 != 8" -mode signature -path run/ckpt-0000000010.h5 -want_width 8
fail 2 "other classes are refused" "100 classes.*: classes 10 != 100" -mode signature -path run/ckpt-0000000010.h5 -want_classes 100
fail 2 "other dataset is refused" "dataset 'fashion-mnist' != 'cifar10'" -mode signature -path run/ckpt-0000000010.h5 -want_dataset cifar10
pass 2 "empty dataset name on one side is accepted" "signature ok .*dataset ''" -mode signature -path run/ckpt-0000000010.h5 -want_dataset ""
ckpt_finish
