/* Options: defaults, every validation error, unknown options, -options_file, per-run objects. */
#include "pof/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* the files posttrain, eval and analyze need, so that only the option under test can fail */
#define FILES "-data_file d.h5 -model_in m.h5 "

/* Parse `line` as command `cmd` in a fresh options object; return the error code. */
static PetscErrorCode parse(const char *cmd, const char *line, PofConfig *cfg)
{
  PetscOptions   opts;
  PetscErrorCode ierr;
  if (PetscOptionsCreate(&opts)) return 1;
  if (PetscOptionsInsertString(opts, line)) return 1;
  ierr = pof_config_read(opts, PETSC_COMM_SELF, pof_command_id(cmd), cfg, NULL);
  PetscOptionsDestroy(&opts);
  return ierr;
}

static void test_defaults(void **state)
{
  (void)state;
  PofConfig c;
  assert_int_equal(parse("bench", "", &c), 0);
  assert_int_equal(c.model.depth, 16);
  assert_int_equal(c.model.width, 4);
  assert_int_equal(c.opt.batch, 128);
  assert_true(c.opt.nesterov);
  assert_true(fabs(c.opt.lr - 0.1) < 1e-15);
  assert_true(fabs(c.opt.wd - 5e-4) < 1e-15);
  assert_int_equal(c.pof.mode, POF_MODE_GLOBAL);
  assert_true(fabs(c.pof.gamma_max - 2.0) < 1e-15);
  assert_int_equal(c.pof.partitions, 16);
  assert_true(fabs(c.pof.eta_init - 1.0) < 1e-15 && fabs(c.pof.eta_cap - 128.0) < 1e-15);
  assert_int_equal(c.bench.in_c, 1);
  assert_int_equal(c.bench.in_h, 28);
  assert_int_equal(c.opt.nmilestones, 4);
  assert_int_equal(c.run.precision, POF_PREC_FP32);
}

static void test_values_read(void **state)
{
  (void)state;
  PofConfig c;
  assert_int_equal(parse("bench",
                         "-model_depth 28 -model_width 10 -opt_batch 32 -bench_input 3x32x32 "
                         "-pof_mode local -precision bf16 -opt_milestones 3,7 -bench_step pof",
                         &c),
                   0);
  assert_int_equal(c.model.depth, 28);
  assert_int_equal(c.model.width, 10);
  assert_int_equal(c.opt.batch, 32);
  assert_int_equal(c.bench.in_c, 3);
  assert_int_equal(c.bench.in_h, 32);
  assert_int_equal(c.bench.in_w, 32);
  assert_int_equal(c.pof.mode, POF_MODE_LOCAL);
  assert_int_equal(c.run.precision, POF_PREC_BF16);
  assert_int_equal(c.bench.step, POF_BENCH_POF);
  assert_int_equal(c.opt.nmilestones, 2);
  assert_int_equal(c.opt.milestones[1], 7);
}

