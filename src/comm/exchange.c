/* MPI collectives of the data path: see include/pof/comm_exchange.h. */
#include "pof/comm_exchange.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

PetscErrorCode pof_comm_exchange_records(MPI_Comm comm, size_t record_bytes, const void *sendbuf,
                                         const int sendcounts[], void *recvbuf,
                                         const int recvcounts[])
{
  PetscMPIInt  size;
  int         *sdispl = NULL, *rdispl = NULL;
  MPI_Datatype rec;
  int64_t      stot = 0, rtot = 0;
  PetscFunctionBegin;
  PetscCheck(record_bytes >= 1 && record_bytes < (size_t)INT_MAX, PETSC_COMM_SELF,
             PETSC_ERR_ARG_OUTOFRANGE, "record size %zu bytes out of range [1, 2^31)",
             record_bytes);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &sdispl, size, &rdispl));
  for (PetscMPIInt r = 0; r < size; r++) {
    PetscCheck(sendcounts[r] >= 0 && recvcounts[r] >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "negative record count for rank %d", r);
    sdispl[r] = (int)stot;
    rdispl[r] = (int)rtot;
    stot += sendcounts[r];
    rtot += recvcounts[r];
    PetscCheck(stot <= INT_MAX && rtot <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "more than 2^31 records in one exchange");
  }
  PetscCallMPI(MPI_Type_contiguous((int)record_bytes, MPI_BYTE, &rec));
  PetscCallMPI(MPI_Type_commit(&rec));
  PetscCallMPI(
      MPI_Alltoallv(sendbuf, sendcounts, sdispl, rec, recvbuf, recvcounts, rdispl, rec, comm));
  PetscCallMPI(MPI_Type_free(&rec));
  PetscCall(PetscFree2(sdispl, rdispl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_allreduce_i64(MPI_Comm comm, int64_t *vals, int n, PofCommOp op)
{
  const MPI_Op mop = op == POF_COMM_MIN ? MPI_MIN : (op == POF_COMM_MAX ? MPI_MAX : MPI_SUM);
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_INT64_T, mop, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_barrier(MPI_Comm comm)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_any(MPI_Comm comm, PetscBool mine, PetscBool *any)
{
  int v = mine ? 1 : 0;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, comm));
  *any = v ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_allgather_u64(MPI_Comm comm, const uint64_t *mine, int n, uint64_t *all)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Allgather(mine, n, MPI_UINT64_T, all, n, MPI_UINT64_T, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_agree_failure(MPI_Comm comm, PetscBool failed, char *msg, size_t len,
                                      PetscBool *any_failed)
{
  PetscMPIInt rank, size;
  int         v[2];
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  v[0] = failed ? -(int)rank : -(int)size; /* max of -rank = the lowest failing rank */
  v[1] = failed ? 1 : 0;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MAX, comm));
  *any_failed = v[1] ? PETSC_TRUE : PETSC_FALSE;
  if (*any_failed) PetscCall(pof_comm_bcast_bytes(comm, msg, len, -v[0]));
  if (len) msg[len - 1] = '\0';
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Wait for req: unbounded, or up to POF_ERROR_AGREE_SECONDS (default 10) s. 1 if completed; the
   request is then MPI_REQUEST_NULL, so the caller's MPI_Wait on it returns at once. */
static int exchange_wait(MPI_Request *req, PetscBool bounded)
{
  const char           *e   = getenv("POF_ERROR_AGREE_SECONDS");
  char                 *end = NULL;
  const double          sec = e ? strtod(e, &end) : 0; /* unset, unparsable or <= 0: 10 s */
  const double          lim = sec > 0 && end && *end == '\0' ? sec : 10.0, t0 = MPI_Wtime();
  const struct timespec ts   = { 0, 1000000 };
  int                   done = 0;
  while (!done) {
    if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return 0;
    if (done) break;
    if (bounded && MPI_Wtime() - t0 > lim) return 0;
    nanosleep(&ts, NULL);
  }
  return 1;
}

/* The bounded agreement's request and the buffers it reads and writes. When the wait times out
   the request stays open (a wait would hang; the caller aborts the job), so MPI may still write
   into them later: they live in static storage, not on a stack frame that is gone by then. */
static MPI_Request agree_req = MPI_REQUEST_NULL;
static int         agree_v[2], agree_code;
static char       *agree_msg; /* malloc'd per call; kept (not freed) after a timeout */

PetscErrorCode pof_comm_agree_failure_bounded(MPI_Comm comm, PetscBool failed, int code, char *msg,
                                              size_t len, PetscBool *any_failed, int *code_out,
                                              PetscBool *reached)
{
  PetscMPIInt rank, size;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(agree_req == MPI_REQUEST_NULL, PETSC_COMM_SELF, PETSC_ERR_ORDER,
             "an earlier bounded agreement timed out: its request is still open");
  PetscCheck(len <= INT_MAX, comm, PETSC_ERR_ARG_SIZ, "message too long");
  agree_v[0]  = failed ? -(int)rank : -(int)size;
  agree_v[1]  = failed ? 1 : 0;
  *reached    = PETSC_FALSE;
  *any_failed = failed;
  *code_out   = failed ? code : 0;
  PetscCallMPI(MPI_Iallreduce(MPI_IN_PLACE, agree_v, 2, MPI_INT, MPI_MAX, comm, &agree_req));
  if (!exchange_wait(&agree_req, failed)) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Wait(&agree_req, MPI_STATUS_IGNORE)); /* completed: at once */
  *any_failed = agree_v[1] ? PETSC_TRUE : PETSC_FALSE;
  if (*any_failed) {
    const int root = -agree_v[0];
    agree_code     = code;
    PetscCallMPI(MPI_Ibcast(&agree_code, 1, MPI_INT, root, comm, &agree_req));
    if (!exchange_wait(&agree_req, failed)) PetscFunctionReturn(PETSC_SUCCESS);
    PetscCallMPI(MPI_Wait(&agree_req, MPI_STATUS_IGNORE)); /* completed: at once */
    agree_msg = (char *)malloc(len ? len : 1);
    PetscCheck(agree_msg, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory (%zu bytes)", len);
    if (len) memcpy(agree_msg, msg, len);
    PetscCallMPI(MPI_Ibcast(agree_msg, (int)len, MPI_CHAR, root, comm, &agree_req));
    if (!exchange_wait(&agree_req, failed)) PetscFunctionReturn(PETSC_SUCCESS);
    PetscCallMPI(MPI_Wait(&agree_req, MPI_STATUS_IGNORE)); /* completed: at once */
    if (len) memcpy(msg, agree_msg, len);
    free(agree_msg);
    agree_msg = NULL;
    *code_out = agree_code;
  }
  if (len) msg[len - 1] = '\0';
  *reached = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_bcast_bytes(MPI_Comm comm, void *buf, size_t n, int root)
{
  const size_t piece = (size_t)1 << 30;
  PetscFunctionBegin;
  for (size_t off = 0; off < n; off += piece) {
    const size_t len = n - off < piece ? n - off : piece;
    PetscCallMPI(MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_comm_rank0_verdict(MPI_Comm comm, PetscErrorCode code, char *msg, size_t len)
{
  int64_t c = code;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Bcast(&c, 1, MPI_INT64_T, 0, comm));
  if (!c) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pof_comm_bcast_bytes(comm, msg, len, 0));
  if (len) msg[len - 1] = '\0';
  SETERRQ(comm, (PetscErrorCode)c, "%s", len ? msg : "unknown error");
}

PetscErrorCode pof_comm_same_digest(MPI_Comm comm, uint64_t digest, const char *here, char *msg,
                                    size_t len, PetscBool *same)
{
  struct {
    uint64_t digest;
    char     host[64], here[448];
  } r0, me;
  PetscMPIInt rank;
  PetscBool   differ;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  memset(&me, 0, sizeof me);
  me.digest = digest;
  (void)gethostname(me.host, sizeof me.host - 1);
  snprintf(me.here, sizeof me.here, "%s", here);
  r0 = me;
  PetscCall(pof_comm_bcast_bytes(comm, &r0, sizeof r0, 0));
  differ = r0.digest != me.digest ? PETSC_TRUE : PETSC_FALSE;
  if (len) msg[0] = '\0';
  if (differ && len)
    snprintf(msg, len, "rank %d on %s: %s; rank 0 on %s: %s", (int)rank, me.host, me.here, r0.host,
             r0.here);
  PetscCall(pof_comm_agree_failure(comm, differ, msg, len, &differ));
  *same = differ ? PETSC_FALSE : PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}
