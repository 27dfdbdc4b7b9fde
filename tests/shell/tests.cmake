pof_shell_test(cli shell/test_cli.sh TIMEOUT 120 LABELS fast)
# README.md at most 400 lines; every relative link in README.md and docs/*.md resolves (no build needed)
add_test(NAME docs_links COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_doc_links.py ${CMAKE_SOURCE_DIR})
set_tests_properties(docs_links PROPERTIES TIMEOUT 30 LABELS "docs;fast")
pof_shell_test(cli_errors shell/test_errors.sh TIMEOUT 180 LABELS mpi)
# issue 31 (what a user sees): progress lines and progress.json, the global step log, -pof_gamma_max 0
# against the SGD control, /tensors loaded by PyTorch (WRN-10-1, 16-2, 28-10) and pof info
add_test(NAME ux_features COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_ux.py $<TARGET_FILE:pof> $<TARGET_FILE:pof_logits> ${CMAKE_SOURCE_DIR})
set_tests_properties(ux_features PROPERTIES TIMEOUT 300 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "shell;mpi")
# nodes that disagree (issue 32): rank 1 in a mount namespace of its own sees another dataset or
# run directory at the same path; about 10 s
pof_shell_test(nodes_disagree shell/test_disagree.sh TIMEOUT 180 LABELS mpi)
