pof_shell_test(cli shell/test_cli.sh TIMEOUT 120 LABELS fast)
# README.md at most 400 lines; every relative link in README.md and docs/*.md resolves (no build needed)
add_test(NAME docs_links COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_doc_links.py ${CMAKE_SOURCE_DIR})
set_tests_properties(docs_links PROPERTIES TIMEOUT 30 LABELS "docs;fast")
