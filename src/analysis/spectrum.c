/* Hessian operators, the MATSHELL, SLEPc top-k and Hutchinson traces: see include/pof/analysis.h.
 */
#include "pof/analysis.h"
#include "pof/comm.h"
#include "pof/rng.h"

#include <math.h>
#include <slepceps.h>

static double norm2(PetscInt n, const double *v)
{
  double s = 0;
  for (PetscInt i = 0; i < n; i++) s += v[i] * v[i];
  return sqrt(s);
}

/* ------------------------------------------------------------------ whole network */
typedef struct {
  PofLossFn L;
  PetscInt  n;
  double   *theta, *tp, *gp, *gm;
  double    eps_rel, theta_norm;
} NetCtx;

static PetscErrorCode net_apply(void *ctx, const double *v, double *hv)
{
  NetCtx      *c  = (NetCtx *)ctx;
  const double vn = norm2(c->n, v);
  PetscFunctionBegin;
  if (vn == 0) {
    for (PetscInt i = 0; i < c->n; i++) hv[i] = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const double eps = c->eps_rel * (1.0 + c->theta_norm) / vn;
  for (PetscInt i = 0; i < c->n; i++) c->tp[i] = c->theta[i] + eps * v[i];
  PetscCall(pof_lossfn_grad(c->L, c->tp, NULL, c->gp));
  for (PetscInt i = 0; i < c->n; i++) c->tp[i] = c->theta[i] - eps * v[i];
  PetscCall(pof_lossfn_grad(c->L, c->tp, NULL, c->gm));
  for (PetscInt i = 0; i < c->n; i++) hv[i] = (c->gp[i] - c->gm[i]) / (2 * eps);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode net_destroy(void *ctx)
{
  NetCtx *c = (NetCtx *)ctx;
  PetscFunctionBegin;
  PetscCall(pof_lossfn_freeze_relu(c->L, NULL, PETSC_FALSE));
  PetscCall(PetscFree4(c->theta, c->tp, c->gp, c->gm));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hess_network_create(PofLossFn L, const double *theta, double eps_rel,
                                       PofHessOp *op)
{
  NetCtx *c;
  PetscFunctionBegin;
  PetscCall(PetscCalloc1(1, &c));
  c->L       = L;
  c->n       = pof_wrn_num_params(pof_lossfn_model(L));
  c->eps_rel = eps_rel;
  PetscCall(PetscMalloc4(c->n, &c->theta, c->n, &c->tp, c->n, &c->gp, c->n, &c->gm));
  PetscCall(PetscArraycpy(c->theta, theta, c->n));
  c->theta_norm = norm2(c->n, theta);
  PetscCall(pof_lossfn_freeze_relu(L, theta, PETSC_TRUE));
  op->n     = c->n;
  op->apply = net_apply;
  op->ctx   = c;
  op->count = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ classifier block */
typedef struct {
  MPI_Comm  comm;
  PetscInt  nl, F, C, N, n;
  double   *h; /* nl × F */
  int32_t  *y;
  double   *theta, *tp, *gp, *gm, *z, *p;
  double    eps_rel, theta_norm;
  PetscBool exact;
} ClsCtx;

/* softmax of row z into p (double) */
static void softmax(PetscInt C, const double *z, double *p)
{
  double mx = z[0], s = 0;
  for (PetscInt j = 1; j < C; j++) mx = PetscMax(mx, z[j]);
  for (PetscInt j = 0; j < C; j++) s += (p[j] = exp(z[j] - mx));
  for (PetscInt j = 0; j < C; j++) p[j] /= s;
}

/* loss and gradient (summed over ranks) at Wb; grad has n entries (W then b) */
static PetscErrorCode cls_grad(ClsCtx *c, const double *Wb, double *loss, double *grad)
{
  const PetscInt F = c->F, C = c->C;
  const double  *W = Wb, *b = Wb + (size_t)C * (size_t)F;
  double         ls = 0;
  PetscFunctionBegin;
  for (PetscInt i = 0; i <= c->n; i++) c->gm[i] = 0; /* gm is n+1 long: scratch with the loss */
  for (PetscInt i = 0; i < c->nl; i++) {
    const double *hi = c->h + (size_t)i * (size_t)F;
    for (PetscInt j = 0; j < C; j++) {
      double s = b[j];
      for (PetscInt f = 0; f < F; f++) s += W[j * F + f] * hi[f];
      c->z[j] = s;
    }
    softmax(C, c->z, c->p);
    ls -= log(PetscMax(c->p[c->y[i]], 1e-300));
    c->p[c->y[i]] -= 1.0;
    for (PetscInt j = 0; j < C; j++) {
      for (PetscInt f = 0; f < F; f++) c->gm[j * F + f] += c->p[j] * hi[f];
      c->gm[C * F + j] += c->p[j];
    }
  }
  c->gm[c->n] = ls;
  PetscCall(pof_comm_allreduce_sum(c->comm, c->gm, c->n + 1));
  for (PetscInt i = 0; i < c->n; i++) grad[i] = c->gm[i] / (double)c->N;
  if (loss) *loss = c->gm[c->n] / (double)c->N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* closed form: Hv = (1/N) Σ_i J_iᵀ (diag p − p pᵀ) J_i v */
static PetscErrorCode cls_exact(ClsCtx *c, const double *v, double *hv)
{
  const PetscInt F = c->F, C = c->C;
  const double  *W = c->theta, *b = c->theta + (size_t)C * (size_t)F, *V = v,
               *vb = v + (size_t)C * (size_t)F;
  PetscFunctionBegin;
  for (PetscInt i = 0; i < c->n; i++) c->gm[i] = 0;
  for (PetscInt i = 0; i < c->nl; i++) {
    const double *hi = c->h + (size_t)i * (size_t)F;
    double       *u  = c->tp; /* J_i v, C entries */
    for (PetscInt j = 0; j < C; j++) {
      double s = b[j], t = vb[j];
      for (PetscInt f = 0; f < F; f++) {
        s += W[j * F + f] * hi[f];
        t += V[j * F + f] * hi[f];
      }
      c->z[j] = s;
      u[j]    = t;
    }
    softmax(C, c->z, c->p);
    double pu = 0;
    for (PetscInt j = 0; j < C; j++) pu += c->p[j] * u[j];
    for (PetscInt j = 0; j < C; j++) {
      const double r = c->p[j] * (u[j] - pu);
      for (PetscInt f = 0; f < F; f++) c->gm[j * F + f] += r * hi[f];
      c->gm[C * F + j] += r;
    }
  }
  PetscCall(pof_comm_allreduce_sum(c->comm, c->gm, c->n));
  for (PetscInt i = 0; i < c->n; i++) hv[i] = c->gm[i] / (double)c->N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode cls_apply(void *ctx, const double *v, double *hv)
{
  ClsCtx      *c  = (ClsCtx *)ctx;
  const double vn = norm2(c->n, v);
  PetscFunctionBegin;
  if (c->exact) {
    PetscCall(cls_exact(c, v, hv));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (vn == 0) {
    for (PetscInt i = 0; i < c->n; i++) hv[i] = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const double eps = c->eps_rel * (1.0 + c->theta_norm) / vn;
  double      *tq  = c->tp + c->n; /* second half of tp */
  for (PetscInt i = 0; i < c->n; i++) tq[i] = c->theta[i] + eps * v[i];
  PetscCall(cls_grad(c, tq, NULL, c->gp));
  for (PetscInt i = 0; i < c->n; i++) tq[i] = c->theta[i] - eps * v[i];
  PetscCall(cls_grad(c, tq, NULL, hv));
  for (PetscInt i = 0; i < c->n; i++) hv[i] = (c->gp[i] - hv[i]) / (2 * eps);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode cls_destroy(void *ctx)
{
  ClsCtx *c = (ClsCtx *)ctx;
  PetscFunctionBegin;
  PetscCall(PetscFree2(c->h, c->y));
  PetscCall(PetscFree6(c->theta, c->tp, c->gp, c->gm, c->z, c->p));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hess_classifier_create(MPI_Comm comm, PetscInt nlocal, PetscInt F, PetscInt C,
                                          const float *h, const int32_t *y, PetscInt nglobal,
                                          const double *W0, const double *b0, double eps_rel,
                                          PetscBool exact, PofHessOp *op)
{
  ClsCtx *c;
  PetscFunctionBegin;
  PetscCheck(nglobal > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "empty evaluation subset");
  PetscCall(PetscCalloc1(1, &c));
  c->comm    = comm;
  c->nl      = nlocal;
  c->F       = F;
  c->C       = C;
  c->N       = nglobal;
  c->n       = C * (F + 1);
  c->eps_rel = eps_rel;
  c->exact   = exact;
  PetscCall(PetscMalloc2(PetscMax(nlocal, 1) * F, &c->h, PetscMax(nlocal, 1), &c->y));
  for (PetscInt i = 0; i < nlocal * F; i++) c->h[i] = h[i];
  for (PetscInt i = 0; i < nlocal; i++) {
    PetscCheck(y[i] >= 0 && y[i] < C, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "label %d outside [0, %" PetscInt_FMT ")", (int)y[i], C);
    c->y[i] = y[i];
  }
  PetscCall(PetscMalloc6(c->n, &c->theta, 2 * c->n, &c->tp, c->n, &c->gp, c->n + 1, &c->gm, C,
                         &c->z, C, &c->p));
  PetscCall(PetscArraycpy(c->theta, W0, C * F));
  PetscCall(PetscArraycpy(c->theta + (size_t)C * (size_t)F, b0, C));
  c->theta_norm = norm2(c->n, c->theta);
  op->n         = c->n;
  op->apply     = cls_apply;
  op->ctx       = c;
  op->count     = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hess_classifier_grad(PofHessOp *op, const double *Wb, double *loss, double *grad)
{
  PetscFunctionBegin;
  PetscCheck(op->apply == cls_apply, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "not a classifier-block operator");
  PetscCall(cls_grad((ClsCtx *)op->ctx, Wb, loss, grad));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hess_op_destroy(PofHessOp *op)
{
  PetscFunctionBegin;
  if (op->ctx) PetscCall(op->apply == cls_apply ? cls_destroy(op->ctx) : net_destroy(op->ctx));
  op->ctx = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hess_op_apply(PofHessOp *op, const double *v, double *hv)
{
  PetscFunctionBegin;
  PetscCall(op->apply(op->ctx, v, hv));
  op->count++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ MATSHELL */
typedef struct {
  PofHessOp *op;
  VecScatter sc;
  Vec        all;
  double    *hv;
} ShellCtx;

static PetscErrorCode shell_mult(Mat A, Vec x, Vec y)
{
  ShellCtx          *s;
  const PetscScalar *a;
  PetscScalar       *o;
  PetscInt           lo, hi;
  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &s));
  PetscCall(VecScatterBegin(s->sc, x, s->all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(s->sc, x, s->all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(s->all, &a));
  PetscCall(pof_hess_op_apply(s->op, a, s->hv));
  PetscCall(VecRestoreArrayRead(s->all, &a));
  PetscCall(VecGetOwnershipRange(y, &lo, &hi));
  PetscCall(VecGetArray(y, &o));
  for (PetscInt i = lo; i < hi; i++) o[i - lo] = s->hv[i];
  PetscCall(VecRestoreArray(y, &o));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode shell_destroy(Mat A)
{
  ShellCtx *s;
  PetscFunctionBegin;
  PetscCall(MatShellGetContext(A, &s));
  PetscCall(VecScatterDestroy(&s->sc));
  PetscCall(VecDestroy(&s->all));
  PetscCall(PetscFree(s->hv));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hess_shell(MPI_Comm comm, PofHessOp *op, Mat *A)
{
  ShellCtx *s;
  Vec       v;
  PetscFunctionBegin;
  PetscCall(PetscCalloc1(1, &s));
  s->op = op;
  PetscCall(PetscMalloc1(op->n, &s->hv));
  PetscCall(VecCreateMPI(comm, PETSC_DECIDE, op->n, &v));
  PetscCall(VecScatterCreateToAll(v, &s->sc, &s->all));
  PetscInt nl;
  PetscCall(VecGetLocalSize(v, &nl));
  PetscCall(VecDestroy(&v));
  PetscCall(MatCreateShell(comm, nl, nl, op->n, op->n, s, A));
  PetscCall(MatShellSetOperation(*A, MATOP_MULT, (void (*)(void))shell_mult));
  PetscCall(MatShellSetOperation(*A, MATOP_DESTROY, (void (*)(void))shell_destroy));
  PetscCall(MatSetOption(*A, MAT_SYMMETRIC, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ spectra */
PetscErrorCode pof_curvature(PofHessOp *op, const double *v, double *kappa)
{
  double *hv, vhv = 0, vv = 0;
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(op->n, &hv));
  PetscCall(pof_hess_op_apply(op, v, hv));
  for (PetscInt i = 0; i < op->n; i++) {
    vhv += v[i] * hv[i];
    vv += v[i] * v[i];
  }
  *kappa = vv > 0 ? vhv / vv : NAN;
  PetscCall(PetscFree(hv));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_hutchinson(PofHessOp *op, PetscInt probes, PetscInt seed, double *trace,
                              double *se)
{
  double *z, *hz, s = 0, s2 = 0;
  PetscFunctionBegin;
  *trace = *se = NAN;
  if (probes <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc2(op->n, &z, op->n, &hz));
  for (PetscInt p = 0; p < probes; p++) {
    PofRng r;
    pof_rng_init(&r, (uint64_t)seed, POF_RNG_HUTCH, (uint32_t)p, 0, 0);
    for (PetscInt i = 0; i < op->n; i += 32) {
      const uint32_t bits = pof_rng_u32(&r);
      for (PetscInt j = 0; j < 32 && i + j < op->n; j++) z[i + j] = ((bits >> j) & 1u) ? 1.0 : -1.0;
    }
    PetscCall(pof_hess_op_apply(op, z, hz));
    double q = 0;
    for (PetscInt i = 0; i < op->n; i++) q += z[i] * hz[i];
    s += q;
    s2 += q * q;
  }
  *trace = s / (double)probes;
  if (probes > 1) {
    const double var = PetscMax(0.0, (s2 - s * s / (double)probes) / (double)(probes - 1));
    *se              = sqrt(var / (double)probes);
  }
  PetscCall(PetscFree2(z, hz));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_spectrum_compute(MPI_Comm comm, PofHessOp *op, PetscInt k, PetscBool vectors,
                                    double tol, PetscInt max_it, PetscInt probes, PetscInt seed,
                                    PofSpectrum *s)
{
  Mat        A;
  EPS        eps;
  Vec        xr;
  VecScatter sc;
  Vec        all;
  double     t0 = pof_now();
  PetscFunctionBegin;
  PetscCall(PetscMemzero(s, sizeof(*s)));
  PetscCheck(k >= 1 && k < op->n, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-analyze_top_k %" PetscInt_FMT " must be in [1, %" PetscInt_FMT
             ") for a block of %" PetscInt_FMT " parameters",
             k, op->n, op->n);
  s->n              = op->n;
  s->k              = k;
  const PetscInt c0 = op->count;
  PetscCall(PetscMalloc2(k, &s->eig, k, &s->resid));
  for (PetscInt i = 0; i < k; i++) s->eig[i] = s->resid[i] = NAN;
  if (vectors) PetscCall(PetscCalloc1(k * op->n, &s->vec));
  PetscCall(pof_hess_shell(comm, op, &A));
  PetscCall(EPSCreate(comm, &eps));
  PetscCall(EPSSetOperators(eps, A, NULL));
  PetscCall(EPSSetProblemType(eps, EPS_HEP));
  PetscCall(EPSSetWhichEigenpairs(eps, EPS_LARGEST_REAL));
  PetscCall(EPSSetType(eps, EPSKRYLOVSCHUR));
  {
    PetscInt ncv = PetscMin(op->n, PetscMax(2 * k + 1, k + 8));
    PetscCall(EPSSetDimensions(eps, k, ncv, PETSC_DEFAULT));
  }
  PetscCall(EPSSetTolerances(eps, tol, max_it));
  {
    /* deterministic start vector: stream (seed, HUTCH, 2^23) */
    Vec          v0;
    PetscScalar *a;
    PetscInt     lo, hi;
    PofRng       r;
    PetscCall(MatCreateVecs(A, &v0, NULL));
    PetscCall(VecGetOwnershipRange(v0, &lo, &hi));
    PetscCall(VecGetArray(v0, &a));
    pof_rng_init(&r, (uint64_t)seed, POF_RNG_HUTCH, 1u << 23, 0, 0);
    for (PetscInt i = 0; i < op->n; i++) {
      const double u = pof_rng_uniform(&r) - 0.5;
      if (i >= lo && i < hi) a[i - lo] = u;
    }
    PetscCall(VecRestoreArray(v0, &a));
    PetscCall(EPSSetInitialSpace(eps, 1, &v0));
    PetscCall(VecDestroy(&v0));
  }
  PetscCall(EPSSolve(eps));
  PetscCall(EPSGetConverged(eps, &s->nconv));
  PetscCall(MatCreateVecs(A, &xr, NULL));
  PetscCall(VecScatterCreateToAll(xr, &sc, &all));
  for (PetscInt i = 0; i < PetscMin(k, s->nconv); i++) {
    PetscScalar lr, li;
    PetscReal   err;
    PetscCall(EPSGetEigenpair(eps, i, &lr, &li, xr, NULL));
    PetscCall(EPSComputeError(eps, i, EPS_ERROR_RELATIVE, &err));
    s->eig[i]   = (double)lr;
    s->resid[i] = (double)err;
    if (vectors) {
      const PetscScalar *a;
      PetscCall(VecScatterBegin(sc, xr, all, INSERT_VALUES, SCATTER_FORWARD));
      PetscCall(VecScatterEnd(sc, xr, all, INSERT_VALUES, SCATTER_FORWARD));
      PetscCall(VecGetArrayRead(all, &a));
      for (PetscInt j = 0; j < op->n; j++) s->vec[i * op->n + j] = a[j];
      PetscCall(VecRestoreArrayRead(all, &a));
    }
  }
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&all));
  PetscCall(VecDestroy(&xr));
  PetscCall(EPSDestroy(&eps));
  PetscCall(MatDestroy(&A));
  s->probes = probes;
  PetscCall(pof_hutchinson(op, probes, seed, &s->trace, &s->trace_se));
  s->hv_count = op->count - c0;
  s->seconds  = pof_now() - t0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_spectrum_free(PofSpectrum *s)
{
  PetscCallVoid(PetscFree2(s->eig, s->resid));
  PetscCallVoid(PetscFree(s->vec));
}
