# pof analyze: numerical core at 1 and 2 ranks (fast), and the command end to end.
pof_unit_test(test_analysis ${CMAKE_CURRENT_LIST_DIR}/test_analysis.c TIMEOUT 240 LABELS fast)
target_link_libraries(test_analysis PRIVATE lapack)
pof_mpi_test(analysis_2ranks test_analysis 2)
set_tests_properties(analysis_2ranks PROPERTIES TIMEOUT 300)
pof_shell_test(analyze_cmd analyze/test_analyze_cmd.sh TIMEOUT 600)
