# Static analysis of all of src/: cppcheck and clang-tidy-14 (the checks of .clang-tidy) over the
# build's compile_commands.json, zero findings (check_static.py). clang-tidy runs 2 files at a
# time: PROCESSORS 2, so ctest -j2 runs it alone or beside nothing else that needs both cores.
add_test(NAME static_analysis
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_static.py ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(static_analysis PROPERTIES TIMEOUT 900 PROCESSORS 2 LABELS "static")
