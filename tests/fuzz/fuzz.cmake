# libFuzzer targets, one per reader (configured with -DPOF_FUZZ=ON and clang; see docs/testing.md,
# "Fuzzing"). `cmake --build <dir> --target pof_fuzzers` builds them and only the libraries they
# need (core, comm, io; nn for the model target), not pof itself.
set(POF_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
add_library(pof_fuzz_common STATIC ${POF_FUZZ_DIR}/common.c)
target_compile_options(pof_fuzz_common PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(pof_fuzz_common PUBLIC pof_io pof_comm pof_core PkgConfig::HDF5P ZLIB::ZLIB
                      PkgConfig::JANSSON OpenMP::OpenMP_C)
# The structure-aware mutator of the HDF5 targets, an OBJECT library: from a static archive its
# object was never linked (libFuzzer refers to LLVMFuzzerCustomMutator weakly). No coverage
# counters of its own (its branches are not the reader's), ASan and UBSan still on.
add_library(pof_fuzz_h5mut OBJECT ${POF_FUZZ_DIR}/h5mutator.c)
target_compile_options(pof_fuzz_h5mut PRIVATE ${POF_COMPILE_OPTS} -fno-sanitize=fuzzer-no-link)
target_link_libraries(pof_fuzz_h5mut PUBLIC pof_fuzz_common)

add_custom_target(pof_fuzzers)
function(pof_fuzzer name)
  add_executable(fuzz_${name} ${POF_FUZZ_DIR}/fuzz_${name}.c)
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(fuzz_${name} PRIVATE ${POF_COMPILE_OPTS})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_${name} PRIVATE ${ARGN} pof_fuzz_common)
  add_dependencies(pof_fuzzers fuzz_${name})
endfunction()
pof_fuzzer(idx)
pof_fuzzer(idx_gz)
pof_fuzzer(cifar)
pof_fuzzer(svhn)
pof_fuzzer(dataset pof_fuzz_h5mut)
pof_fuzzer(model pof_fuzz_h5mut pof_nn DNNL::dnnl OpenMP::OpenMP_C)
pof_fuzzer(ckpt pof_fuzz_h5mut)
pof_fuzzer(json)
target_sources(fuzz_json PRIVATE ${CMAKE_SOURCE_DIR}/src/train/rows.c)
pof_fuzzer(info pof_fuzz_h5mut)
target_sources(fuzz_info PRIVATE ${CMAKE_SOURCE_DIR}/src/app/cmd_info.c)
