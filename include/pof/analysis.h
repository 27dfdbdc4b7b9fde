/**
 * @file analysis.h
 * @brief pof analyze: Hessian spectra, Hutchinson traces, curvatures and loss landscapes of a
 *        model on a fixed evaluation subset (PETSc MATSHELL + SLEPc EPS).
 *
 * The loss is L(θ) = (1/N) Σ_i CE(f(x_i; θ), y_i) over a fixed subset of N samples with BN in
 * eval mode (running statistics), so L is a deterministic function of the parameters. The
 * subset is sharded across the ranks of the communicator (each rank holds a contiguous share);
 * losses and gradients are summed over ranks in double.
 *
 * Hessian-vector products: Hv = (∇L(θ + εv) − ∇L(θ − εv)) / (2ε), with exact (backward-pass)
 * gradients, ε = eps_rel·(1 + ‖θ‖)/‖v‖ per direction, and the ReLU patterns frozen at θ
 * (pof_lossfn_freeze_relu), so the quotient is the Hessian of the piece of the piecewise-smooth
 * loss that contains θ (the generalized Hessian; ReLU kinks contribute nothing) and not noise. The
 * operator is wrapped as a PETSc MATSHELL over an MPI Vec of the parameters (rank r owns a
 * contiguous slice); every product gathers v to all ranks, runs the two gradient passes
 * data-parallel and keeps the own slice.
 *
 * Classifier block: with the features h_i fixed (computed once at θ), the Hessian of L with
 * respect to θ = (W, b) has the closed form (1/N) Σ_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i with
 * J_i v = V h_i + v_b; the block operator uses the same finite-difference quotient on the
 * double-precision classifier gradient (or, for checks, this closed form).
 *
 * All functions are collective on the communicator of the loss object unless stated.
 */
#ifndef POF_ANALYSIS_H
#define POF_ANALYSIS_H

#include <petscmat.h>

#include "pof/config.h"
#include "pof/nn.h"

/* The -analyze_* options are PofAnalyzeConfig in pof/config.h (rows of the option table). */

/* ------------------------------------------------------------------ loss function object */
typedef struct PofLossFn_s *PofLossFn;

/**
 * Mean CE over a sharded subset: this rank's nlocal samples x (nlocal × C×H×W, copied) and
 * labels y (copied), N = nglobal over comm, processed in chunks of `batch`. The model m is used
 * (its parameter arena is overwritten by every evaluation; BN running statistics are read).
 */
PetscErrorCode pof_lossfn_create(MPI_Comm comm, PofWrn m, PetscInt nlocal, const float *x,
                                 const int32_t *y, PetscInt nglobal, PetscInt batch, PofLossFn *L);
PetscErrorCode pof_lossfn_destroy(PofLossFn *L);
PofWrn         pof_lossfn_model(PofLossFn L);
MPI_Comm       pof_lossfn_comm(PofLossFn L);
/** Loss (mean) and error (%) at θ (n_params doubles, identical on all ranks). */
PetscErrorCode pof_lossfn_eval(PofLossFn L, const double *theta, double *loss, double *err_pct);
/** Loss values at the k points θ + a1[j] d1 + a2[j] d2 (d2 NULL = none); one reduction for all. */
PetscErrorCode pof_lossfn_eval_points(PofLossFn L, const double *theta, const double *d1,
                                      const double *a1, const double *d2, const double *a2,
                                      PetscInt k, double *loss);
/** Loss and full gradient (n_params doubles, summed over ranks, identical on all ranks) at θ. */
PetscErrorCode pof_lossfn_grad(PofLossFn L, const double *theta, double *loss, double *grad);
/**
 * freeze = PETSC_TRUE: record every ReLU's on/off pattern on the subset at θ and use these
 * patterns in all later passes (the loss becomes the smooth function of the piece containing θ,
 * so difference quotients of gradients are not spoiled by kinks); PETSC_FALSE: live ReLUs again.
 * Memory: pof_wrn_relu_mask_bytes per sample share (one byte per activation). Local.
 */
PetscErrorCode pof_lossfn_freeze_relu(PofLossFn L, const double *theta, PetscBool freeze);
/** Features (nlocal × F floats, this rank's share) at θ in eval mode. Local. */
PetscErrorCode pof_lossfn_features(PofLossFn L, const double *theta, float *h);
PetscInt       pof_lossfn_nlocal(PofLossFn L);
const int32_t *pof_lossfn_labels(PofLossFn L);

/* ------------------------------------------------------------------ Hessian operators */
/** hv = H v for full vectors of length n (identical on all ranks). Collective. */
typedef PetscErrorCode (*PofHvFn)(void *ctx, const double *v, double *hv);

typedef struct {
  PetscInt n;
  PofHvFn  apply;
  void    *ctx;
  PetscInt count; /**< products applied so far */
} PofHessOp;

/** Whole-network operator at θ (copied) by central differences of exact gradients; freezes the
    ReLU patterns of L at θ until pof_hess_op_destroy. */
PetscErrorCode pof_hess_network_create(PofLossFn L, const double *theta, double eps_rel,
                                       PofHessOp *op);
/**
 * Classifier-block operator on fixed features: h (nlocal × F) and y are this rank's share,
 * nglobal the subset size, θ0 = (W0 [C × F], b0 [C]) doubles. exact: closed-form Hv, else the
 * central difference of the double-precision block gradient with ε = eps_rel(1+‖θ0‖)/‖v‖.
 */
PetscErrorCode pof_hess_classifier_create(MPI_Comm comm, PetscInt nlocal, PetscInt F, PetscInt C,
                                          const float *h, const int32_t *y, PetscInt nglobal,
                                          const double *W0, const double *b0, double eps_rel,
                                          PetscBool exact, PofHessOp *op);
