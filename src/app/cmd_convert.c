/* pof convert: raw dataset (IDX, CIFAR-10/100 binary, SVHN .mat) -> one HDF5 file. */
#include "commands.h"
#include "pof/json.h"
#include "pof/convert.h"

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
    printf("pof convert: %s -> %s: %" PetscInt_FMT " training and %" PetscInt_FMT
           " test images of %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT ", %" PetscInt_FMT
           " classes (%.1f s)\n",
           PofConvertFormats[cfg.convert.format], sum.output, sum.n_train, sum.n_test, sum.c, sum.h,
           sum.w, sum.classes, pof_now() - t0);
    json_t *line = json_object();
    pof_json_set(&line, "n_train", json_integer((json_int_t)sum.n_train));
    pof_json_set(&line, "n_test", json_integer((json_int_t)sum.n_test));
    pof_json_set(&line, "shape",
                 json_pack("[I,I,I]", (json_int_t)sum.c, (json_int_t)sum.h, (json_int_t)sum.w));
    pof_json_set(&line, "classes", json_integer((json_int_t)sum.classes));
    pof_json_set(&line, "mean", pof_json_reals(sum.mean, (size_t)sum.c));
    pof_json_set(&line, "std", pof_json_reals(sum.std, (size_t)sum.c));
    pof_json_set(&line, "name", pof_json_string(sum.name));
    pof_json_set(&line, "output", pof_json_string(sum.output));
    PetscCall(pof_json_write_line(stdout, line));
    fflush(stdout);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
