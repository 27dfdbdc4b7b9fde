pof_unit_test(test_bf16 ${CMAKE_CURRENT_LIST_DIR}/test_bf16.c TIMEOUT 120 LABELS fast)
pof_shell_test(bf16_train bf16/test_bf16_train.sh TIMEOUT 600 LABELS e2e)
