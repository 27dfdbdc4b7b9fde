/* Stop agreement and the per-step reduction: see include/pof/comm.h. */
#include "pof/comm.h"

PetscErrorCode pof_comm_stop_agree(MPI_Comm comm, int local_flag, int *stop)
{
  int v = local_flag;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, comm));
  *stop = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* (sum, sum, max) on triples of doubles: the step's two sums and its stop flag. */
static void step_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
  const double *a = (const double *)in;
  double       *b = (double *)inout;
  (void)type;
  for (int i = 0; i < *len; i++, a += 3, b += 3) {
    b[0] += a[0];
    b[1] += a[1];
    if (a[2] > b[2]) b[2] = a[2];
  }
}

static MPI_Datatype step_type = MPI_DATATYPE_NULL;
static MPI_Op       step_op_h = MPI_OP_NULL;

static int step_free(MPI_Comm comm, int key, void *val, void *extra)
{
  (void)comm, (void)key, (void)val, (void)extra;
  if (step_op_h != MPI_OP_NULL) MPI_Op_free(&step_op_h);
  if (step_type != MPI_DATATYPE_NULL) MPI_Type_free(&step_type);
  return MPI_SUCCESS;
}

PetscErrorCode pof_comm_step_agree(MPI_Comm comm, int local_flag, double sums[2], int *stop)
{
  double v[3] = { sums[0], sums[1], (double)local_flag };
  PetscFunctionBegin;
  if (step_op_h == MPI_OP_NULL) { /* made once; freed when MPI_COMM_SELF is freed in MPI_Finalize */
    int key;
    PetscCallMPI(MPI_Type_contiguous(3, MPI_DOUBLE, &step_type));
    PetscCallMPI(MPI_Type_commit(&step_type));
    PetscCallMPI(MPI_Op_create(step_op, 1, &step_op_h));
    PetscCallMPI(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, step_free, &key, NULL));
    PetscCallMPI(MPI_Comm_set_attr(MPI_COMM_SELF, key, NULL));
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, v, 1, step_type, step_op_h, comm));
  sums[0] = v[0];
  sums[1] = v[1];
  *stop   = (int)v[2];
  PetscFunctionReturn(PETSC_SUCCESS);
}
