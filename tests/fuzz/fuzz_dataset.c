/* libFuzzer target: a dataset file of pof convert, the input, opened as an in-memory HDF5 file
   image (pof_dataset_open_image, the path pof sweep takes) on one process; when it opens, one
   training batch (with augmentation) and one test batch are drawn from it. HDF5 is not
   instrumented: the structure-aware mutator (h5mutator.c) edits valid files. */
#include "common.h"
#include "pof/data.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  PofDataConfig  cfg;
  PofDataset     ds = NULL;
  PofDatasetInfo info;
  PetscErrorCode ierr;
  memset(&cfg, 0, sizeof(cfg));
  cfg.augment  = PETSC_TRUE;
  cfg.crop_pad = 1;
  cfg.flip     = PETSC_TRUE;
  pof_fuzz_begin();
  ierr = pof_dataset_open_image(PETSC_COMM_SELF, data, size, &cfg, 7, &ds);
  if (!ierr) ierr = pof_dataset_get_info(ds, &info);
  if (!ierr) {
    const PetscInt B = 4, sample = info.c * info.h * info.w;
    float         *x  = malloc(sizeof(float) * (size_t)(B * sample));
    int32_t       *y  = malloc(sizeof(int32_t) * (size_t)B);
    PetscInt       nl = 0;
    if (!x || !y) abort();
    ierr = pof_dataset_train_batch(ds, 0, 0, B, x, y);
    if (!ierr)
      ierr = pof_dataset_eval_batch(ds, POF_SPLIT_TEST, 0, PetscMin(B, info.n_test), x, y, &nl);
    for (PetscInt i = 0; !ierr && i < nl; i++)
      if (y[i] < 0 || y[i] >= info.classes) abort(); /* labels were checked when loading */
    free(x);
    free(y);
  }
  if (ds && pof_dataset_destroy(&ds)) abort();
  pof_fuzz_end(ierr);
  return 0;
}
