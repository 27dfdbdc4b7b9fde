/* libFuzzer target: pof convert -convert_format idx on plain IDX files. The input is an image file
   followed by a label file; it is cut where the image header says the images end (16 + N*H*W
   bytes, at most the input), or in the middle when there is no header. Both files serve as the
   training and the test split, as -convert_train_* and -convert_test_*. */
#include "common.h"

#include <string.h>

static uint64_t be32(const uint8_t *b)
{
  return (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
}

static size_t cut(const uint8_t *d, size_t n)
{
  if (n < 16 || d[3] != 3) return n / 2;
  const uint64_t want = 16 + be32(d + 4) * be32(d + 8) * be32(d + 12);
  return want < n ? (size_t)want : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  PofConvertConfig cfg;
  const size_t     k = cut(data, size);
  memset(&cfg, 0, sizeof(cfg));
  cfg.format = POF_FMT_IDX;
  pof_fuzz_begin();
  pof_fuzz_write("images.idx", data, k, cfg.train_images, sizeof(cfg.train_images));
  pof_fuzz_write("labels.idx", data + k, size - k, cfg.train_labels, sizeof(cfg.train_labels));
  memcpy(cfg.test_images, cfg.train_images, sizeof(cfg.test_images));
  memcpy(cfg.test_labels, cfg.train_labels, sizeof(cfg.test_labels));
  pof_fuzz_end(pof_fuzz_convert(&cfg));
  return 0;
}
