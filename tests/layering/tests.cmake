# The layering of src/ on the build's archives and the pof executable's objects (nm -u).
add_test(NAME layering COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_layers.py ${CMAKE_BINARY_DIR})
set_tests_properties(layering PROPERTIES TIMEOUT 60 LABELS "fast;layering")