static void test_validation_errors(void **state)
{
  (void)state;
  static const char *const bad[] = {
    "-model_depth 15",
    "-model_depth 4",
    "-model_width 0",
    "-model_base 0",
    "-model_classes -1",
    "-opt_batch 0",
    "-opt_lr -1",
    "-opt_momentum 1",
    "-opt_wd -0.1",
    "-opt_sam_rho 0",
    "-opt_factor 0",
    "-opt_warmup -1",
    "-opt_milestones 5,3",
    "-opt_milestones 0",
    "-opt_momentum 0 -opt_nesterov 1",
    "-pof_gamma_max -0.5",
    "-pof_partitions 0",
    "-pof_eta_init 0",
    "-pof_eta_cap 0.5",
    "-pof_weak_batch -1",
    "-pof_mode sideways",
    "-precision fp16",
    "-bench_steps 0",
    "-bench_warmup -1",
    "-bench_input 1x28",
    "-bench_input 0x28x28",
    "-bench_input axbxc",
    "-bench_step backward",
    "-ckpt_keep 0",
    "-ckpt_every_steps -1",
    "-run_seed -2",
    "-run_epochs -1",
    "-data_crop_pad -1",
    "-data_cutout -3",
    "-data_train_subset -5",
    "-eval_split valid",
    "-eval_batch 0",
    "-opt_batch 12x",
    "-model_width 65",
    "-pof_gamma_max 101",
    "-opt_lr inf",
    "-analyze_top_k 101",
    "-analyze_split valid",
    "-analyze_hutchinson 8388608",
    "-analyze_range2 0",
  };
  PofConfig c;
  assert_int_equal(parse("posttrain", FILES, &c), 0); /* the files alone pass */
  assert_int_equal(parse("analyze", FILES, &c), 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    /* bench options through bench, analyze options through analyze, the rest through posttrain */
    char        line[256];
    const char *cmd = strstr(bad[i], "-bench_")     ? "bench"
                      : strstr(bad[i], "-analyze_") ? "analyze"
                                                    : "posttrain";
    snprintf(line, sizeof line, "%s%s", strcmp(cmd, "bench") ? FILES : "", bad[i]);
    const PetscErrorCode ierr = parse(cmd, line, &c);
    if (!ierr) fail_msg("options '%s' were accepted by %s", bad[i], cmd);
  }
}

static void test_required_files(void **state)
{
  (void)state;
  PofConfig c;
  assert_int_not_equal(parse("pretrain", "", &c), 0);
  assert_int_equal(parse("pretrain", "-data_file d.h5", &c), 0);
  assert_int_not_equal(parse("posttrain", "-data_file d.h5", &c), 0);
  assert_int_not_equal(parse("convert", "-convert_format idx -convert_output o.h5", &c), 0);
  assert_int_not_equal(parse("convert", "-convert_format cifar10 -convert_output o.h5", &c), 0);
  assert_int_equal(
      parse("convert", "-convert_format cifar10 -convert_input_dir d -convert_output o.h5", &c), 0);
}

static void test_unknown_option_rejected(void **state)
{
  (void)state;
  PofConfig c;
  assert_int_not_equal(parse("bench", "-opt_bach 64", &c), 0);
  assert_int_not_equal(parse("bench", "-lr 0.1", &c), 0);
  /* an option of another group is unknown to a command that does not read it */
  assert_int_not_equal(
      parse("convert",
            "-convert_format cifar10 -convert_input_dir d -convert_output o.h5 -opt_batch 4", &c),
      0);
  /* PETSc's own run-time options are accepted */
  assert_int_equal(parse("bench", "-log_view -malloc_debug", &c), 0);
}

static void test_options_file(void **state)
{
  (void)state;
  char         path[] = "/tmp/pof-test-opts-XXXXXX";
  const int    fd     = mkstemp(path);
  PetscOptions opts;
  PofConfig    c;
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "# a comment\n-model_depth 22\n-opt_lr 0.05\n-pof_gamma_max 1.5\n");
  fclose(f);
  assert_int_equal(PetscOptionsCreate(&opts), 0);
  assert_int_equal(PetscOptionsInsertFile(PETSC_COMM_SELF, opts, path, PETSC_TRUE), 0);
  assert_int_equal(PetscOptionsInsertString(opts, "-opt_batch 64"), 0);
  assert_int_equal(pof_config_read(opts, PETSC_COMM_SELF, POF_CMD_BENCH, &c, NULL), 0);
  assert_int_equal(c.model.depth, 22);
  assert_int_equal(c.opt.batch, 64);
  assert_true(fabs(c.opt.lr - 0.05) < 1e-15);
  assert_true(fabs(c.pof.gamma_max - 1.5) < 1e-15);
  PetscOptionsDestroy(&opts);
  remove(path);
}

