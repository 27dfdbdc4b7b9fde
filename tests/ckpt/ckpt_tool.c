/* Driver of the checkpoint tests (tests/ckpt/ckpt_{roundtrip,errors,dirs}.sh). Every value it
   writes is a pseudo-random bit pattern derived from (-vseed, dataset, index), so a reader at any
   rank count can regenerate the expected data and compare bitwise (NaN payloads, denormals, -0
   included). Modes (-mode): write     -path P            write a checkpoint (2 ranks in the tests)
     read      -path P            read_meta + read, compare every field and value bitwise
     meta      -path P            read_meta only (error-path tests)
     latest    -dir D             pof_rundir_find_latest: prints "found <path>" or "not found"
     prune     -dir D -keep K     pof_rundir_prune
     checkdir  -dir D             pof_rundir_check
     signature -path P [-want_depth D -want_width K -want_classes C -want_dataset S]
   Shape options (same for write and read): -n (n_params), -nbn (n_bn_state), -classes,
   -nfeat, -momentum, -theta0, -step (global_step), -vseed; -chunk C sets the I/O piece size;
   -uneven gives rank 0 no entries of the Vecs (it still joins every collective call);
   -writer_ranks R: the rank count the reader expects in the metadata. Exits non-zero (all
   ranks, via pof_comm_finish) on any error or mismatch. */
#include "pof/comm.h"
#include "pof/ckpt.h"
#include "pof/rundir.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  PetscInt  n, nbn, classes, nfeat, step, vseed, chunk, keep, writer_ranks;
  PetscBool momentum, theta0, uneven;
  char      mode[32], path[POF_PATH_MAX], dir[POF_PATH_MAX];
} Args;

static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static double value_d(const Args *a, int which, PetscInt i)
{
  uint64_t b = mix(mix((uint64_t)a->vseed * 131u + (uint64_t)which) + (uint64_t)i);
  double   v;
  memcpy(&v, &b, sizeof(v));
  return v;
}

static float value_f(const Args *a, PetscInt i)
{
  uint32_t b = (uint32_t)mix(mix((uint64_t)a->vseed * 131u + 7u) + (uint64_t)i);
  float    v;
  memcpy(&v, &b, sizeof(v));
  return v;
}

static void make_meta(const Args *a, PofCkptMeta *m)
{
  size_t len = 0;
  memset(m, 0, sizeof(*m));
  m->depth      = 10;
  m->width      = 2;
  m->base       = 4;
  m->in_c       = 1;
  m->in_h       = 28;
  m->in_w       = 28;
  m->classes    = a->classes;
  m->n_params   = a->n;
  m->n_feature  = a->n - a->classes * (a->nfeat + 1); /* -nfeat is the feature dimension F */
  m->n_bn_state = a->nbn;
  snprintf(m->dataset, sizeof(m->dataset), "fashion-mnist");
  snprintf(m->kind, sizeof(m->kind), "posttrain");
  m->epochs_done     = 7;
  m->step_in_epoch   = 13;
  m->global_step     = a->step;
  m->seed            = 424242;
  m->ranks           = a->writer_ranks;
  m->lr_base         = 0.1;
  m->lr_factor       = 0.2;
  m->schedule        = POF_SCHED_STEP;
  m->nmilestones     = 5;
  m->warmup_epochs   = 3;
  m->schedule_epochs = 200;
  for (int i = 0; i < POF_MAX_MILESTONES; i++) m->milestones[i] = i < 5 ? 60 * (i + 1) + i : 0;
  m->have_momentum = a->momentum;
  m->have_theta0   = a->theta0;
  /* a long JSON object that fills the buffer to 16000 characters */
  len += (size_t)snprintf(m->options_json, sizeof(m->options_json), "{\"run_seed\":424242");
  for (int k = 0; len < 15950; k++)
    len += (size_t)snprintf(m->options_json + len, sizeof(m->options_json) - len,
                            ",\"opt_%04d\":\"v%d-%s\"", k, k * 7, "\\\"quoted\\\" text");
  while (len < 15999) m->options_json[len++] = ' ';
  m->options_json[len++] = '}';
  m->options_json[len]   = '\0';
}

