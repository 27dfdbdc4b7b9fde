# The code's limits (no build needed): no function over 100 lines, no line over 100 columns in
# src/ and include/ (tests/style/check_style.py; clang-format with ColumnLimit 100 keeps the lines).
add_test(NAME style_limits COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_style.py ${CMAKE_SOURCE_DIR})
set_tests_properties(style_limits PROPERTIES TIMEOUT 60 LABELS "fast;style")
