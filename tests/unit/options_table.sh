#!/bin/bash
# The option table (include/pof/options.def) against what users see: docs/options.md is the
# generator's output, each command's -help lists exactly its options, the keys of the JSON object
# of `pof config` (what config.json holds) are exactly the command's options, and no file under
# src/ but src/core/config.c calls PetscOptions* (nor PETSc's private PetscOptionsBegin_Private).
# usage: options_table.sh POF OPTIONS_DOC SRC
pof="$1"; doc="$2"; src="$3"
. "$src/tests/shell/lib.sh"
workdir options-table

"$doc" markdown > options.md && diff -u "$src/docs/options.md" options.md > md.diff \
  && ok "docs/options.md is generated from the table" \
  || { bad "docs/options.md differs from the table (regenerate: build/tests/options_doc markdown > docs/options.md)"; head -40 md.diff; }

# the option names in the "pof <command> options:" sections of PETSc's -help output (not those of
# PETSc's own sections such as "Viewer (-log_view) options:")
help_names() { awk '/^pof [a-z]+ options:$/ { on = 1; next } /^[^ ]/ { on = 0 } on' | grep -oE '^  -[a-z0-9_]+' | sed 's/^  //' | sort -u; }
extra_for() { case "$1" in posttrain|eval|analyze) echo "-data_file d.h5 -model_in m.h5" ;; pretrain) echo "-data_file d.h5" ;;
  convert) echo "-convert_format cifar10 -convert_input_dir d -convert_output o.h5" ;; esac; }
# each pof start is mostly MPI start-up latency: run them all at once, then check
all="convert pretrain posttrain eval bench analyze sweep config"; printed="convert pretrain posttrain eval bench"
for cmd in $all; do "$pof" "$cmd" -help > help.$cmd 2>&1; echo $? > help.$cmd.rc & done
for cmd in $printed; do
  "$pof" config -config_command "$cmd" -help > chelp.$cmd 2>&1 &
  "$pof" config -config_command "$cmd" $(extra_for "$cmd") > json.$cmd 2> err.$cmd; echo $? > json.$cmd.rc &
done
wait
for cmd in $all; do
  "$doc" names "$cmd" | sort > want.$cmd
  [ -s want.$cmd ] || bad "$cmd: the table gives it no option"
  [ "$(cat help.$cmd.rc)" = 0 ] || { bad "$cmd -help: exit status $(cat help.$cmd.rc)"; continue; }
  help_names < help.$cmd > got.$cmd
  if diff want.$cmd got.$cmd > /dev/null; then ok "$cmd -help lists its $(wc -l < want.$cmd) options"; else bad "$cmd -help differs from the table"; diff want.$cmd got.$cmd | head; fi
done
for cmd in $printed; do
  # config -help: the options of config and of the command
  sort -u want.config want.$cmd > cwant.$cmd
  help_names < chelp.$cmd > cgot.$cmd
  diff cwant.$cmd cgot.$cmd > /dev/null && ok "config -config_command $cmd -help lists config's and $cmd's options" || { bad "config -config_command $cmd -help"; diff cwant.$cmd cgot.$cmd | head; }
  # the JSON object (what a run writes to config.json): keys = the command's options without the dash, strict JSON
  [ "$(cat json.$cmd.rc)" = 0 ] || { bad "config -config_command $cmd"; cat err.$cmd; continue; }
  if /usr/bin/python3 - json.$cmd want.$cmd << 'PY'; then ok "config.json of $cmd: keys are its options"; else bad "config.json of $cmd"; fi
import json, sys
def strict(c): raise ValueError(f"not strict JSON: {c}")
obj = json.loads(open(sys.argv[1]).read(), parse_constant=strict)
want = [l.strip()[1:] for l in open(sys.argv[2])]
assert sorted(obj) == sorted(want), (sorted(set(obj) ^ set(want)))
PY
done

n=$(grep -rnE 'PetscOptions[A-Za-z_]*[[:space:]]*\(|PetscOptionsBegin_Private|PetscOptionsObject' "$src/src" "$src/include" | grep -v "^$src/src/core/config.c:" | tee calls.txt | wc -l)
[ "$n" -eq 0 ] && ok "no PetscOptions* call outside src/core/config.c" || { bad "$n PetscOptions* call(s) outside src/core/config.c"; cat calls.txt; }
grep -q "PetscOptionsBegin_Private" "$src/src/core/config.c" && bad "src/core/config.c calls PETSc's private PetscOptionsBegin_Private" || ok "PETSc's public options API only"
finish
