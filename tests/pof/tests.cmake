pof_unit_test(test_pof_range ${CMAKE_CURRENT_LIST_DIR}/test_pof_range.c LABELS fast)
