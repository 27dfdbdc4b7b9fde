/* libFuzzer target: pof convert -convert_format idx on gzip-compressed IDX files. The input is a
   4-byte little-endian length L (taken modulo the rest's size + 1), then L bytes of the gzip image
   file and the gzip label file. Both serve as the training and the test split. */
#include "common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  PofConvertConfig cfg;
  if (size < 4) return 0;
  const size_t   rest = size - 4;
  const uint32_t len  = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                       (uint32_t)data[3] << 24;
  const size_t k = len % (rest + 1);
  memset(&cfg, 0, sizeof(cfg));
  cfg.format = POF_FMT_IDX;
  pof_fuzz_begin();
  pof_fuzz_write("images.idx.gz", data + 4, k, cfg.train_images, sizeof(cfg.train_images));
  pof_fuzz_write("labels.idx.gz", data + 4 + k, rest - k, cfg.train_labels,
                 sizeof(cfg.train_labels));
  memcpy(cfg.test_images, cfg.train_images, sizeof(cfg.test_images));
  memcpy(cfg.test_labels, cfg.train_labels, sizeof(cfg.test_labels));
  pof_fuzz_end(pof_fuzz_convert(&cfg));
  return 0;
}
