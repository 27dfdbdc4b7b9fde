# pof sweep: group split / counter / image broadcast (MPI, fast) and end-to-end sweeps (shell).
add_executable(sweep_group ${CMAKE_CURRENT_LIST_DIR}/test_group.c)
target_compile_options(sweep_group PRIVATE ${POF_COMPILE_OPTS} -Wno-missing-prototypes)
target_link_libraries(sweep_group PRIVATE pofcore)
add_test(NAME sweep_group COMMAND ${POF_MPIEXEC} -n 4 $<TARGET_FILE:sweep_group>)
set_tests_properties(sweep_group PROPERTIES TIMEOUT 60 ENVIRONMENT "${POF_TEST_ENV}" LABELS "mpi;sweep;fast")
# The transports of ranks on different nodes: TCP, and only the one-sided components that work
# there (osc/pt2pt, osc/rdma; not osc/sm). At MPI_THREAD_MULTIPLE no window can be made then
# (MPI_ERR_WIN before the counter's server thread); at MPI_THREAD_FUNNELED the window fallback works.
add_test(NAME sweep_group_tcp COMMAND ${POF_MPIEXEC} -n 4 --mca btl self,tcp --mca osc pt2pt,rdma
         $<TARGET_FILE:sweep_group>)
add_test(NAME sweep_group_window COMMAND ${POF_MPIEXEC} -n 4 --mca btl self,tcp --mca osc pt2pt
         $<TARGET_FILE:sweep_group> funneled)
set_tests_properties(sweep_group_tcp sweep_group_window PROPERTIES TIMEOUT 60
                     ENVIRONMENT "${POF_TEST_ENV}" LABELS "mpi;sweep;fast")
pof_shell_test(sweep_equiv sweep/test_sweep_equiv.sh TIMEOUT 300 LABELS sweep)
pof_shell_test(sweep_restart sweep/test_sweep_restart.sh TIMEOUT 300 LABELS sweep)
