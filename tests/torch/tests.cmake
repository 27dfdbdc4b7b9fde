pof_unit_test(test_torch_fixture ${CMAKE_CURRENT_LIST_DIR}/test_torch_fixture.c LABELS fast)
set_tests_properties(test_torch_fixture PROPERTIES WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
