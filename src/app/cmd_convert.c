/* pof convert: raw dataset (IDX, CIFAR-10/100 binary, SVHN .mat) -> one HDF5 file. */
#include "commands.h"
#include "pof/convert.h"

static void json_doubles(const char *key, const double *v, PetscInt n)
{
  printf(",\"%s\":[", key);
  for (PetscInt i = 0; i < n; i++) printf("%s%.9g", i ? "," : "", v[i]);
  printf("]");
}

PetscErrorCode pof_cmd_convert(PetscOptions opts, MPI_Comm comm)
{
  PofConfig         cfg;
  PofConvertSummary sum;
  PetscBool         help = PETSC_FALSE;
  PetscMPIInt       rank;
  const double      t0 = pof_now();
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_CONVERT, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_convert_run(comm, &cfg.convert, &sum));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    printf("pof convert: %s -> %s: %" PetscInt_FMT " training and %" PetscInt_FMT " test images of %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT ", %" PetscInt_FMT " classes (%.1f s)\n", PofConvertFormats[cfg.convert.format], sum.output, sum.n_train, sum.n_test, sum.c, sum.h, sum.w, sum.classes, pof_now() - t0);
    printf("{\"n_train\":%" PetscInt_FMT ",\"n_test\":%" PetscInt_FMT ",\"shape\":[%" PetscInt_FMT ",%" PetscInt_FMT ",%" PetscInt_FMT "],\"classes\":%" PetscInt_FMT, sum.n_train, sum.n_test, sum.c, sum.h, sum.w, sum.classes);
    json_doubles("mean", sum.mean, sum.c);
    json_doubles("std", sum.std, sum.c);
    printf(",\"name\":\"%s\",\"output\":\"", sum.name);
    for (const char *p = sum.output; *p; p++) {
      if (*p == '"' || *p == '\\') putchar('\\');
      putchar(*p);
    }
    printf("\"}\n");
    fflush(stdout);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
