add_executable(error_stop ${CMAKE_CURRENT_LIST_DIR}/error_stop.c)
target_compile_options(error_stop PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(error_stop PRIVATE pofcore)
add_test(NAME mpi_error_stop COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/error_stop.sh $<TARGET_FILE:error_stop>)
set_tests_properties(mpi_error_stop PROPERTIES TIMEOUT 240 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "mpi;fast")

add_executable(rank_equiv ${CMAKE_CURRENT_LIST_DIR}/rank_equiv.c)
target_compile_options(rank_equiv PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(rank_equiv PRIVATE pofcore)
add_test(NAME mpi_rank_equiv COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/rank_equiv.sh $<TARGET_FILE:rank_equiv> ${CMAKE_SOURCE_DIR})
set_tests_properties(mpi_rank_equiv PROPERTIES TIMEOUT 600 ENVIRONMENT "${POF_TEST_ENV};MPIEXEC=${MPIEXEC_EXECUTABLE}" LABELS "mpi")

# The recursive-halving gradient reduce-scatter (src/comm/rh.c) bitwise equal to libnbc's
# MPI_Ireduce_scatter at 2 and 4 ranks; declined at 3
add_executable(rh_equal ${CMAKE_CURRENT_LIST_DIR}/rh_equal.c)
target_include_directories(rh_equal PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(rh_equal PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(rh_equal PRIVATE pofcore)
foreach(np 2 3 4)
  pof_mpi_test(mpi_rh_equal_${np} rh_equal ${np})
  set_tests_properties(mpi_rh_equal_${np} PROPERTIES TIMEOUT 60 LABELS "mpi;fast" PASS_REGULAR_EXPRESSION "rh_equal: ok")
endforeach()
