#!/bin/bash
# What a resumed run finds and writes (regressions of issue 27, items 3-6), 2 ranks, WRN-10-1 on
# 256 images (8 steps per epoch):
#  - rows: a run that died after writing rows its newest checkpoint does not cover (cut here by
#    removing the newer checkpoints of a finished run: a kill between a row and its checkpoint,
#    or -ckpt_every_epochs 2) resumes, drops those rows and writes them again: metrics.jsonl and
#    steps.jsonl end up equal to the uninterrupted run's (timings removed), also when the cut is
#    mid-epoch (the epoch's loss/error/PoF figures travel in the checkpoint), twice in a row;
#  - a corrupt newest checkpoint (its /params edited, CRC not) is set aside as <name>.corrupt with
#    one warning and the run resumes from the previous one; with no good one: one error listing
#    them, nothing renamed;
#  - resuming a run started without -model_classes warns about no option (also from a checkpoint
#    that recorded "model_classes":0, as written before the fix);
#  - post-training's learning rate is fixed at its start and stored in the checkpoint; a
#    pretraining schedule that ended at 0 is an error naming -opt_lr.
. "$(dirname "$0")/lib_resume.sh"
CMP="$R/compare_rows.py"
rows_same() { # A B DESC
  if "$CMP" "$1" "$2" > rows.log 2>&1; then ok "$3: $(cat rows.log)"; else bad "$3: $(cat rows.log)"; fi
}
# cut DIR STEP : the run directory as a job that died after global step STEP's checkpoint left it
cut() {
  rm -f "$1/model.h5"
  for f in "$1"/ckpt-*.h5; do
    s=$(basename "$f" .h5); s=$((10#${s#ckpt-}))
    [ "$s" -gt "$2" ] && rm -f "$f"
  done
}
h5edit() { /usr/bin/python3 -c "$1" "${@:2}"; }

# ---- post-training's learning rate (item 6)
expect_rc 0 "pretrain, cosine schedule that ends at 0 (2 epochs)" mpi 2 pretrain $PRE -run_dir pre
expect_rc 1 "posttrain from it without -opt_lr refused" mpi 2 posttrain -data_file tiny.h5 -model_in pre/model.h5 -run_dir p0 -run_quiet
expect_out "^pof: error: the pretraining schedule of model file 'pre/model.h5' \(cosine, base 0.05 over 2 epochs\) gives learning rate 0\.? at epoch 2, where post-training starts: .*give -opt_lr" "... the error names the schedule and -opt_lr"
[ ! -e p0 ] && ok "... before its run directory was made" || bad "p0 created"
expect_rc 1 "posttrain -opt_lr 1e-13 refused" mpi 2 posttrain -data_file tiny.h5 -model_in pre/model.h5 -run_dir p0 -opt_lr 1e-13 -run_quiet
expect_out "^pof: error: -opt_lr 1e-13 is below 1e-12" "... naming -opt_lr"
STEP="-data_file tiny.h5 -model_depth 10 -model_width 1 -opt_batch 32 -opt_lr 0.04 -opt_schedule step -opt_milestones 1,2 -opt_factor 0.5 -run_epochs 1 -run_quiet -run_seed 3"
expect_rc 0 "pretrain 1 epoch, step schedule 0.04 x 0.5 at epochs 1 and 2" mpi 2 pretrain $STEP -run_dir st
lrs() { /usr/bin/python3 -c "import json,sys; print(' '.join('%g' % json.loads(l)['lr'] for l in open(sys.argv[1])))" "$1"; }
PO="-data_file tiny.h5 -model_in st/model.h5 -run_epochs 2 -pof_mode off -run_quiet -run_seed 4"
expect_rc 0 "posttrain 2 epochs without -opt_lr" mpi 2 posttrain $PO -run_dir pl -ckpt_every_epochs 1 -ckpt_keep 5
expect_out "posttrain: learning rate 0.02 \(the pretraining schedule where post-training starts\), fixed for the run" "... says its rate"
[ "$(lrs pl/metrics.jsonl)" = "0.02 0.02" ] && ok "... at the schedule's value at its start, fixed: lr 0.02 0.02" || bad "lr per epoch $(lrs pl/metrics.jsonl), want 0.02 0.02"
[ "$(h5edit 'import h5py,sys; print("%g" % h5py.File(sys.argv[1],"r").attrs["post_lr"])' pl/model.h5)" = 0.02 ] && ok "... stored in the checkpoint (post_lr 0.02)" || bad "post_lr attribute"
expect_rc 0 "posttrain with -opt_milestones 1: a schedule of its own" mpi 2 posttrain $PO -run_dir pm -opt_milestones 1 -opt_factor 0.5
[ "$(lrs pm/metrics.jsonl)" = "0.02 0.01" ] && ok "... from the start value: lr 0.02 0.01" || bad "lr per epoch $(lrs pm/metrics.jsonl), want 0.02 0.01"
# a resume takes the stored rate, not the schedule read again (here made to say 0.08 instead)
cp -r pl pr && cut pr 16
h5edit 'import h5py,sys; f=h5py.File(sys.argv[1],"r+"); f.attrs["lr_base"]=0.16' pr/ckpt-0000000016.h5
expect_rc 0 "posttrain resumed from its epoch-1 checkpoint (pretraining lr_base edited)" mpi 2 posttrain $PO -run_dir pr -ckpt_every_epochs 1 -ckpt_keep 5
[ "$(lrs pr/metrics.jsonl)" = "0.02 0.02" ] && ok "... uses the stored rate: lr 0.02 0.02" || bad "lr per epoch after resume $(lrs pr/metrics.jsonl)"
same pl/model.h5 pr/model.h5 "... and ends where the uninterrupted run did"

# ---- no spurious option warning on resume (item 4)
expect_rc 0 "pretrain 1 epoch without -model_classes" mpi 2 pretrain $PRE -run_epochs 1 -run_dir mc -ckpt_keep 5
cp -r mc mc0
expect_rc 0 "... rerun with -run_epochs 2 (resumes)" mpi 2 pretrain $PRE -run_dir mc -ckpt_keep 5
expect_out "pretrain: resuming from mc/ckpt-" "... resumed"
! grep -q "warning" "$T_OUT" && ok "... no warning" || { bad "warning on resume"; grep warning "$T_OUT"; }
h5edit 'import h5py,sys,numpy as np; f=h5py.File(sys.argv[1],"r+"); s=f.attrs["options_json"].decode(); assert "\"model_classes\":10" in s; f.attrs["options_json"]=np.bytes_(s.replace("\"model_classes\":10","\"model_classes\":0"))' mc0/ckpt-0000000008.h5 \
  && ok "checkpoint edited to record \"model_classes\":0 (as before the fix)" || bad "edit options_json"
expect_rc 0 "... resumes" mpi 2 pretrain $PRE -run_dir mc0 -ckpt_keep 5
! grep -q "warning" "$T_OUT" && ok "... no warning" || { bad "warning on resume of an old checkpoint"; grep warning "$T_OUT"; }

# ---- rows after resumes (item 5): PoF post-training with step rows, checkpoints every 5 steps
POST="-data_file tiny.h5 -model_in st/model.h5 -run_epochs 3 -run_quiet -run_seed 5 -opt_batch 32 -pof_weak_batch 32 -pof_partitions 4 -run_step_log -ckpt_every_steps 5 -ckpt_keep 100"
expect_rc 0 "uninterrupted PoF posttrain, 3 epochs, step log (reference)" mpi 2 posttrain $POST -run_dir ref
cp -r ref c1 && cut c1 13
# (global steps count from the start of pretraining: post-training's steps are 9..32)
expect_rc 0 "cut after global step 13 (checkpoint 10 = post-training epoch 1, step 2; all rows written): resumes" mpi 2 posttrain $POST -run_dir c1
expect_out "posttrain: dropped 3 metrics row\(s\) and 22 step row\(s\) written after the checkpoint" "... drops the 3 epoch rows and 22 step rows after it"
rows_same ref/metrics.jsonl c1/metrics.jsonl "metrics.jsonl after a mid-epoch resume"
rows_same ref/steps.jsonl c1/steps.jsonl "steps.jsonl after a mid-epoch resume"
cut c1 21
expect_rc 0 "the same directory cut again after step 21 (checkpoint 20 = post-training epoch 2, step 4): resumes" mpi 2 posttrain $POST -run_dir c1
rows_same ref/metrics.jsonl c1/metrics.jsonl "metrics.jsonl after a second resume"
rows_same ref/steps.jsonl c1/steps.jsonl "steps.jsonl after a second resume"
same ref/model.h5 c1/model.h5 "model after two resumes"
# -ckpt_every_epochs 2: the epoch-3 row was written, its checkpoint not yet
EP="$PRE -run_epochs 3 -ckpt_every_epochs 2 -ckpt_keep 5"
expect_rc 0 "pretrain 3 epochs, checkpoint every 2 (reference)" mpi 2 pretrain $EP -run_dir eref
cp -r eref e1 && cut e1 16
expect_rc 0 "... cut before the end (newest checkpoint: epoch 2): resumes" mpi 2 pretrain $EP -run_dir e1
rows_same eref/metrics.jsonl e1/metrics.jsonl "metrics.jsonl with -ckpt_every_epochs 2"

# ---- a corrupt newest checkpoint (item 3)
cp -r ref cr && cut cr 20
h5edit 'import h5py,sys; f=h5py.File(sys.argv[1],"r+"); f["params"][3] += 1.0' cr/ckpt-0000000020.h5
expect_rc 0 "newest checkpoint corrupt (its /params edited): the run resumes" mpi 2 posttrain $POST -run_dir cr
[ "$(grep -c 'warning' "$T_OUT")" = 1 ] && expect_out "^pof: warning: checkpoint cr/ckpt-0000000020.h5 failed verification \(checkpoint cr/ckpt-0000000020.h5 is corrupt: the data of /params do not match their checksum .*\): renamed to cr/ckpt-0000000020.h5.corrupt; resuming from cr/ckpt-0000000016.h5" "... one warning naming it, the reason and the checkpoint used" || { bad "warnings"; cat "$T_OUT"; }
[ -e cr/ckpt-0000000020.h5.corrupt ] && ok "... kept as ckpt-0000000020.h5.corrupt" || bad "no .corrupt file: $(ls cr)"
same ref/model.h5 cr/model.h5 "... and ends with the uninterrupted result"
rows_same ref/metrics.jsonl cr/metrics.jsonl "... with its rows"
mkdir none && cp ref/ckpt-0000000010.h5 ref/ckpt-0000000015.h5 none/
h5edit 'import h5py,sys; f=h5py.File(sys.argv[1],"r+"); f["momentum"][0] *= 2' none/ckpt-0000000010.h5
truncate -s 5000 none/ckpt-0000000015.h5
expect_rc 1 "no good checkpoint: refused" mpi 2 posttrain $POST -run_dir none
[ "$(grep -c '^pof: error:' "$T_OUT")" = 1 ] && expect_out "^pof: error: no usable checkpoint in none: all 2 failed verification .*\[checkpoint none/ckpt-0000000015.h5 is truncated or damaged.*\] \[checkpoint none/ckpt-0000000010.h5 is corrupt: the data of /momentum" "... one error listing both with their reasons" || { bad "error lines"; cat "$T_OUT"; }
[ "$(ls none | tr '\n' ' ')" = "ckpt-0000000010.h5 ckpt-0000000015.h5 " ] && ok "... nothing renamed" || bad "files now: $(ls none)"
resume_finish
