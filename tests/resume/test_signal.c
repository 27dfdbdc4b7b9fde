/* The stop-signal flag (include/pof/signal.h): SIGUSR1 and SIGTERM delivered with kill() set it
   (and do not terminate the process, although PETSc installed its own handlers first), the first
   signal wins, reset clears it, the POF_TEST_RAISE hook fires at exactly its step (step:N:WAIT
   holds there until a signal from another thread arrives), and an ill-formed POF_TEST_RAISE is an
   error naming it. */
#include "pof/signal.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static void test_flag(void **state)
{
  (void)state;
  unsetenv("POF_TEST_RAISE");
  assert_int_equal(pof_signal_install(), 0);
  assert_int_equal(pof_signal_install(), 0); /* idempotent */
  pof_signal_reset();
  assert_int_equal(pof_signal_caught(), 0);
  assert_int_equal(kill(getpid(), SIGUSR1),
                   0); /* delivered before kill() returns (own process, unblocked) */
  assert_int_equal(pof_signal_caught(), SIGUSR1);
  assert_int_equal(kill(getpid(), SIGTERM), 0);
  assert_int_equal(pof_signal_caught(), SIGUSR1); /* the first one wins */
  assert_string_equal(pof_signal_name(pof_signal_caught()), "SIGUSR1");
  pof_signal_reset();
  assert_int_equal(pof_signal_caught(), 0);
  assert_int_equal(kill(getpid(), SIGTERM), 0);
  assert_int_equal(pof_signal_caught(), SIGTERM);
  assert_string_equal(pof_signal_name(SIGTERM), "SIGTERM");
  pof_signal_reset();
}

static void test_hook(void **state)
{
  (void)state;
  setenv("POF_TEST_RAISE", "step:7", 1);
  assert_int_equal(pof_signal_install(), 0);
  pof_signal_reset();
  pof_signal_test_hook(6);
  assert_int_equal(pof_signal_caught(), 0);
  pof_signal_test_hook(7);
  assert_int_equal(pof_signal_caught(), SIGUSR1);
  pof_signal_reset();
  setenv("POF_TEST_RAISE", "step:3:TERM", 1);
  assert_int_equal(pof_signal_install(), 0);
  pof_signal_test_hook(7);
  assert_int_equal(pof_signal_caught(), 0);
  pof_signal_test_hook(3);
  assert_int_equal(pof_signal_caught(), SIGTERM);
  pof_signal_reset();
}

static void *signal_later(void *arg)
{
  struct timespec ts = { 0, 200000000 };
  (void)arg;
  nanosleep(&ts, NULL);
  kill(getpid(), SIGUSR1);
  return NULL;
}

/* step:N:WAIT raises nothing and holds at step N until a signal arrives from elsewhere */
static void test_hook_wait(void **state)
{
  pthread_t       th;
  struct timespec t0, t1;
  (void)state;
  setenv("POF_TEST_RAISE", "step:4:WAIT", 1);
  assert_int_equal(pof_signal_install(), 0);
  pof_signal_reset();
  pof_signal_test_hook(3);
  assert_int_equal(pof_signal_caught(), 0);
  assert_int_equal(pthread_create(&th, NULL, signal_later, NULL), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pof_signal_test_hook(4);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(pthread_join(th, NULL), 0);
  double waited = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  assert_true(waited > 0.15 && waited < 30);
  assert_int_equal(pof_signal_caught(), SIGUSR1);
  pof_signal_reset();
  unsetenv("POF_TEST_RAISE");
  assert_int_equal(pof_signal_install(), 0);
}

static void test_bad_env(void **state)
{
  (void)state;
  const char *bad[] = { "7",           "step:",        "step:x",  "step:-1",
                        "step:3:KILL", "step:3:WAITX", "step:3x", "steps:3" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setenv("POF_TEST_RAISE", bad[i], 1);
    assert_int_not_equal(pof_signal_install(), 0);
  }
  unsetenv("POF_TEST_RAISE");
  assert_int_equal(pof_signal_install(), 0);
}

static int setup(void **state)
{
  (void)state;
  if (PetscInitializeNoArguments()) return 1;
  return PetscPushErrorHandler(PetscReturnErrorHandler, NULL) ? 1 : 0;
}
static int teardown(void **state)
{
  (void)state;
  return PetscFinalize() ? 1 : 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_flag),
    cmocka_unit_test(test_hook),
    cmocka_unit_test(test_hook_wait),
    cmocka_unit_test(test_bad_env),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
