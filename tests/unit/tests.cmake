pof_unit_test(test_rng ${CMAKE_CURRENT_LIST_DIR}/test_rng.c LABELS fast)
pof_unit_test(test_config ${CMAKE_CURRENT_LIST_DIR}/test_config.c LABELS fast)
# The option table against docs/options.md, each command's -help, config.json's keys, and no
# PetscOptions* call outside src/core/config.c (options_doc prints the table; it regenerates docs/options.md).
add_executable(options_doc ${CMAKE_CURRENT_LIST_DIR}/options_doc.c)
target_compile_options(options_doc PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(options_doc PRIVATE pofcore)
add_test(NAME options_table COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/options_table.sh $<TARGET_FILE:pof> $<TARGET_FILE:options_doc> ${CMAKE_SOURCE_DIR})
set_tests_properties(options_table PROPERTIES TIMEOUT 120 ENVIRONMENT "${POF_TEST_ENV}" LABELS "fast")
pof_unit_test(test_json ${CMAKE_CURRENT_LIST_DIR}/test_json.c LABELS fast)
