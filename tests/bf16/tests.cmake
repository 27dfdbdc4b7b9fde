pof_unit_test(test_bf16 ${CMAKE_CURRENT_LIST_DIR}/test_bf16.c TIMEOUT 120 LABELS fast)