/** Mean loss and gradient (C(F+1) doubles: W then b) of the classifier block at (W, b). */
PetscErrorCode pof_hess_classifier_grad(PofHessOp *op, const double *Wb, double *loss,
                                        double *grad);
PetscErrorCode pof_hess_op_destroy(PofHessOp *op);
PetscErrorCode pof_hess_op_apply(PofHessOp *op, const double *v, double *hv);

/** A MATSHELL of op over an MPI Vec layout on comm (PETSC_DECIDE ownership). */
PetscErrorCode pof_hess_shell(MPI_Comm comm, PofHessOp *op, Mat *A);

/** Top-k spectrum and Hutchinson trace of one block. */
typedef struct {
  PetscInt n, k, nconv;
  double  *eig;   /**< k largest algebraic eigenvalues, descending (NaN where not converged) */
  double  *resid; /**< their relative residuals ‖Hx − λx‖/|λ| */
  double  *vec;   /**< k × n eigenvectors (NULL unless requested) */
  double   trace, trace_se; /**< Hutchinson mean and standard error (NaN when off) */
  PetscInt probes, hv_count;
  double   seconds;
} PofSpectrum;

/** Top-k eigenpairs with SLEPc (Krylov-Schur, largest algebraic) and the trace with `probes`
    Rademacher vectors from stream (seed, POF_RNG_HUTCH, probe). */
PetscErrorCode pof_spectrum_compute(MPI_Comm comm, PofHessOp *op, PetscInt k, PetscBool vectors,
                                    double tol, PetscInt max_it, PetscInt probes, PetscInt seed,
                                    PofSpectrum *s);
/** Hutchinson alone: mean and standard error of zᵀHz. */
PetscErrorCode pof_hutchinson(PofHessOp *op, PetscInt probes, PetscInt seed, double *trace,
                              double *se);
/** κ = vᵀHv/‖v‖². */
PetscErrorCode pof_curvature(PofHessOp *op, const double *v, double *kappa);
void           pof_spectrum_free(PofSpectrum *s);

/* ------------------------------------------------------------------ directions and landscapes */
/**
 * Filter-normalized random direction (Li et al. 2018) from stream (seed, POF_RNG_DIRECTION,
 * index): Gaussian entries, each conv filter (output channel) and each classifier row rescaled
 * to the norm of the same filter/row of θ; BN parameters and the bias get 0. Not collective.
 */
void pof_direction_filter_normalized(PofWrn m, const double *theta, PetscInt seed, PetscInt index,
                                     double *d);

/** L(θ + a_i d) for alpha[0..n). Grid points are evaluated collectively (every rank its share of
    the data for every point; one reduction). */
PetscErrorCode pof_landscape_1d(PofLossFn L, const double *theta, const double *d, PetscInt n,
                                const double *alpha, double *loss);
/** L(θ + a_i d1 + a_j d2) into loss[i*n + j]. */
PetscErrorCode pof_landscape_2d(PofLossFn L, const double *theta, const double *d1,
                                const double *d2, PetscInt n, const double *alpha, double *loss);
/** n points evenly on [-r, r] (n odd puts 0 exactly in the middle). */
void pof_grid(PetscInt n, double r, double *alpha);

/* ------------------------------------------------------------------ results */
#define POF_ANALYSIS_MAX_KAPPA 8
typedef struct {
  char        model[POF_PATH_MAX], data[POF_PATH_MAX], split[16];
  PetscInt    samples, n_params, n_classifier, ranks;
  double      loss0, err0;
  PetscBool   has_cls, has_net;
  PofSpectrum cls, net;
  PetscInt    nkappa;
  char        kappa_name[POF_ANALYSIS_MAX_KAPPA][32];
  double      kappa[POF_ANALYSIS_MAX_KAPPA];
  double      pof_gnorm; /**< ‖∇θ L‖ on the weak batch (NaN when off) */
  PetscInt    n1, n2;
  double     *alpha1, *land_rand, *land_pof; /**< 1-D grids (land_pof NULL when off) */
  double     *alpha2, *land2; /**< 2-D grid, n2 × n2 row-major (alpha index first) */
  double      seconds;
} PofAnalysis;

/**
 * Write the results to an HDF5 file (rank 0 writes; the verdict is broadcast). Layout:
 * attributes model, data, split, samples, n_params, ranks, loss0, err0 on "/";
 * /classifier and /network groups: eigenvalues, residuals, [eigenvectors k × n], attributes
 * trace, trace_se, probes, hv_count, seconds; /kappa: dataset values with attribute-free
 * names dataset (strings); /landscape: alpha1, loss_random, [loss_pof], alpha2, loss_2d.
 * Collective on comm.
 */
PetscErrorCode pof_analysis_write(MPI_Comm comm, const char *path, const PofAnalysis *a);

/** The whole of pof analyze (options already read). Prints the summary and the JSON line. */
PetscErrorCode pof_analyze_run(MPI_Comm comm, const PofConfig *cfg, const PofAnalyzeConfig *acfg);

/** SLEPc on top of PETSc (SlepcInitialize/SlepcFinalize: PETSc must be initialized; they nest).
    Every rank of PETSC_COMM_WORLD calls them, around the SLEPc-based analysis. */
PetscErrorCode pof_analysis_initialize(void);
PetscErrorCode pof_analysis_finalize(void);
/** SLEPc's version string into buf (len bytes). Not collective. */
PetscErrorCode pof_analysis_slepc_version(char *buf, size_t len);

#endif
