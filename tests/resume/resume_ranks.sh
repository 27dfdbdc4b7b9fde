#!/bin/bash
# A checkpoint written at 2 ranks (stopped mid-epoch at global step 5 of 16) resumes at 1 and at
# 4 ranks and ends on the same trajectory as the uninterrupted 2-rank run within float tolerance
# (RTOL below, on ||Δparams|| / ||params||: the reduction order differs with the rank count and
# 11 SGD steps amplify the rounding differences; the uninterrupted 1-rank run is printed for
# scale, and a broken resume, e.g. wrong slices, is O(1) off); a truncated newest checkpoint is
# skipped for the previous complete one (then the result is bitwise identical); a checkpoint of
# another architecture is refused with its message; a checkpoint directory that cannot be
# created fails before any training.
. "$(dirname "$0")/lib_resume.sh"
RTOL=5e-3
expect_rc 0 "uninterrupted 2-rank pretrain (reference)" mpi 2 pretrain $PRE -run_dir ref
expect_rc 0 "uninterrupted 1-rank pretrain (for scale)" mpi 1 pretrain $PRE -run_dir base1
same ref/model.h5 base1/model.h5 "for scale: uninterrupted 1 rank vs 2 ranks" $RTOL
POF_TEST_RAISE=step:5 expect_rc 75 "2-rank run stopped at global step 5" mpi 2 pretrain $PRE -run_dir stop -ckpt_every_steps 3
for n in 1 4; do
  cp -r stop r$n
  expect_rc 0 "resume the 2-rank checkpoint at $n rank(s)" mpi $n pretrain $PRE -run_dir r$n -ckpt_every_steps 3
  expect_out "resuming from r$n/ckpt-0000000005.h5" "resumed at $n rank(s) from step 5"
  same ref/model.h5 r$n/model.h5 "$n ranks vs 2 ranks" $RTOL
done

# truncated newest checkpoint: skipped with a warning, the previous one is used
cp -r stop tr
cp tr/ckpt-0000000005.h5 tr/ckpt-0000000006.h5
truncate -s $(( $(stat -c %s tr/ckpt-0000000006.h5) / 2 )) tr/ckpt-0000000006.h5
expect_rc 0 "resume with a truncated newest checkpoint" mpi 2 pretrain $PRE -run_dir tr -ckpt_every_steps 3
expect_out "pof: warning: checkpoint tr/ckpt-0000000006.h5 failed verification \(checkpoint tr/ckpt-0000000006.h5 is truncated.*\): renamed to tr/ckpt-0000000006.h5.corrupt; resuming from tr/ckpt-0000000005.h5" "truncated checkpoint set aside with a warning"
expect_out "resuming from tr/ckpt-0000000005.h5" "previous complete checkpoint used"
same ref/model.h5 tr/model.h5 "after skipping the truncated one vs uninterrupted"

# another architecture in the run directory: refused with its message, before training
cp -r stop arch
expect_rc 1 "resume a WRN-10-1 checkpoint as WRN-10-2: refused" mpi 2 pretrain $PRE -model_width 2 -run_dir arch
expect_out "pof: error: model file arch/ckpt-0000000005.h5 is WRN-10-1 .*but this run needs WRN-10-2.*width 1 != 2" "architecture mismatch named"
! grep -q "epoch 1/" "$T_OUT" && ok "nothing trained" || bad "trained before refusing"

# checkpoint directory inside a regular file (root ignores permissions, so this is the
# unwritable directory): one error before training, the file untouched
echo keep > afile
expect_rc 1 "run directory inside a regular file: refused" mpi 2 pretrain $PRE -run_dir afile/run
expect_out "pof: error: .*afile" "error names the directory"
[ "$(grep -c '^pof: error:' "$T_OUT")" = 1 ] && ! grep -q "pretrain: WRN" "$T_OUT" && ok "one error, before training started" || { bad "not refused before training"; cat "$T_OUT"; }
[ "$(cat afile)" = keep ] && ok "the file is untouched" || bad "file changed"
POF_TEST_RAISE=bogus expect_rc 1 "ill-formed POF_TEST_RAISE: refused" mpi 2 pretrain $PRE -run_dir bogus
expect_out "POF_TEST_RAISE='bogus'" "names the variable"
resume_finish
