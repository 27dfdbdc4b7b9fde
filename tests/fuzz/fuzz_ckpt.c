/* libFuzzer target: a checkpoint in a run directory that is resumed, the input. It is registered
   as an in-memory HDF5 file image (pof/image.h) under the name of an empty placeholder file
   <dir>/run/ckpt-0000000001.h5, so the resume path runs as in pof on one process: the newest
   good checkpoint is searched (pof_rundir_find_latest: metadata checks and the CRC-32 of every
   dataset), its metadata read and its state read. HDF5 is not instrumented: the structure-aware
   mutator (h5mutator.c) edits valid files. */
#include "ckpt_read.h"
#include "common.h"
#include "pof/image.h"
#include "pof/rundir.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static PetscErrorCode run(const char *dir)
{
  char        path[POF_PATH_MAX];
  PetscBool   found;
  PofCkptMeta m;
  PetscFunctionBegin;
  PetscCall(pof_rundir_find_latest(PETSC_COMM_SELF, dir, path, sizeof(path), &found));
  PetscCheck(found, PETSC_COMM_SELF, PETSC_ERR_PLIB, "the placeholder checkpoint was not seen");
  PetscCall(pof_ckpt_read_meta(PETSC_COMM_SELF, path, &m));
  PetscCall(fuzz_read_state(path, &m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char dir[POF_PATH_MAX], path[POF_PATH_MAX + 32];
  if (size == 0) return 0;
  snprintf(dir, sizeof(dir), "%s/run", pof_fuzz_dir());
  (void)mkdir(dir, 0700);
  snprintf(path, sizeof(path), "%s/ckpt-0000000001.h5", dir);
  pof_fuzz_begin();
  {
    FILE *f = fopen(path, "wb");
    if (!f || fclose(f) != 0) abort();
  }
  if (pof_file_image_register(path, data, size)) abort();
  const PetscErrorCode ierr = run(dir);
  if (pof_file_image_unregister(path)) abort();
  pof_fuzz_end(ierr);
  return 0;
}
