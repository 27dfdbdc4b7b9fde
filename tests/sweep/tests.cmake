# pof sweep: group split / counter / image broadcast (MPI, fast) and end-to-end sweeps (shell).
add_executable(sweep_group ${CMAKE_CURRENT_LIST_DIR}/test_group.c)
target_compile_options(sweep_group PRIVATE ${POF_COMPILE_OPTS} -Wno-missing-prototypes)
target_link_libraries(sweep_group PRIVATE pofcore)
add_test(NAME sweep_group COMMAND ${POF_MPIEXEC} -n 4 $<TARGET_FILE:sweep_group>)
set_tests_properties(sweep_group PROPERTIES TIMEOUT 60 ENVIRONMENT "${POF_TEST_ENV}" LABELS "mpi;sweep;fast")
pof_shell_test(sweep_equiv sweep/test_sweep_equiv.sh TIMEOUT 300 LABELS sweep)
pof_shell_test(sweep_restart sweep/test_sweep_restart.sh TIMEOUT 300 LABELS sweep)
