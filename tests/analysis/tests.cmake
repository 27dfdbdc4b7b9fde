# analysis/ scripts (issue 10): plots and tables on generated inputs, PyTorch import/export.
# CPU time: analysis_scripts ~4 s (scripts run in one process), analysis_torch_io ~22 s (real pof runs);
# wall time measured 73 s and 374 s at load average ~10 on 2 cores, hence the generous timeouts.
add_executable(pof_logits ${CMAKE_CURRENT_LIST_DIR}/pof_logits.c)
target_compile_options(pof_logits PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(pof_logits PRIVATE pofcore)
add_test(NAME analysis_scripts COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_scripts.py ${CMAKE_SOURCE_DIR})
set_tests_properties(analysis_scripts PROPERTIES TIMEOUT 600 ENVIRONMENT "${POF_TEST_ENV}" LABELS "analysis")
add_test(NAME analysis_torch_io COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_torch_io.py $<TARGET_FILE:pof> $<TARGET_FILE:pof_logits> ${CMAKE_SOURCE_DIR})
set_tests_properties(analysis_torch_io PROPERTIES TIMEOUT 600 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "analysis;shell")
