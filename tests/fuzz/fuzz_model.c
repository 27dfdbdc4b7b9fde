/* libFuzzer target: a model file given as -model_in, the input, registered as an in-memory HDF5
   file image (pof/image.h) and read on one process the way pof_model_load does: the metadata
   (pof_ckpt_read_meta), the shape options (none given), the parameter counts of the WRN the file
   names (pof_wrn_shape_sizes, where pof_model_load builds that WRN), then the state. HDF5 is not
   instrumented: the structure-aware mutator (h5mutator.c) edits valid files. */
#include "ckpt_read.h"
#include "common.h"
#include "pof/image.h"
#include "pof/nn.h"

#include <string.h>

static PetscErrorCode run(const char *path)
{
  PofCkptMeta    m;
  PofModelConfig mc;
  PetscInt       np, nf, fd, nb;
  PetscFunctionBegin;
  memset(&mc, 0, sizeof(mc));
  PetscCall(pof_ckpt_read_meta(PETSC_COMM_SELF, path, &m));
  PetscCall(pof_ckpt_check_shape_options(PETSC_COMM_SELF, path, &m, &mc));
  PofWrnShape shape = { m.depth, m.width, m.base, m.in_c, m.in_h, m.in_w, m.classes };
  PetscCall(pof_wrn_shape_sizes(&shape, &np, &nf, &fd, &nb));
  PetscCheck(np == m.n_params && nb == m.n_bn_state, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED,
             "model file '%s': counts do not fit its WRN", path);
  PetscCall(fuzz_read_state(path, &m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = "fuzz-model.h5";
  if (size == 0) return 0;
  pof_fuzz_begin();
  if (pof_file_image_register(path, data, size)) abort();
  const PetscErrorCode ierr = run(path);
  if (pof_file_image_unregister(path)) abort();
  pof_fuzz_end(ierr);
  return 0;
}
