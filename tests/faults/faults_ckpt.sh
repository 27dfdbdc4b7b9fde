#!/bin/bash
# Faults inside checkpoint writes and what the user sees; every chain ends in a rerun that finishes
# bitwise equal to the uninterrupted run at the same rank count (tiny Fashion-MNIST, WRN-10-1).
#  1 rank, one run directory, one fault per invocation (POF_TEST_FAULT, include/pof/signal.h):
#    SIGKILL right after the temporary is created, after /params is written, after the read-back
#    (before the rename), after the rename (before pruning); a disk full on one stage (FAIL: 74);
#    SIGUSR1 during an evaluation and during a checkpoint write (75); a corrupt newest checkpoint
#    (set aside, the run resumes from the one before); the -run_signal_lead warning, once.
#  2 ranks on a small tmpfs this test mounts (unmounted at exit, also on failure): the disk fills
#    up in the middle of a checkpoint: exit 74, the free-space warning at start, the temporary
#    removed, the earlier checkpoint intact; the rerun with room finishes with the uninterrupted
#    result.
#  Symbolic links planted at the lock file and at an output name: refused, their targets untouched.
. "$(dirname "$0")/../resume/lib_resume.sh"
export OMPI_MCA_odls_base_sigkill_timeout=0
MNT="$W/mnt"
trap 'mountpoint -q "$MNT" && umount "$MNT"; rm -f "$T_OUT"' EXIT
F="$PRE -ckpt_every_steps 2 -ckpt_keep 2"
run1() { timeout 120 "$pof" pretrain $F -run_dir "$@"; } # 1 rank (singleton), test hook from env
newest() { ls "$1" | grep -E '^ckpt-[0-9]{10}\.h5$' | tail -1; }
no_tmp() { ! ls "$1" | grep -q "\.tmp\."; }
errors1() { # DESC PATTERN : exactly one "pof: error:" line, matching PATTERN
  [ "$(grep -c '^pof: error:' "$T_OUT")" = 1 ] && grep -qE "^pof: error: $2" "$T_OUT" \
    && ok "$1: $(grep '^pof: error:' "$T_OUT" | cut -c1-160)" || { bad "$1"; cat "$T_OUT"; }
}
json_status() { [ "$(grep '^{' "$T_OUT" | tail -1 | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["status"])')" = "$1" ] \
  && ok "last stdout line: status $1" || { bad "last line is not status $1: $(tail -1 "$T_OUT")"; }; }

expect_rc 0 "uninterrupted 1-rank run (reference)" run1 ref
# SIGKILL inside the write, at four points; each rerun resumes from the newest complete checkpoint
POF_TEST_FAULT=ckpt_create expect_rc 137 "SIGKILL after the temporary was created (1st checkpoint)" run1 c
[ -z "$(newest c)" ] && ok "no checkpoint name for the killed write" || bad "checkpoint left: $(ls c)"
POF_TEST_FAULT=ckpt_data@2 expect_rc 137 "rerun, SIGKILL after /params of the 2nd checkpoint" run1 c
[ "$(newest c)" = ckpt-0000000002.h5 ] && ok "newest checkpoint step 2" || bad "newest $(newest c)"
POF_TEST_FAULT=ckpt_verify expect_rc 137 "rerun, SIGKILL after the read-back, before the rename" run1 c
expect_out "resuming from c/ckpt-0000000002.h5" "resumed from step 2"
[ "$(newest c)" = ckpt-0000000002.h5 ] && ok "the unrenamed write is not a checkpoint" || bad "newest $(newest c)"
POF_TEST_FAULT=ckpt_commit expect_rc 137 "rerun, SIGKILL after the rename, before pruning" run1 c
[ "$(newest c)" = ckpt-0000000004.h5 ] && ok "renamed checkpoint step 4 kept" || bad "newest $(newest c)"
# a disk full on rank 0 in the middle of a write: exit 74, temporary removed, step 4 intact
POF_TEST_FAULT=ckpt_data:FAIL expect_rc 74 "rerun, disk full while writing /params: exit 74" run1 c
errors1 "one error line naming the checkpoint and the stage" "storage failure: checkpoint c/ckpt-0000000006.h5 not written \(writing /params failed on rank 0: .*earlier checkpoints are intact"
json_status storage
ls c | grep -q "^ckpt-0000000006\.h5\.tmp\." && bad "temporary left: $(ls c)" || ok "its temporary removed"
[ "$(newest c)" = ckpt-0000000004.h5 ] && [ "$(attr c/ckpt-0000000004.h5 complete)" = 1 ] && ok "step 4 intact" || bad "newest $(newest c)"
# SIGUSR1 during the evaluation that ends epoch 1, then during a checkpoint write: exit 75 each
POF_TEST_FAULT=eval:USR1 expect_rc 75 "rerun, SIGUSR1 during the evaluation: exit 75" run1 c
expect_out "stopped on SIGUSR1 after global step 8" "stopped after the epoch (step 8)"
POF_TEST_FAULT=ckpt_data:USR1 expect_rc 75 "rerun, SIGUSR1 during a checkpoint write: exit 75" run1 c
expect_out "stopped on SIGUSR1 after global step 11" "the write finished; stopped one step later (11)"
# the newest checkpoint corrupt: set aside, the run resumes from the one before
/usr/bin/python3 - c/ckpt-0000000011.h5 <<'PY' || bad "corrupting"
import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    f["params"][0] = f["params"][0] + 1.0
PY
expect_rc 0 "rerun after corrupting the newest checkpoint" run1 c -run_signal_lead 1e-6
expect_out "checkpoint c/ckpt-0000000011.h5 failed verification .* renamed to c/ckpt-0000000011.h5.corrupt; resuming from c/ckpt-0000000010.h5" "corrupt newest set aside, resumed from step 10"
[ "$(grep -c 'more than a third of the stop signal' "$T_OUT")" = 1 ] && ok "-run_signal_lead: one warning" || { bad "signal lead warning count"; cat "$T_OUT"; }
same ref/model.h5 c/model.h5 "after 7 faults: the uninterrupted result"
"$R/compare_rows.py" ref/metrics.jsonl c/metrics.jsonl > rows.log 2>&1 && ok "metrics rows: $(cat rows.log)" || { bad "metrics rows"; cat rows.log; }
/usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open("c/metrics.jsonl")]
c = [x for r in rows for x in r.get("checkpoints", [])]
assert c and all(x["write_seconds"] > 0 and x["verify_seconds"] >= 0 for x in c), c
print(len(c), "checkpoint write times, e.g.", c[0])' > ck.log 2>&1 && ok "metrics.jsonl: $(cat ck.log)" || { bad "checkpoint times"; cat ck.log; }
no_tmp c && ok "no temporary left at the end" || bad "temporary left: $(ls c)"

