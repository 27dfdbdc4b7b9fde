/* PoF range search on weak features. See include/pof/pof.h and POF.md. */
#include "pof/pof.h"
#include "pof/rng.h"

#include <math.h>

/* CE of one row of logits z0 - eta u (double). */
static double ce_row(PetscInt C, const double *z0, const double *u, double eta, PetscInt label)
{
  double mx = -INFINITY;
  for (PetscInt c = 0; c < C; c++) {
    const double z = z0[c] - eta * u[c];
    if (z > mx) mx = z;
  }
  double se = 0;
  for (PetscInt c = 0; c < C; c++) se += exp(z0[c] - eta * u[c] - mx);
  // cppcheck-suppress invalidFunctionArg ; se >= 1: the largest term is exp(0)
  return mx + log(se) - (z0[label] - eta * u[label]);
}

static PetscErrorCode reduce(PofSumFn fn, void *ctx, double *buf, PetscInt n)
{
  PetscFunctionBegin;
  if (fn) PetscCall(fn(ctx, buf, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

double pof_gamma_draw(PetscInt seed, PetscInt epoch, PetscInt step, PetscInt slot, double gamma_max)
{
  PofRng r;
  pof_rng_init(&r, (uint64_t)seed, POF_RNG_GAMMA, (uint32_t)epoch, (uint32_t)step, (uint32_t)slot);
  return gamma_max * pof_rng_uniform(&r);
}

/* Step 3 (local part): logits z0 (n, C) and softmax p (n, C) of the weak features under θ0, and
   into dir the sums of the CE gradient (g_W (C, F), then g_b (C)); returns the local CE sum. */
static double direction_sums(PetscInt F, PetscInt C, const double *W0, const double *b0, PetscInt n,
                             const float *h, const int32_t *y, double *z0, double *p, double *dir)
{
  double L0_local = 0;
  for (PetscInt i = 0; i < n; i++) {
    double *zi = z0 + (size_t)i * (size_t)C, *pi = p + (size_t)i * (size_t)C, mx = -INFINITY,
           se = 0;
    for (PetscInt c = 0; c < C; c++) {
      double s = b0[c];
      for (PetscInt f = 0; f < F; f++) s += W0[c * F + f] * (double)h[i * F + f];
      zi[c] = s;
      if (s > mx) mx = s;
    }
    for (PetscInt c = 0; c < C; c++) se += exp(zi[c] - mx);
    // cppcheck-suppress invalidFunctionArg ; se >= 1: the largest term is exp(0)
    const double lse = mx + log(se);
    L0_local += lse - zi[y[i]];
    for (PetscInt c = 0; c < C; c++) {
      pi[c]           = exp(zi[c] - lse);
      const double d  = pi[c] - (c == y[i] ? 1.0 : 0.0);
      double      *gW = dir + (size_t)c * (size_t)F;
      for (PetscInt f = 0; f < F; f++) gW[f] += d * (double)h[i * F + f];
      dir[C * F + c] += d;
    }
  }
  return L0_local;
}

/* u_i = G h_i + g_b (n, C); returns the curvature sum Σ_i [Σ_c p u² − (Σ_c p u)²]. */
static double curvature_sum(PetscInt F, PetscInt C, const double *gW, const double *gb, PetscInt n,
                            const float *h, const double *p, double *u)
{
  double kap = 0;
  for (PetscInt i = 0; i < n; i++) {
    double *ui = u + (size_t)i * (size_t)C, pu = 0, pu2 = 0;
    for (PetscInt c = 0; c < C; c++) {
      double s = gb[c];
      for (PetscInt f = 0; f < F; f++) s += gW[c * F + f] * (double)h[i * F + f];
      ui[c] = s;
      pu += p[i * C + c] * s;
      pu2 += p[i * C + c] * s * s;
    }
    kap += pu2 - pu * pu;
  }
  return kap;
}

/* Local CE sum at step eta along -g for each of the m steps eta[k]. */
static void trial_sums(PetscInt C, PetscInt n, const double *z0, const double *u, const int32_t *y,
                       PetscInt m, const double *eta, double *out)
{
  for (PetscInt k = 0; k < m; k++) {
    double s = 0;
    for (PetscInt i = 0; i < n; i++)
      s += ce_row(C, z0 + (size_t)i * (size_t)C, u + (size_t)i * (size_t)C, eta[k], y[i]);
    out[k] = s;
  }
}

/* Step 4: the first trial step 2^j eta_init whose loss exceeds Lref (capped at eta_cap), and the
   curvature along g from the same reduction. */
static PetscErrorCode bracket(const PofPofConfig *cfg, const PofRangeComm *rc, PetscInt J,
                              PetscInt C, PetscInt n, const double *z0, const double *u,
                              const int32_t *y, double kap, double gn, double Lref, double *trial,
                              double *eta, PofRangeResult *res)
{
  PetscInt first = -1;
  PetscFunctionBegin;
  for (PetscInt j = 0; j < J; j++) eta[j] = cfg->eta_init * ldexp(1.0, (int)j);
  trial_sums(C, n, z0, u, y, J, eta, trial);
  trial[J]     = kap;
  trial[J + 1] = (double)n;
  PetscCall(reduce(rc->range_sum, rc->range_ctx, trial, J + 2));
  res->kappa  = gn > 0 ? trial[J] / trial[J + 1] / gn : 0.0;
  res->trials = J;
  for (PetscInt j = 0; j < J; j++)
    if (trial[j] > Lref) {
      first = j;
      break;
    }
  res->capped   = first < 0 ? PETSC_TRUE : PETSC_FALSE;
  res->rejected = (first < 0 && cfg->flat == POF_FLAT_REJECT) ? PETSC_TRUE : PETSC_FALSE;
  res->eta_max  = first >= 0 ? cfg->eta_init * ldexp(1.0, (int)first) : cfg->eta_cap;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Step 5: K points k eta_max / K in one reduction; ties go to the smallest k. */
static PetscErrorCode grid(const PofRangeComm *rc, PetscInt K, PetscInt C, PetscInt n,
                           const double *z0, const double *u, const int32_t *y, double *trial,
                           double *eta, PofRangeResult *res)
{
  PetscInt best = 0;
  PetscFunctionBegin;
  for (PetscInt k = 1; k <= K; k++) eta[k - 1] = (double)k * res->eta_max / (double)K;
  trial_sums(C, n, z0, u, y, K, eta, trial);
  PetscCall(reduce(rc->range_sum, rc->range_ctx, trial, K));
  for (PetscInt k = 1; k < K; k++)
    if (trial[k] < trial[best]) best = k;
  res->eta_star = (double)(best + 1) * res->eta_max / (double)K;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The scratch of one search (one allocation, freed on every path by pof_range_search). */
typedef struct {
  double  *z0, *p, *u, *dir, *trial, *eta;
  PetscInt J, K, nd;
} RangeWork;

static PetscErrorCode range_body(const PofPofConfig *cfg, const PofRangeComm *rc, PetscInt F,
                                 PetscInt C, const double *W0, const double *b0, PetscInt n,
                                 const float *h, const int32_t *y, PetscInt weak_global,
                                 double gamma, float *Wt, float *bt, PofRangeResult *res,
                                 RangeWork *w)
{
  double *z0 = w->z0, *p = w->p, *u = w->u, *dir = w->dir, *trial = w->trial, *eta = w->eta;
  PetscFunctionBegin;
  PetscCall(PetscArrayzero(dir, w->nd));

  /* 3. direction: one reduction of the gradient sums, L0 and the weak count */
  const double L0_local = direction_sums(F, C, W0, b0, n, h, y, z0, p, dir);
  dir[C * F + C]        = L0_local;
  dir[C * F + C + 1]    = (double)n;
  PetscCall(reduce(rc->dir_sum, rc->dir_ctx, dir, w->nd));
  const double Bw = dir[C * F + C + 1];
  PetscCheck(Bw == (double)weak_global, PETSC_COMM_SELF, PETSC_ERR_PLIB,
             "weak batch count %g differs from %" PetscInt_FMT, Bw, weak_global);
  for (PetscInt k = 0; k < C * F + C; k++) dir[k] /= Bw; /* g */
  const double *gW = dir, *gb = dir + (size_t)C * (size_t)F;
  double        gn = 0;
  for (PetscInt k = 0; k < C * F + C; k++) gn += dir[k] * dir[k];
  res->gnorm       = sqrt(gn);
  res->L0          = dir[C * F + C] / Bw;
  const double kap = curvature_sum(F, C, gW, gb, n, h, p, u);

  /* 4. bracket and 5. grid */
  const int    global = rc->range_sum != NULL || rc->dir_sum == NULL; /* range shared with g */
  const double Lref   = global ? dir[C * F + C] : L0_local; /* sums over the same samples */
  PetscCall(bracket(cfg, rc, w->J, C, n, z0, u, y, kap, gn, Lref, trial, eta, res));
  if (res->rejected)
    res->eta_max = res->eta_star = 0;
  else
    PetscCall(grid(rc, w->K, C, n, z0, u, y, trial, eta, res));

  /* 6-7. expansion and perturbation */
  res->gamma     = gamma;
  const double s = res->rejected ? 0.0 : gamma * res->eta_star;
  for (PetscInt k = 0; k < C * F; k++) Wt[k] = (float)(W0[k] - s * gW[k]);
  for (PetscInt c = 0; c < C; c++) bt[c] = (float)(b0[c] - s * gb[c]);
  res->pert_norm = s * res->gnorm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_range_search(const PofPofConfig *cfg, const PofRangeComm *rc, PetscInt F,
                                PetscInt C, const double *W0, const double *b0, PetscInt n,
                                const float *h, const int32_t *y, PetscInt weak_global,
                                double gamma, float *Wt, float *bt, PofRangeResult *res)
{
  RangeWork w = { NULL, NULL, NULL, NULL, NULL, NULL, 0, cfg->partitions, C * F + C + 2 };
  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++)
    PetscCheck(y[i] >= 0 && y[i] < C, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "weak label %d out of range [0, %" PetscInt_FMT ")", (int)y[i], C);
  /* the grid eta_init * 2^j up to eta_cap, counted with an integer (no float loop counter) */
  while (w.J < 1024 && cfg->eta_init * ldexp(1.0, (int)w.J) <= cfg->eta_cap * (1 + 1e-12)) w.J++;
  /* nd: g_W, g_b, L0 sum, weak count */
  PetscCall(PetscMalloc6(n * C, &w.z0, n * C, &w.p, n * C, &w.u, w.nd, &w.dir,
                         PetscMax(w.J, w.K) + 2, &w.trial, PetscMax(w.J, w.K) + 2, &w.eta));
  const PetscErrorCode ierr =
      range_body(cfg, rc, F, C, W0, b0, n, h, y, weak_global, gamma, Wt, bt, res, &w);
  PetscCall(PetscFree6(w.z0, w.p, w.u, w.dir, w.trial, w.eta));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
