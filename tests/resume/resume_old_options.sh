#!/bin/bash
# Checkpoints written before the option table (commit 2dd8780: options_json printed by hand, reals
# with %.17g) resume with the same command and no warning, since the options compare by type.
# tests/resume/old-options/ holds two checkpoints that commit wrote on a 128/64-image
# Fashion-MNIST subset (make_tiny.py), WRN-10-1 with base 4:
#   pre-ckpt-0000000004.h5:  pof pretrain $PRE -run_dir pre         (epoch 1 of 2)
#   post-ckpt-0000000008.h5: pof posttrain $POST -run_dir post      (epoch 1 of 2, from the above)
# A changed option still warns, naming old and new value (the check can fail). A run's config.json
# has the keys `pof config` prints (which the test options_table holds to the table).
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
workdir resume-old-options
F="$src/tests/resume/old-options"
FM=/usr/share/datasets/fashion-mnist
"$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz -convert_train_labels $FM/train-labels-idx1-ubyte.gz \
  -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output fm.h5 > convert.log 2>&1 \
  && "$src/tests/resume/make_tiny.py" fm.h5 tiny.h5 128 64 && rm -f fm.h5 || { bad "tiny dataset"; cat convert.log; exit 1; }
mkdir pre post post2
gunzip -c "$F/pre-ckpt-0000000004.h5.gz" > pre/ckpt-0000000004.h5
gunzip -c "$F/post-ckpt-0000000008.h5.gz" > post/ckpt-0000000008.h5
cp post/ckpt-0000000008.h5 post2/
PRE="-data_file tiny.h5 -model_depth 10 -model_width 1 -model_base 4 -opt_batch 32 -opt_lr 0.05 -opt_schedule cosine -run_epochs 2 -run_quiet -run_seed 3"
POST="-data_file tiny.h5 -model_in pre/ckpt-0000000004.h5 -opt_batch 32 -pof_gamma_max 1.5 -run_epochs 2 -run_quiet -run_seed 4"

# resumed_quietly KIND LOG STEP: resumed from the checkpoint, finished at STEP, no warning
resumed_quietly() {
  grep -q "^$1: resuming from " "$2" && ok "$1: resumed from the old checkpoint" || { bad "$1: no resume line"; cat "$2"; }
  grep -q "\"status\":\"finished\".*\"global_step\":$3," "$2" && ok "$1: finished at global step $3" || { bad "$1: not finished at step $3"; tail -3 "$2"; }
  grep -q "warning" "$2" && { bad "$1: a warning"; grep warning "$2"; } || ok "$1: no warning (the old options equal the new ones by type)"
}
expect_rc 0 "posttrain resumes an old checkpoint" "$pof" posttrain $POST -run_dir post
cp "$T_OUT" post.log; resumed_quietly posttrain post.log 12
expect_rc 0 "pretrain resumes an old checkpoint" "$pof" pretrain $PRE -run_dir pre
cp "$T_OUT" pre.log; resumed_quietly pretrain pre.log 8
# config.json of a run holds what `pof config` prints (whose keys the test options_table holds to the table)
for k in pre post; do
  cmd=$([ $k = pre ] && echo pretrain || echo posttrain); opts=$([ $k = pre ] && echo "$PRE" || echo "$POST")
  "$pof" config -config_command $cmd $opts -run_dir $k > $k.cfg 2>&1
  /usr/bin/python3 -c "import json,sys; a=json.load(open('$k/config.json')); b=json.loads(open('$k.cfg').read()); assert list(a)==list(b), set(a)^set(b)" \
    && ok "$k/config.json: the keys of pof config -config_command $cmd" || { bad "$k/config.json keys"; cat $k.cfg; }
done
expect_rc 0 "posttrain resumes an old checkpoint with another -pof_gamma_max" "$pof" posttrain $POST -pof_gamma_max 2 -run_dir post2
expect_out "posttrain: warning: resuming with 1 option\(s\) other than the checkpoint's: pof_gamma_max 1.5 -> 2; " "the changed option is named, old -> new"
finish
