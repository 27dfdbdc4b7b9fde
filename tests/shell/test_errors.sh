#!/bin/bash
# pof's errors at 1 and 2 ranks (DESIGN.md "Exit statuses and error output"): an option value out
# of range, a missing input file, a file of the wrong kind, a model that does not fit the data,
# an unknown command, a mistyped option (named first, with the closest known name), an option of
# another command: exactly one "pof: error:" line naming the problem, no source location,
# exit status 1 through MPI_Finalize (no MPI_ABORT banner), and the last stdout line is the JSON
# object {"command":..,"status":"error","message":..}.
# pof's ranks leave through MPI_Finalize even on an error; mpiexec then still waits its SIGTERM->SIGKILL
# grace (odls_base_sigkill_timeout, 1 s) before reporting the non-zero exit: not needed here
export OMPI_MCA_odls_base_sigkill_timeout=0
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
workdir errors
FM=/usr/share/datasets/fashion-mnist
"$pof" convert -convert_format idx -convert_train_images $FM/t10k-images-idx3-ubyte.gz -convert_train_labels $FM/t10k-labels-idx1-ubyte.gz \
  -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output d.h5 > /dev/null || bad "convert"
case_() { # N DESC PATTERN CMD... : the contract for one error
  local n="$1" desc="$2" pat="$3"; shift 3
  timeout 60 "$MPIEXEC" --oversubscribe -n "$n" "$pof" "$@" > out.txt 2> err.txt
  local rc=$? last; last=$(tail -1 out.txt)
  if [ $rc -eq 1 ] && [ "$(grep -c '^pof: error:' err.txt)" = 1 ] && grep -qE "^pof: error: $pat" err.txt \
     && ! grep -q "MPI_ABORT was invoked" err.txt && ! grep -qE "\.c:[0-9]+" err.txt \
     && /usr/bin/python3 -c 'import json,sys; o=json.loads(sys.argv[1]); assert o["status"]=="error" and o["message"]' "$last" 2> /dev/null; then
    ok "n=$n $desc: $(grep '^pof: error:' err.txt | cut -c1-120)"
  else bad "n=$n $desc: rc=$rc"; cat err.txt; tail -2 out.txt; fi
}
for n in 1 2; do
  case_ $n "option out of range" "-opt_batch must be positive, got -3" pretrain -data_file d.h5 -opt_batch -3 -run_dir r
  case_ $n "missing data file" "cannot read dataset file 'nothere.h5'" pretrain -data_file nothere.h5 -run_dir r
  case_ $n "missing data file, name not UTF-8" "cannot read dataset file 'no" pretrain -data_file $'no\xe9.h5' -run_dir r
  case_ $n "a dataset as model" "d.h5 is not a pof model or checkpoint .*dataset written by pof convert" eval -data_file d.h5 -model_in d.h5
  case_ $n "unknown command" "unknown command 'pretrian'" pretrian -data_file d.h5
  case_ $n "mistyped option, before any other error" "unknown option -opt_lrr: did you mean -opt_lr\\?" pretrain -data_file nothere.h5 -opt_batch -3 -opt_lrr 0.1 -run_dir r
  case_ $n "an option of another command" "-pof_gamma_max is not an option of this command \\(it is one of: posttrain" eval -data_file d.h5 -model_in d.h5 -pof_gamma_max 1
done
finish
