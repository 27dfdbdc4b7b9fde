pof_unit_test(test_nn ${CMAKE_CURRENT_LIST_DIR}/test_nn.c TIMEOUT 300 LABELS fast)
target_link_libraries(test_nn PRIVATE pofref)
