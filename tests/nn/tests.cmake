pof_unit_test(test_nn ${CMAKE_CURRENT_LIST_DIR}/test_nn.c TIMEOUT 300 LABELS fast)
target_link_libraries(test_nn PRIVATE pofref)
# The same checks with oneDNN held to AVX2 (CPUs without AVX-512: nChw8c activations, jit:avx2).
add_test(NAME test_nn_avx2 COMMAND test_nn)
set_tests_properties(test_nn_avx2 PROPERTIES TIMEOUT 300 ENVIRONMENT "${POF_TEST_ENV};ONEDNN_MAX_CPU_ISA=AVX2" LABELS "unit;fast")
# pof's own code matches POF_ARCH (the sanitizer build uses x86-64-v3: no AVX-512 instruction).
add_test(NAME arch_check COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_arch.sh ${CMAKE_C_COMPILER} "${POF_ARCH}" $<TARGET_FILE:pof_nn>)
set_tests_properties(arch_check PROPERTIES TIMEOUT 60 LABELS "unit;fast")
