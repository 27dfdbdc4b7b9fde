# The libFuzzer targets over their committed corpora plus a bounded number of new inputs
# (tests/fuzz/run_corpus.sh; about 8 s of fuzzing per target at most, two at a time). The test
# builds nothing: tests/run.sh builds the targets in build-fuzz first (tests/fuzz/build.sh; clang-14,
# -DPOF_FUZZ=ON). A missing target fails the test. Campaigns: tests/fuzz/campaign.sh.
set(POF_FUZZ_BUILD_DIR "${CMAKE_SOURCE_DIR}/build-fuzz" CACHE PATH
    "Build directory of the fuzz targets (tests/fuzz/build.sh) that the fuzz_corpus test runs")
add_test(NAME fuzz_corpus COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_corpus.sh ${POF_FUZZ_BUILD_DIR})
set_tests_properties(fuzz_corpus PROPERTIES TIMEOUT 150 ENVIRONMENT "${POF_TEST_ENV}" LABELS "fuzz")
