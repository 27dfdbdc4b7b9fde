/* libFuzzer target: pof convert -convert_format cifar10 and cifar100 (fine and coarse labels) on
   one batch file, the input, which stands for every batch of the format (data_batch_1..5.bin and
   test_batch.bin; train.bin and test.bin). */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const names[] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
                                     "train.bin",        "test.bin" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  PofConvertConfig cfg;
  char             path[POF_PATH_MAX], link[POF_PATH_MAX];
  PetscErrorCode   ierr;
  memset(&cfg, 0, sizeof(cfg));
  snprintf(cfg.input_dir, sizeof(cfg.input_dir), "%s", pof_fuzz_dir());
  pof_fuzz_begin();
  pof_fuzz_write("batch", data, size, path, sizeof(path));
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(link, sizeof(link), "%s/%s", cfg.input_dir, names[i]);
    (void)unlink(link);
    if (symlink("batch", link) != 0) {
      perror(link);
      abort();
    }
  }
  cfg.format = POF_FMT_CIFAR10;
  ierr       = pof_fuzz_convert(&cfg);
  pof_fuzz_end(ierr);
  cfg.format          = POF_FMT_CIFAR100;
  cfg.cifar100_coarse = size % 2 ? PETSC_TRUE : PETSC_FALSE;
  pof_fuzz_begin();
  pof_fuzz_end(pof_fuzz_convert(&cfg));
  return 0;
}