# 2 ranks on a tmpfs that fills up: room for one checkpoint (1.25 MB), not two
expect_rc 0 "uninterrupted 2-rank run (reference)" mpi 2 pretrain $PRE -run_dir ref2 -ckpt_every_steps 3 -ckpt_keep 1
mkdir -p "$MNT" && mount -t tmpfs -o size=1900k pof-test "$MNT" || { bad "cannot mount a tmpfs"; finish; exit 1; }
expect_rc 74 "disk full mid-run at 2 ranks: exit 74" mpi 2 pretrain $PRE -run_dir "$MNT/d" -ckpt_every_steps 3 -ckpt_keep 1
expect_out "pretrain: warning: the file system of the run directory $MNT/d has 1.9 MB free, less than two checkpoints" "free-space warning at start"
errors1 "one error line" "storage failure: checkpoint $MNT/d/ckpt-0000000006.h5 not written .*0.0 MB free"
json_status storage
no_tmp "$MNT/d" && ok "temporary removed" || bad "temporary left: $(ls "$MNT/d")"
[ "$(newest "$MNT/d")" = ckpt-0000000003.h5 ] && [ "$(attr "$MNT/d/ckpt-0000000003.h5" complete)" = 1 ] && ok "step 3 intact" || bad "left: $(ls "$MNT/d")"
mount -o remount,size=20m "$MNT"
expect_rc 0 "rerun with room" mpi 2 pretrain $PRE -run_dir "$MNT/d" -ckpt_every_steps 3 -ckpt_keep 1
same ref2/model.h5 "$MNT/d/model.h5" "disk full + rerun: the uninterrupted result"
umount "$MNT"

# symbolic links planted at the lock and at an output name: refused, targets untouched
echo keep > t1; echo keep > t2; mkdir s1 s2
ln -s "$W/t1" s1/.pof-lock; ln -s "$W/t2" s2/metrics.jsonl
expect_rc 1 "symlink at the lock file: refused" run1 s1
errors1 "names the lock file" "the lock file s1/.pof-lock is a symbolic link: refused"
expect_rc 1 "symlink at metrics.jsonl: refused" run1 s2
errors1 "names the link and its target" "s2/metrics.jsonl is a symbolic link \(to $W/t2\): refused"
[ "$(cat t1)$(cat t2)" = keepkeep ] && ok "targets untouched" || bad "a target changed"
[ ! -e s2/config.json ] && ok "nothing written in s2" || bad "s2: $(ls s2)"
resume_finish
