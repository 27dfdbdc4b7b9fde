# Datasets: converter round trips, the real Fashion-MNIST, the sampler at 1-4 ranks against a
# Python reference, augmentation unit tests, bad inputs. bench_loader is built, not run.
foreach(prog sampler_dump data_probe bench_loader)
  add_executable(${prog} ${CMAKE_CURRENT_LIST_DIR}/${prog}.c)
  target_compile_options(${prog} PRIVATE ${POF_COMPILE_OPTS})
  target_link_libraries(${prog} PRIVATE pofcore)
endforeach()

pof_unit_test(test_data_unit ${CMAKE_CURRENT_LIST_DIR}/test_data_unit.c LABELS fast)

# data_test(name script timeout labels): a shell test given pof, the source dir and the test programs.
function(pof_data_test name script timeout labels)
  add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script} $<TARGET_FILE:pof> ${CMAKE_SOURCE_DIR}
           $<TARGET_FILE:sampler_dump> $<TARGET_FILE:data_probe>)
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout}
    ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "data;${labels}")
endfunction()
pof_data_test(data_convert_roundtrip test_convert.sh 180 "shell;fast")
pof_data_test(data_bad_input test_bad_input.sh 300 "shell")
pof_data_test(data_sampler test_sampler.sh 400 "mpi")
pof_data_test(data_fashion_mnist test_fashion.sh 300 "shell")
