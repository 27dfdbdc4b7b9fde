/* Rows of metrics.jsonl / steps.jsonl after a checkpoint: see rows.h. */
#include "rows.h"
#include "pof/config.h"
#include "pof/fsutil.h"
#include "pof/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  FILE     *in;
  PetscBool steps;
  PetscInt  E, S;
  int       dropped;
} TrimRows;

static int trim_rows_write(FILE *out, void *ctx)
{
  TrimRows *c    = (TrimRows *)ctx;
  char     *line = NULL;
  size_t    cap  = 0;
  for (ssize_t n; (n = getline(&line, &cap, c->in)) > 0;) {
    json_t          *row = n > 1 && line[n - 1] == '\n' ? pof_json_parse(line, (size_t)n) : NULL;
    const json_int_t e   = json_integer_value(json_object_get(row, "epoch")),
                     st  = json_integer_value(json_object_get(row, "step"));
    int ok               = json_is_integer(json_object_get(row, "epoch")) && e >= 1;
    if (ok && c->steps)
      ok = json_is_integer(json_object_get(row, "step")) &&
           (e - 1 < c->E || (e - 1 == c->E && st < c->S));
    else if (ok)
      ok = e <= c->E;
    json_decref(row);
    if (!ok)
      c->dropped++;
    else if (fputs(line, out) < 0) {
      free(line);
      return errno ? errno : EIO;
    }
  }
  free(line);
  return 0;
}

PetscErrorCode pof_rows_trim(const char *path, PetscBool steps, PetscInt E, PetscInt S,
                             int *dropped)
{
  TrimRows c = { fopen(path, "r"), steps, E, S, 0 };
  char     msg[2 * POF_PATH_MAX + 128];
  int      err;
  PetscFunctionBegin;
  *dropped = 0;
  if (!c.in) PetscFunctionReturn(PETSC_SUCCESS); /* nothing written yet */
  err = pof_fs_write_atomic(path, trim_rows_write, &c, msg, sizeof msg);
  fclose(c.in);
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE,
             "cannot rewrite '%s' without the rows after the checkpoint: %s", path, msg);
  *dropped = c.dropped;
  PetscFunctionReturn(PETSC_SUCCESS);
}
