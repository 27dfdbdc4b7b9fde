/* libFuzzer target: the text pof reads back on a resume. The input is (1) a metrics.jsonl and a
   steps.jsonl, trimmed to the rows of a checkpoint at epoch 3, step 2 (pof_rows_trim, whose rewrite
   must keep exactly the lines it kept), and (2) a checkpoint's options_json, compared with the
   default options (pof_config_json_diff). */
#include "common.h"
#include "pof/config.h"
#include "train/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *defaults_json;

static size_t file_size(const char *path)
{
  FILE *f = fopen(path, "rb");
  long  n;
  if (!f) abort();
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) abort();
  fclose(f);
  return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char           path[POF_PATH_MAX], diff[1024];
  int            dropped = 0;
  PetscErrorCode ierr;
  if (!defaults_json) {
    static PofConfig cfg;
    pof_config_defaults(&cfg);
    if (pof_config_json(&cfg, &defaults_json)) abort();
  }
  for (int steps = 0; steps < 2; steps++) {
    pof_fuzz_begin();
    pof_fuzz_write(steps ? "steps.jsonl" : "metrics.jsonl", data, size, path, sizeof(path));
    ierr = pof_rows_trim(path, steps ? PETSC_TRUE : PETSC_FALSE, 3, 2, &dropped);
    if (!ierr && (dropped < 0 || file_size(path) > size)) abort(); /* rows only go */
    pof_fuzz_end(ierr);
  }
  {
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    (void)pof_config_json_diff(text, defaults_json, pof_config_resume_free_keys(), diff,
                               sizeof(diff));
    if (strlen(diff) >= sizeof(diff)) abort();
    free(text);
  }
  return 0;
}
