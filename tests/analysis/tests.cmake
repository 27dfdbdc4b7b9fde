# analysis/ scripts (issue 10): plots and tables on generated inputs, PyTorch import/export.
# Quiet machine: analysis_scripts ~45 s wall (16 s CPU), analysis_torch_io ~50-65 s (22 s CPU); the generous
# timeouts are for a machine shared with long runs (measured 288 s and 374 s at load average 10).
add_executable(pof_logits ${CMAKE_CURRENT_LIST_DIR}/pof_logits.c)
target_compile_options(pof_logits PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(pof_logits PRIVATE pofcore)
add_test(NAME analysis_scripts COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_scripts.py ${CMAKE_SOURCE_DIR})
set_tests_properties(analysis_scripts PROPERTIES TIMEOUT 600 ENVIRONMENT "${POF_TEST_ENV}" LABELS "analysis")
add_test(NAME analysis_torch_io COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_torch_io.py $<TARGET_FILE:pof> $<TARGET_FILE:pof_logits> ${CMAKE_SOURCE_DIR})
set_tests_properties(analysis_torch_io PROPERTIES TIMEOUT 600 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "analysis;shell")
