#!/bin/bash
# The pof command line: --version, help, unknown commands/options, -options_file, PETSC_OPTIONS.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
workdir cli

expect_rc 0 "--version" "$pof" --version
for lib in oneDNN PETSc SLEPc HDF5 MPI; do expect_out "^  $lib +[0-9A-Za-z]" "--version names $lib"; done
expect_rc nonzero "no command" "$pof"
expect_out "usage: pof" "usage printed without a command"
expect_rc nonzero "unknown command" "$pof" frobnicate
expect_out "unknown command 'frobnicate'" "unknown command named"
expect_rc 0 "help" "$pof" -help
expect_rc 0 "config -help" "$pof" config -config_command posttrain -help
expect_out "-pof_gamma_max" "posttrain help lists -pof_gamma_max"
expect_out "-opt_batch" "posttrain help lists -opt_batch"
expect_rc nonzero "misspelled option" "$pof" config -config_command pretrain -data_file d.h5 -opt_bach 64
expect_out "unknown option -opt_bach: did you mean -opt_batch\\?" "misspelled option named, with the closest known name"
expect_rc nonzero "bad value" "$pof" config -config_command pretrain -data_file d.h5 -opt_batch 0
expect_out "-opt_batch must be positive, got 0" "bad value named"
expect_rc nonzero "bad number" "$pof" config -config_command pretrain -data_file d.h5 -opt_lr abc
printf -- "-opt_batch 96\n# comment\n-model_depth 22\n" > opts.txt
expect_rc 0 "-options_file" "$pof" config -config_command pretrain -data_file d.h5 -options_file opts.txt
expect_out '"opt_batch":96' "-options_file value used"
expect_out '"model_depth":22' "-options_file second value used"
PETSC_OPTIONS="-opt_lr 0.25" expect_rc 0 "PETSC_OPTIONS" "$pof" config -config_command pretrain -data_file d.h5
expect_out '"opt_lr":0.25' "PETSC_OPTIONS value used"
expect_rc 0 "PETSc's own options accepted" "$pof" config -config_command pretrain -data_file d.h5 -log_view
expect_rc nonzero "2 ranks: bad option stops both" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$pof" config -config_command pretrain -data_file d.h5 -opt_batch -1
[ "$(grep -c '^pof: error:' "$T_OUT")" = 1 ] && ok "2 ranks: one message" || bad "2 ranks: message count"
expect_rc nonzero "2 ranks: missing -options_file" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$pof" config -config_command pretrain -data_file d.h5 -options_file nope.opts
expect_out "^pof: error: -options_file nope.opts: No such file or directory" "missing options file named"
[ "$(grep -c 'error' "$T_OUT")" -le 2 ] && ok "missing options file: no PETSc page" || bad "missing options file: $(grep -c error "$T_OUT") error lines"
finish