/* Two option objects in one process do not leak into each other (pof sweep relies on it). */
static void test_independent_objects(void **state)
{
  (void)state;
  PofConfig a, b;
  assert_int_equal(parse("bench", "-pof_gamma_max 3", &a), 0);
  assert_int_equal(parse("bench", "-opt_lr 0.01", &b), 0);
  assert_true(fabs(a.pof.gamma_max - 3) < 1e-15 && fabs(a.opt.lr - 0.1) < 1e-15);
  assert_true(fabs(b.pof.gamma_max - 2) < 1e-15 && fabs(b.opt.lr - 0.01) < 1e-15);
}

static void test_json(void **state)
{
  (void)state;
  PofConfig c;
  char     *buf = NULL;
  size_t    len = 0;
  assert_int_equal(parse("bench", "-run_dir a\"b", &c), 0);
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(pof_config_write_json(&c, f), 0);
  fclose(f);
  assert_non_null(strstr(buf, "\"run_dir\":\"a\\\"b\""));
  assert_non_null(strstr(buf, "\"opt_milestones\":[60,120,160,200]"));
  assert_int_equal(buf[0], '{');
  assert_int_equal(buf[len - 1], '}');
  free(buf);
}

static char *to_json(const char *line)
{
  PofConfig c;
  char     *buf = NULL;
  size_t    len = 0;
  assert_int_equal(parse("bench", line, &c), 0);
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(pof_config_write_json(&c, f), 0);
  fclose(f);
  return buf;
}

/* The differences a resumed run reports: changed values, ignored keys, strings and arrays. */
static void test_json_diff(void **state)
{
  (void)state;
  char *a = to_json("-run_dir x -pof_gamma_max 2 -run_epochs 3"),
       *b = to_json("-run_dir x -pof_gamma_max 1.5 -run_epochs 5 -opt_milestones 2,4");
  char              buf[512], small[40];
  const char *const ign[] = { "run_epochs", NULL };
  assert_int_equal(pof_config_json_diff(a, a, NULL, buf, sizeof buf), 0);
  assert_string_equal(buf, "");
  assert_int_equal(pof_config_json_diff(a, b, ign, buf, sizeof buf), 2);
  assert_string_equal(buf, "opt_milestones [60,120,160,200] -> [2,4], pof_gamma_max 2 -> 1.5");
  assert_int_equal(pof_config_json_diff(a, b, NULL, buf, sizeof buf), 3);
  assert_non_null(strstr(buf, "run_epochs 3 -> 5"));
  /* a quote, comma and bracket inside a string value stay inside that value */
  assert_int_equal(pof_config_json_diff("{\"d\":\"a\\\",b]\",\"n\":1}", "{\"d\":\"a\",\"n\":1}",
                                        NULL, buf, sizeof buf),
                   1);
  assert_string_equal(buf, "d \"a\\\",b]\" -> \"a\"");
  /* keys present on one side only, and truncation */
  assert_int_equal(pof_config_json_diff("{\"k\":1,\"gone\":true}", "{\"k\":1,\"new\":\"v\"}", NULL,
                                        buf, sizeof buf),
                   2);
  assert_string_equal(buf, "new (none) -> \"v\", gone true -> (none)");
  assert_int_equal(pof_config_json_diff(a, b, NULL, small, sizeof small), 3);
  assert_true(strlen(small) < sizeof small && strstr(small, "..."));
  /* not a flat object of this shape */
  assert_int_equal(pof_config_json_diff("{\"k\":1", a, NULL, buf, sizeof buf), -1);
  assert_int_equal(pof_config_json_diff(a, "[1]", NULL, buf, sizeof buf), -1);
  free(a);
  free(b);
}

/* Checkpoints record the options as text: values compare by type, so a writer that prints the
   same numbers differently (0.1 with 17 digits, 2 as 2.0) is no change; a RESOLVED option's 0. */
