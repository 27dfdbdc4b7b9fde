# Double-precision reference layers and WRN (the test oracle for src/nn), and their own tests.
# Included first by tests/CMakeLists.txt so later test directories can link pofref.
add_library(pofref STATIC ${CMAKE_CURRENT_LIST_DIR}/ref_nn.c ${CMAKE_CURRENT_LIST_DIR}/ref_wrn.c)
target_include_directories(pofref PUBLIC ${CMAKE_SOURCE_DIR}/tests)
target_compile_options(pofref PRIVATE ${POF_COMPILE_OPTS})
target_link_options(pofref PUBLIC ${POF_LINK_OPTS})
target_link_libraries(pofref PUBLIC m)

add_executable(test_ref ${CMAKE_CURRENT_LIST_DIR}/test_ref.c)
target_compile_options(test_ref PRIVATE ${POF_COMPILE_OPTS} -Wno-missing-prototypes)
target_link_libraries(test_ref PRIVATE pofref PkgConfig::CMOCKA m)
add_test(NAME test_ref COMMAND test_ref)
set_tests_properties(test_ref PROPERTIES TIMEOUT 120 ENVIRONMENT "${POF_TEST_ENV}" LABELS "unit;fast")

# The reference WRN against an independent PyTorch model of the layout documented in include/pof/nn.h (float64).
add_executable(ref_wrn_dump ${CMAKE_CURRENT_LIST_DIR}/ref_wrn_dump.c)
target_compile_options(ref_wrn_dump PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(ref_wrn_dump PRIVATE pofref)
add_test(NAME ref_vs_torch COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_torch.py $<TARGET_FILE:ref_wrn_dump>)
set_tests_properties(ref_vs_torch PROPERTIES TIMEOUT 120 ENVIRONMENT "${POF_TEST_ENV}" LABELS "unit;fast")
