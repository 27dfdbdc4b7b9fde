/* Shared parts of pof's libFuzzer targets: see common.h. */
#include "common.h"

#include <dirent.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static int  fds_before, inputs;

static int count_fds(void)
{
  int  n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

static void remove_dir(void)
{
  DIR *d = opendir(dir);
  char path[sizeof(dir) + 256];
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    (void)unlink(path);
  }
  closedir(d);
  (void)rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  /* no signal handlers of PETSc or Open MPI: AddressSanitizer and libFuzzer report crashes */
  (void)setenv("OMPI_MCA_opal_signal", "", 1);
  (void)setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  (void)setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  (void)setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
  (void)setenv("OMP_NUM_THREADS", "1", 0);
  if (PetscOptionsSetValue(NULL, "-no_signal_handler", NULL) || PetscInitializeNoArguments() ||
      pof_error_handler_push()) {
    fprintf(stderr, "fuzz: PETSc initialisation failed\n");
    abort();
  }
  (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(dir, sizeof(dir), "/dev/shm/pof-fuzz.%d", (int)getpid());
  if (mkdir(dir, 0700) != 0) {
    perror(dir);
    abort();
  }
  atexit(remove_dir);
  return 0;
}

const char *pof_fuzz_dir(void) { return dir; }

void pof_fuzz_write(const char *name, const void *data, size_t n, char *path, size_t len)
{
  FILE *f;
  snprintf(path, len, "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

PetscErrorCode pof_fuzz_convert(PofConvertConfig *cfg)
{
  PofConvertSummary sum;
  PetscErrorCode    ierr;
  snprintf(cfg->output, sizeof(cfg->output), "%s/out.h5", dir);
  ierr = pof_convert_run(PETSC_COMM_SELF, cfg, &sum);
  (void)unlink(cfg->output);
  return ierr;
}

void pof_fuzz_begin(void) { fds_before = count_fds(); }

void pof_fuzz_end(PetscErrorCode ierr)
{
  const int after = count_fds(), first = inputs++ == 0;
  if (getenv("POF_FUZZ_VERBOSE") && strcmp(getenv("POF_FUZZ_VERBOSE"), "0"))
    fprintf(stderr, "fuzz: %s\n", ierr ? pof_error_record()->msg : "accepted");
  if (after > fds_before && !first) { /* the first input may open what MPI keeps open */
    fprintf(stderr, "fuzz: the input left %d file descriptor(s) open (%s)\n", after - fds_before,
            ierr ? pof_error_record()->msg : "no error");
    abort();
  }
}
