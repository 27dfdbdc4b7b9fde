# The adversarial set of issue 29: every reader (IDX plain and gzip, CIFAR, SVHN, pof's HDF5
# dataset, model and checkpoint files) fed inputs made to break it (gen_inputs.py), each case one
# pof run that must fail with its own message, no sanitizer report, nothing left behind and its
# input unchanged (run_cases.sh). The cases run 4 at a time (PROCESSORS 2); labelled fast, so the
# ASan+UBSan build runs them too.
pof_shell_test(untrusted_inputs untrusted/run_cases.sh TIMEOUT 600 LABELS fast data ckpt)
set_tests_properties(untrusted_inputs PROPERTIES PROCESSORS 2)
