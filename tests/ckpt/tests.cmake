# Checkpoint tests: one driver program (ckpt_tool) run at 1, 2 and 4 ranks by shell scripts.
add_executable(ckpt_tool ${CMAKE_CURRENT_LIST_DIR}/ckpt_tool.c)
target_compile_options(ckpt_tool PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(ckpt_tool PRIVATE pofcore)
foreach(t roundtrip errors dirs)
  add_test(NAME ckpt_${t} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ckpt_${t}.sh $<TARGET_FILE:ckpt_tool> ${CMAKE_SOURCE_DIR})
  set_tests_properties(ckpt_${t} PROPERTIES TIMEOUT 300 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "mpi;ckpt")
endforeach()
# a few seconds: labelled fast, so the sanitizer build runs it too
add_test(NAME ckpt_quick COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ckpt_quick.sh $<TARGET_FILE:ckpt_tool> ${CMAKE_SOURCE_DIR})
set_tests_properties(ckpt_quick PROPERTIES TIMEOUT 120 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "mpi;ckpt;fast")
