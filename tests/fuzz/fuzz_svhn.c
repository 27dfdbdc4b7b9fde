/* libFuzzer target: pof convert -convert_format svhn on one MATLAB v5 file, the input, which
   stands for train_32x32.mat and test_32x32.mat. */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  PofConvertConfig cfg;
  char             path[POF_PATH_MAX], link[POF_PATH_MAX];
  memset(&cfg, 0, sizeof(cfg));
  snprintf(cfg.input_dir, sizeof(cfg.input_dir), "%s", pof_fuzz_dir());
  cfg.format = POF_FMT_SVHN;
  pof_fuzz_begin();
  pof_fuzz_write("train_32x32.mat", data, size, path, sizeof(path));
  snprintf(link, sizeof(link), "%s/test_32x32.mat", cfg.input_dir);
  (void)unlink(link);
  if (symlink("train_32x32.mat", link) != 0) {
    perror(link);
    abort();
  }
  pof_fuzz_end(pof_fuzz_convert(&cfg));
  return 0;
}