static void test_json_diff_typed(void **state)
{
  (void)state;
  char buf[512];
  assert_int_equal(
      pof_config_json_diff(
          "{\"opt_lr\":0.1,\"pof_gamma_max\":2,\"opt_milestones\":[60,120]}",
          "{\"opt_lr\":0.10000000000000001,\"pof_gamma_max\":2.0,\"opt_milestones\":[60.0,120]}",
          NULL, buf, sizeof buf),
      0);
  assert_int_equal(pof_config_json_diff("{\"opt_lr\":0.1}", "{\"opt_lr\":0.1000000000000001}", NULL,
                                        buf, sizeof buf),
                   1);
  assert_string_equal(buf, "opt_lr 0.1 -> 0.1000000000000001");
  assert_int_equal(pof_config_json_diff("{\"model_classes\":0}", "{\"model_classes\":10}", NULL,
                                        buf, sizeof buf),
                   0);
  assert_int_equal(pof_config_json_diff("{\"model_classes\":10}", "{\"model_classes\":20}", NULL,
                                        buf, sizeof buf),
                   1);
  assert_int_equal(
      pof_config_json_diff("{\"model_depth\":0}", "{\"model_depth\":10}", NULL, buf, sizeof buf),
      1);
  assert_int_equal(pof_config_json_diff("{\"opt_kind\":\"sgd\"}", "{\"opt_kind\":\"sam\"}", NULL,
                                        buf, sizeof buf),
                   1);
  assert_string_equal(buf, "opt_kind \"sgd\" -> \"sam\"");
  /* the keys a resume may change come from the table */
  const char *const *free_keys = pof_config_resume_free_keys();
  int                n = 0, run_dir = 0, opt_lr = 0;
  for (; free_keys[n]; n++)
    run_dir |= !strcmp(free_keys[n], "run_dir"), opt_lr |= !strcmp(free_keys[n], "opt_lr");
  assert_int_equal(n, 13); /* -run_signal_lead, -run_progress and -run_step_timeout among them */
  assert_true(run_dir && !opt_lr);
  /* a config written by this version against itself, by every key */
  PofConfig c;
  char     *json = NULL;
  assert_int_equal(parse("posttrain", FILES "-opt_lr 0.3 -opt_milestones 3,5", &c), 0);
  assert_int_equal(pof_config_json(&c, &json), 0);
  assert_int_equal(pof_config_json_diff(json, json, NULL, buf, sizeof buf), 0);
  free(json);
}

/* A string option longer than its buffer is an error, not a silently cut path. */
static void test_long_strings(void **state)
{
  (void)state;
  PofConfig c;
  char      line[POF_PATH_MAX + 64];
  int       n = snprintf(line, sizeof line, "-run_dir ");
  for (int i = 0; i < POF_PATH_MAX - 2; i++) line[n++] = 'd';
  line[n] = '\0';
  assert_int_equal(parse("bench", line, &c), 0); /* the longest that fits */
  assert_int_equal(strlen(c.run.dir), POF_PATH_MAX - 2);
  strcat(line, "dd");
  assert_int_not_equal(parse("bench", line, &c), 0);
  assert_int_not_equal(
      parse("convert",
            "-convert_format idx -convert_output o.h5 -convert_train_images a "
            "-convert_train_labels b -convert_test_images c -convert_test_labels d -convert_name "
            "n123456789012345678901234567890123456789012345678901234567890123",
            &c),
      0);
  assert_int_equal(
      parse("convert",
            "-convert_format idx -convert_output o.h5 -convert_train_images a "
            "-convert_train_labels b -convert_test_images c -convert_test_labels d -convert_name "
            "n1234567890123456789012345678901234567890123456789012345678901",
            &c),
      0);
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
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_values_read),
    cmocka_unit_test(test_validation_errors),
    cmocka_unit_test(test_required_files),
    cmocka_unit_test(test_unknown_option_rejected),
    cmocka_unit_test(test_options_file),
    cmocka_unit_test(test_independent_objects),
    cmocka_unit_test(test_json),
    cmocka_unit_test(test_json_diff),
    cmocka_unit_test(test_json_diff_typed),
    cmocka_unit_test(test_long_strings),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