static PetscErrorCode make_vec(MPI_Comm comm, const Args *a, Vec *v)
{
  PetscMPIInt rank, size;
  PetscInt    local = PETSC_DECIDE;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (a->uneven && size > 1) { /* rank 0 owns nothing, the last rank takes the remainder */
    const PetscInt share = a->n / (size - 1);
    local                = rank == 0 ? 0 : (rank == size - 1 ? a->n - share * (size - 2) : share);
  }
  PetscCall(VecCreateMPI(comm, local, a->n, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fill_vec(const Args *a, int which, Vec v)
{
  PetscInt     lo, hi;
  PetscScalar *x;
  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArrayWrite(v, &x));
  for (PetscInt i = lo; i < hi; i++) x[i - lo] = value_d(a, which, i);
  PetscCall(VecRestoreArrayWrite(v, &x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Number of entries of v that differ bitwise from the expected values (local). */
static PetscErrorCode diff_vec(const Args *a, int which, Vec v, PetscInt *bad)
{
  PetscInt           lo, hi;
  const PetscScalar *x;
  PetscFunctionBegin;
  PetscCall(VecGetOwnershipRange(v, &lo, &hi));
  PetscCall(VecGetArrayRead(v, &x));
  for (PetscInt i = lo; i < hi; i++) {
    const double e = value_d(a, which, i);
    if (memcmp(&x[i - lo], &e, sizeof(e))) (*bad)++;
  }
  PetscCall(VecRestoreArrayRead(v, &x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode do_write(MPI_Comm comm, const Args *a)
{
  PofCkptMeta *m;
  Vec          master, mom = NULL;
  float       *running;
  double      *theta0 = NULL;
  PetscInt     nt     = a->classes * (a->nfeat + 1);
  double       t0;
  PetscFunctionBegin;
  PetscCall(PetscNew(&m));
  make_meta(a, m);
  PetscCall(make_vec(comm, a, &master));
  PetscCall(fill_vec(a, 0, master));
  if (a->momentum) {
    PetscCall(make_vec(comm, a, &mom));
    PetscCall(fill_vec(a, 1, mom));
  }
  PetscCall(PetscMalloc1(a->nbn, &running));
  for (PetscInt i = 0; i < a->nbn; i++) running[i] = value_f(a, i);
  if (a->theta0) {
    PetscCall(PetscMalloc1(nt, &theta0));
    for (PetscInt i = 0; i < nt; i++) theta0[i] = value_d(a, 2, i);
  }
  t0 = pof_now();
  PetscCall(pof_ckpt_write(comm, a->path, m, master, mom, running, theta0, nt));
  PetscCall(pof_print(comm, "written %s in %.3f s\n", a->path, pof_now() - t0));
  PetscCall(VecDestroy(&master));
  PetscCall(VecDestroy(&mom));
  PetscCall(PetscFree(running));
  PetscCall(PetscFree(theta0));
  PetscCall(PetscFree(m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

#define CHECK_FIELD(cond, name)                                    \
  do {                                                             \
    if (!(cond)) {                                                 \
      PetscCall(pof_print(comm, "metadata mismatch: %s\n", name)); \
      bad++;                                                       \
    }                                                              \
  } while (0)

static PetscErrorCode do_read(MPI_Comm comm, const Args *a)
{
  PofCkptMeta *m, *e;
  Vec          master, mom = NULL;
  float       *running;
  double      *theta0 = NULL;
  PetscInt     nt = a->classes * (a->nfeat + 1), bad = 0, vbad[4] = { 0, 0, 0, 0 };
  PetscMPIInt  size;
  double       t0;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscNew(&m));
  PetscCall(PetscNew(&e));
  make_meta(a, e);
  PetscCall(pof_ckpt_read_meta(comm, a->path, m));
  CHECK_FIELD(m->depth == e->depth && m->width == e->width && m->base == e->base,
              "depth/width/base");
  CHECK_FIELD(m->in_c == e->in_c && m->in_h == e->in_h && m->in_w == e->in_w &&
                  m->classes == e->classes,
              "input shape/classes");
  CHECK_FIELD(!strcmp(m->dataset, e->dataset), "dataset");
  CHECK_FIELD(m->n_params == e->n_params && m->n_feature == e->n_feature &&
                  m->n_bn_state == e->n_bn_state,
              "sizes");
  CHECK_FIELD(!strcmp(m->kind, e->kind), "kind");
  CHECK_FIELD(m->epochs_done == e->epochs_done && m->step_in_epoch == e->step_in_epoch &&
                  m->global_step == e->global_step && m->seed == e->seed,
              "progress");
  CHECK_FIELD(m->ranks == e->ranks, "ranks");
  CHECK_FIELD(!memcmp(&m->lr_base, &e->lr_base, sizeof(double)) &&
                  !memcmp(&m->lr_factor, &e->lr_factor, sizeof(double)),
              "lr_base/lr_factor");
  CHECK_FIELD(m->schedule == e->schedule && m->nmilestones == e->nmilestones &&
                  m->warmup_epochs == e->warmup_epochs && m->schedule_epochs == e->schedule_epochs,
              "schedule");
  CHECK_FIELD(!memcmp(m->milestones, e->milestones, sizeof(m->milestones)), "milestones");
  CHECK_FIELD(m->have_momentum == e->have_momentum && m->have_theta0 == e->have_theta0,
              "have_momentum/have_theta0");
  CHECK_FIELD(strlen(m->options_json) == 16000 && !strcmp(m->options_json, e->options_json),
              "options_json");

  PetscCall(make_vec(comm, a, &master));
  PetscCall(VecSet(master, 0.0));
  if (a->momentum) {
    PetscCall(make_vec(comm, a, &mom));
    PetscCall(VecSet(mom, 0.0));
  }
  PetscCall(PetscCalloc1(a->nbn, &running));
  if (a->theta0) PetscCall(PetscCalloc1(nt, &theta0));
  t0 = pof_now();
  PetscCall(pof_ckpt_read(comm, a->path, master, mom, running, theta0, nt));
  t0 = pof_now() - t0;
  PetscCall(diff_vec(a, 0, master, &vbad[0]));
  if (mom) PetscCall(diff_vec(a, 1, mom, &vbad[1]));
  for (PetscInt i = 0; i < a->nbn; i++) {
    const float f = value_f(a, i);
    if (memcmp(&running[i], &f, sizeof(f))) vbad[2]++;
  }
  for (PetscInt i = 0; theta0 && i < nt; i++) {
    const double d = value_d(a, 2, i);
    if (memcmp(&theta0[i], &d, sizeof(d))) vbad[3]++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, vbad, 4, MPIU_INT, MPI_SUM, comm));
  PetscCall(pof_print(comm,
                      "read at %d ranks in %.3f s: %" PetscInt_FMT " params, %" PetscInt_FMT
                      " momentum, %" PetscInt_FMT " bn_running, %" PetscInt_FMT
                      " theta0 values; bitwise differences %" PetscInt_FMT " %" PetscInt_FMT
                      " %" PetscInt_FMT " %" PetscInt_FMT "; metadata mismatches %" PetscInt_FMT
                      "\n",
                      size, t0, a->n, a->momentum ? a->n : 0, a->nbn, a->theta0 ? nt : 0, vbad[0],
                      vbad[1], vbad[2], vbad[3], bad));
  PetscCheck(bad == 0 && vbad[0] + vbad[1] + vbad[2] + vbad[3] == 0, comm, PETSC_ERR_PLIB,
             "round trip of %s is not exact", a->path);
  PetscCall(pof_print(comm, "roundtrip ok\n"));
  PetscCall(VecDestroy(&master));
  PetscCall(VecDestroy(&mom));
  PetscCall(PetscFree(running));
  PetscCall(PetscFree(theta0));
  PetscCall(PetscFree(m));
  PetscCall(PetscFree(e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode do_signature(MPI_Comm comm, const Args *a)
{
  PofCkptMeta *have, *want;
  PetscFunctionBegin;
  PetscCall(PetscNew(&have));
  PetscCall(PetscNew(&want));
  PetscCall(pof_ckpt_read_meta(comm, a->path, have));
  *want = *have;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-want_depth", &want->depth, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-want_width", &want->width, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-want_classes", &want->classes, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-want_dataset", want->dataset, sizeof(want->dataset),
                                  NULL));
  PetscCall(pof_ckpt_check_signature(comm, a->path, have, want));
  PetscCall(pof_print(comm,
                      "signature ok (wanted depth %" PetscInt_FMT ", width %" PetscInt_FMT
                      ", classes %" PetscInt_FMT ", dataset '%s')\n",
                      want->depth, want->width, want->classes, want->dataset));
  PetscCall(PetscFree(have));
  PetscCall(PetscFree(want));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(MPI_Comm comm)
{
  Args a;
  PetscFunctionBegin;
  memset(&a, 0, sizeof(a));
  a.n            = 1003;
  a.nbn          = 37;
  a.classes      = 10;
  a.nfeat        = 16;
  a.step         = 1234;
  a.vseed        = 1;
  a.keep         = 2;
  a.writer_ranks = 2;
  a.momentum     = PETSC_TRUE;
  a.theta0       = PETSC_TRUE;
  PetscCall(PetscOptionsGetString(NULL, NULL, "-mode", a.mode, sizeof(a.mode), NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-path", a.path, sizeof(a.path), NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-dir", a.dir, sizeof(a.dir), NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &a.n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-nbn", &a.nbn, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-classes", &a.classes, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-nfeat", &a.nfeat, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-step", &a.step, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-vseed", &a.vseed, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-keep", &a.keep, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-writer_ranks", &a.writer_ranks, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-momentum", &a.momentum, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-theta0", &a.theta0, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-uneven", &a.uneven, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-chunk", &a.chunk, NULL));
  if (a.chunk > 0) PetscCall(pof_ckpt_set_io_chunk(a.chunk));

  if (!strcmp(a.mode, "write"))
    PetscCall(do_write(comm, &a));
  else if (!strcmp(a.mode, "read"))
    PetscCall(do_read(comm, &a));
  else if (!strcmp(a.mode, "meta")) {
    PofCkptMeta *m;
    PetscCall(PetscNew(&m));
    const PetscErrorCode e = pof_ckpt_read_meta(comm, a.path, m); /* m freed also on an error */
    if (!e)
      PetscCall(pof_print(comm, "meta ok: %s step %" PetscInt_FMT "\n", m->kind, m->global_step));
    PetscCall(PetscFree(m));
    PetscCall(e);
  } else if (!strcmp(a.mode, "latest")) {
    char      path[POF_PATH_MAX];
    PetscBool found;
    PetscCall(pof_rundir_find_latest(comm, a.dir, path, sizeof(path), &found));
    if (found)
      PetscCall(pof_print(comm, "found %s\n", path));
    else
      PetscCall(pof_print(comm, "not found\n"));
  } else if (!strcmp(a.mode, "prune")) {
    PetscCall(pof_rundir_prune(comm, a.dir, a.keep));
    PetscCall(pof_print(comm, "pruned\n"));
  } else if (!strcmp(a.mode, "checkdir")) {
    PetscCall(pof_rundir_check(comm, a.dir));
    PetscCall(pof_print(comm, "dir ok\n"));
  } else if (!strcmp(a.mode, "signature"))
    PetscCall(do_signature(comm, &a));
  else if (!strcmp(a.mode, "name")) {
    char path[POF_PATH_MAX];
    PetscCall(pof_rundir_ckpt_name(a.dir, a.step, path, sizeof(path)));
    PetscCall(pof_print(comm, "%s\n", path));
  } else
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "unknown -mode '%s'", a.mode);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr = PetscInitialize(&argc, &argv, NULL, NULL);
  if (ierr) return 1;
  ierr = pof_error_handler_push();
  if (!ierr) ierr = pof_comm_finish_init();
  if (!ierr) ierr = run(PETSC_COMM_WORLD);
  return pof_comm_finish(NULL, ierr, 0);
}
