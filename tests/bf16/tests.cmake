pof_unit_test(test_bf16 ${CMAKE_CURRENT_LIST_DIR}/test_bf16.c TIMEOUT 120 LABELS fast)
pof_shell_test(bf16_train bf16/test_bf16_train.sh TIMEOUT 600 LABELS e2e)
# bench/comm_bench: collectives' latency/bandwidth (the communication model); smoke-tested here
add_executable(comm_bench ${CMAKE_SOURCE_DIR}/bench/comm_bench.c)
target_link_libraries(comm_bench PRIVATE MPI::MPI_C)
pof_mpi_test(comm_bench_smoke comm_bench 2 -max 4096 -reps 2)
set_tests_properties(comm_bench_smoke PROPERTIES TIMEOUT 60 LABELS "mpi;fast" PASS_REGULAR_EXPRESSION "\"op\":\"allreduce\",\"ranks\":2,\"bytes\":2048")
