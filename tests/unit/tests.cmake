pof_unit_test(test_rng ${CMAKE_CURRENT_LIST_DIR}/test_rng.c LABELS fast)
pof_unit_test(test_config ${CMAKE_CURRENT_LIST_DIR}/test_config.c LABELS fast)
pof_unit_test(test_json ${CMAKE_CURRENT_LIST_DIR}/test_json.c LABELS fast)
