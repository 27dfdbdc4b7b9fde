/* libFuzzer target: pof info (src/app/cmd_info.c, linked into the target, and src/io/info.c) on
   the input, an HDF5 file. pof info opens files by path (no in-memory image), so the input is
   written to the scratch directory twice: as a file "model.h5", whose layout pof_file_probe
   reads (dataset, or model/checkpoint, or neither), then the dataset reader or
   pof_ckpt_inspect_local (metadata checks and the CRC-32 of every dataset), the options_json
   diff against the defaults and the /tensors probe; and as the newest checkpoint of a run
   directory (ckpt-0000000001.h5 next to metrics.jsonl and progress.json rows, one of them
   without the fields pof info prints). pof info's text and JSON go to /dev/null unless
   POF_FUZZ_VERBOSE=1. HDF5 is not instrumented: the structure-aware mutator (h5mutator.c) edits
   valid files. */
#include "app/commands.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, const void *data, size_t n)
{
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

static PetscErrorCode info(const char *path)
{
  char *argv[] = { "pof", "info", (char *)path, NULL };
  pof_app_argc = 3;
  pof_app_argv = argv;
  return pof_cmd_info(NULL, PETSC_COMM_SELF);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char metrics[] =
      "{\"epoch\": 1, \"test_\n{\"epoch\": \"2\", \"test_error\": null}\n";
  static const char progress[] = "{\"phase\": 3, \"epoch\": \"x\"}\n";
  static int        quiet      = -1;
  char              file[POF_PATH_MAX], run[POF_PATH_MAX], p[3][POF_PATH_MAX + 32];
  PetscErrorCode    ierr;
  if (size == 0) return 0;
  if (quiet < 0) {
    quiet = !(getenv("POF_FUZZ_VERBOSE") && strcmp(getenv("POF_FUZZ_VERBOSE"), "0"));
    if (quiet && !freopen("/dev/null", "w", stdout)) abort();
  }
  snprintf(run, sizeof(run), "%s/run", pof_fuzz_dir());
  snprintf(p[0], sizeof(p[0]), "%s/metrics.jsonl", run);
  snprintf(p[1], sizeof(p[1]), "%s/progress.json", run);
  snprintf(p[2], sizeof(p[2]), "%s/ckpt-0000000001.h5", run);
  pof_fuzz_begin();
  pof_fuzz_write("model.h5", data, size, file, sizeof(file));
  ierr = info(file);
  pof_fuzz_end(ierr);
  if (mkdir(run, 0700) != 0) abort();
  put(p[0], metrics, sizeof(metrics) - 1);
  put(p[1], progress, sizeof(progress) - 1);
  if (rename(file, p[2]) != 0) abort();
  pof_fuzz_begin();
  ierr = info(run);
  pof_fuzz_end(ierr);
  if (unlink(p[2]) || unlink(p[0]) || unlink(p[1]) || rmdir(run)) abort();
  return 0;
}
