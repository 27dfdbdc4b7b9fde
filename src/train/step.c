/* Loss-and-gradient of a batch through the WRN and its classifier. See include/pof/train.h. */
#include "pof/comm_exchange.h"
#include "pof/rng.h"
#include "pof/timer.h"
#include "pof/train.h"

typedef struct {
  float   *h, *dh, *logits, *dlogits;
  PetscInt cap, F, C;
} StepBufs;

static StepBufs bufs;

/* Registered with PetscRegisterFinalize on the first allocation: PetscFinalize frees the buffers
   (before -malloc_dump looks). */
static PetscErrorCode release(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFree4(bufs.h, bufs.dh, bufs.logits, bufs.dlogits));
  bufs.cap = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ensure(PetscInt n, PetscInt F, PetscInt C)
{
  PetscFunctionBegin;
  if (n <= bufs.cap && F == bufs.F && C == bufs.C) PetscFunctionReturn(PETSC_SUCCESS);
  if (!bufs.h) PetscCall(PetscRegisterFinalize(release));
  PetscCall(PetscFree4(bufs.h, bufs.dh, bufs.logits, bufs.dlogits));
  PetscCall(
      PetscMalloc4(n * F, &bufs.h, n * F, &bufs.dh, n * C, &bufs.logits, n * C, &bufs.dlogits));
  bufs.cap = n, bufs.F = F, bufs.C = C;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_train_loss_grad(PofWrn m, PetscInt n, const float *x, const int32_t *y,
                                   PetscInt global_batch, const float *W, const float *b,
                                   PetscBool classifier_grad, PetscBool update_running,
                                   double *loss_sum, PetscInt *wrong)
{
  PofWrnShape s;
  PetscFunctionBegin;
  pof_wrn_get_shape(m, &s);
  const PetscInt F = pof_wrn_feature_dim(m), C = s.classes, nf = pof_wrn_num_feature_params(m);
  float         *P = pof_wrn_params(m), *G = pof_wrn_grads(m);
  if (!W) W = P + nf;
  if (!b) b = P + nf + (size_t)C * (size_t)F;
  PetscCall(ensure(n, F, C));
  pof_timer_start(POF_T_FORWARD);
  PetscCall(pof_wrn_features(
      m, POF_BN_TRAIN, POF_FWD_KEEP | (update_running ? POF_FWD_UPDATE_RUNNING : 0), n, x, bufs.h));
  pof_linear_forward(n, F, C, W, b, bufs.h, bufs.logits);
  pof_softmax_ce(n, C, bufs.logits, y, 1.0 / (double)global_batch, loss_sum, wrong, bufs.dlogits);
  pof_timer_stop(POF_T_FORWARD);
  pof_timer_start(POF_T_BACKWARD);
  pof_linear_backward(n, F, C, W, bufs.h, bufs.dlogits, classifier_grad ? G + nf : NULL,
                      classifier_grad ? G + nf + (size_t)C * (size_t)F : NULL, bufs.dh);
  if (!classifier_grad) PetscCall(PetscArrayzero(G + nf, pof_wrn_num_params(m) - nf));
  PetscCall(pof_wrn_report_grad(m, nf, pof_wrn_num_params(m) - nf));
  PetscCall(pof_wrn_features_backward(m, bufs.dh, NULL));
  pof_timer_stop(POF_T_BACKWARD);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_eval_batch(PofWrn m, PetscInt n, const float *x, const int32_t *y,
                              double *loss_sum, PetscInt *wrong)
{
  PofWrnShape s;
  PetscFunctionBegin;
  pof_wrn_get_shape(m, &s);
  const PetscInt F = pof_wrn_feature_dim(m), C = s.classes, nf = pof_wrn_num_feature_params(m);
  const float   *P = pof_wrn_params(m);
  PetscCall(ensure(n, F, C));
  PetscCall(pof_wrn_features(m, POF_BN_EVAL, 0, n, x, bufs.h));
  pof_linear_forward(n, F, C, P + nf, P + nf + (size_t)C * (size_t)F, bufs.h, bufs.logits);
  pof_softmax_ce(n, C, bufs.logits, y, 1.0, loss_sum, wrong, NULL);
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_synthetic_batch(PetscInt seed, PetscInt step, PetscInt first, PetscInt n,
                         PetscInt sample_len, PetscInt classes, float *x, int32_t *y)
{
  for (PetscInt i = 0; i < n; i++) {
    PofRng r;
    pof_rng_init(&r, (uint64_t)seed, POF_RNG_SYNTH, 0, (uint32_t)step, (uint32_t)(first + i));
    y[i] = (int32_t)pof_rng_below(&r, (uint32_t)classes);
    for (PetscInt k = 0; k < sample_len; k++) x[i * sample_len + k] = (float)pof_rng_normal(&r);
  }
}

PetscErrorCode pof_warn_reference_kernels(MPI_Comm comm, PofWrn m, const char *cmd)
{
  PetscBool any = PETSC_FALSE;
  PetscFunctionBegin;
  PetscCall(pof_comm_any(comm, pof_wrn_uses_ref_impl(m) ? PETSC_TRUE : PETSC_FALSE, &any));
  if (any) {
    char ver[128];
    pof_nn_version(ver, sizeof ver);
    PetscCall(pof_print(comm,
                        "%s: warning: oneDNN %s runs reference (ref:) convolution kernels on this "
                        "CPU: steps can be 1000x slower (pof has JIT kernels with AVX2 and "
                        "AVX-512); POF_BENCH_IMPLS=1 pof bench lists them\n",
                        cmd, ver));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Seconds of a forward+backward pass of a fresh WRN of `shape` in dt on n synthetic images: the
   fastest of three after one that builds the primitives. Local. */
static PetscErrorCode probe_step(const PofWrnShape *shape, PofDType dt, PetscInt n, double *secs)
{
  PofWrn   m = NULL;
  float   *x;
  int32_t *y;
  double   ls;
  PetscInt wrong;
  PetscFunctionBegin;
  const PetscInt sample = shape->in_c * shape->in_h * shape->in_w;
  PetscCall(PetscMalloc2(n * sample, &x, n, &y));
  pof_synthetic_batch(1, 0, 0, n, sample, shape->classes, x, y);
  PetscCall(pof_wrn_create(shape, dt, PETSC_FALSE, &m));
  PetscCall(pof_wrn_init_params(m, 1));
  *secs = 1e30;
  for (int k = 0; k < 4; k++) {
    const double t0 = pof_now();
    PetscCall(pof_train_loss_grad(m, n, x, y, n, NULL, NULL, PETSC_TRUE, PETSC_FALSE, &ls, &wrong));
    if (k > 0) *secs = PetscMin(*secs, pof_now() - t0);
  }
  PetscCall(pof_wrn_destroy(&m));
  PetscCall(PetscFree2(x, y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_warn_bf16_speed(MPI_Comm comm, const PofWrnShape *shape, PetscInt n,
                                   const char *cmd)
{
  double tb = 0, tf = 0;
  PetscFunctionBegin;
  if (pof_nn_bf16_support() != POF_BF16_EMULATED) PetscFunctionReturn(PETSC_SUCCESS);
  n = PetscMax(1, PetscMin(n, 8));
  PetscCall(probe_step(shape, POF_DT_BF16, n, &tb));
  PetscCall(probe_step(shape, POF_DT_F32, n, &tf));
  PetscCall(pof_print(comm,
                      "%s: warning: -precision bf16 on a CPU without bf16 instructions (oneDNN ISA "
                      "%s: no avx512_bf16, no AMX): oneDNN emulates bf16, which is usually several "
                      "times slower than fp32; a one-step probe on %" PetscInt_FMT " images took "
                      "%.1fx the fp32 time here (bf16 %.1f ms, fp32 %.1f ms); consider -precision "
                      "fp32\n",
                      cmd, pof_nn_isa_name(), n, tb / PetscMax(tf, 1e-9), 1e3 * tb, 1e3 * tf));
  PetscFunctionReturn(PETSC_SUCCESS);
}
