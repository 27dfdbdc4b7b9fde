# Checkpoint/restart: the stop-signal flag, the stop agreement, and whole runs that are stopped
# (SIGUSR1 to mpiexec, kill -9) and resumed (tests/resume/*.sh on a 512-image subset, WRN-10-1).
pof_unit_test(test_signal ${CMAKE_CURRENT_LIST_DIR}/test_signal.c LABELS fast TIMEOUT 60)
add_executable(stop_agree ${CMAKE_CURRENT_LIST_DIR}/stop_agree.c)
target_compile_options(stop_agree PRIVATE ${POF_COMPILE_OPTS})
target_link_libraries(stop_agree PRIVATE pofcore)
foreach(np 2 4)
  add_test(NAME resume_stop_agree_${np} COMMAND ${POF_MPIEXEC} -n ${np} $<TARGET_FILE:stop_agree>)
  set_tests_properties(resume_stop_agree_${np} PROPERTIES TIMEOUT 60 ENVIRONMENT "${POF_TEST_ENV}" LABELS "mpi;resume;fast")
endforeach()
# about 30-130 s each on 2 idle cores (hang: a SIGSTOPped rank and -run_step_timeout 4, about
# 15 s); the timeout leaves room for a machine shared with other jobs
foreach(t signal kill ranks rows hang)
  pof_shell_test(resume_${t} resume/resume_${t}.sh TIMEOUT 600 LABELS "resume;mpi")
endforeach()
# checkpoints of the code before the option table resume without a warning (about 10 s)
pof_shell_test(resume_old_options resume/resume_old_options.sh TIMEOUT 300 LABELS "resume;fast")
