pof_shell_test(peer_bench bench/test_peer_bench.sh TIMEOUT 120)
# bench/comm_bench: collectives' latency/bandwidth (the communication model); smoke-tested here
add_executable(comm_bench ${CMAKE_SOURCE_DIR}/bench/comm_bench.c)
target_link_libraries(comm_bench PRIVATE MPI::MPI_C)
pof_mpi_test(comm_bench_smoke comm_bench 2 -max 4096 -reps 2)
set_tests_properties(comm_bench_smoke PROPERTIES TIMEOUT 60 LABELS "mpi;fast" PASS_REGULAR_EXPRESSION "\"op\":\"ireduce_scatter\",\"ranks\":2,\"bytes\":2048")
# bench/comm_model.py: fit and projection on synthetic points of known latency and bandwidth
add_test(NAME comm_model COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_comm_model.py ${CMAKE_SOURCE_DIR})
set_tests_properties(comm_model PROPERTIES TIMEOUT 60 LABELS "fast")
# bench/peak_flops: the CPU's measured FMA / bf16 dot-product peak (bench/roofline.py); smoke-tested here
add_executable(peak_flops ${CMAKE_SOURCE_DIR}/bench/peak_flops.c)
target_compile_options(peak_flops PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(peak_flops PRIVATE pofcore OpenMP::OpenMP_C)
add_test(NAME peak_flops_smoke COMMAND peak_flops 0.02)
set_tests_properties(peak_flops_smoke PROPERTIES TIMEOUT 60 ENVIRONMENT "${POF_TEST_ENV}" LABELS "fast" PASS_REGULAR_EXPRESSION "\"kernel\":\"fp32_avx2\",\"supported\":true,\"threads\":[0-9]+,\"gflops\":[1-9]")
