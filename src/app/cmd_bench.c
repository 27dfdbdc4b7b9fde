/* pof bench: synthetic-data throughput of one step kind on a chosen WRN. */
#include "commands.h"
#include "pof/timer.h"
#include "pof/train.h"

#include <string.h>

PetscErrorCode pof_cmd_bench(PetscOptions opts, MPI_Comm comm)
{
  PofConfig   cfg;
  PetscBool   help;
  PofWrn      m = NULL;
  PetscMPIInt size, rank;
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, "bench", POF_GROUP_RUN | POF_GROUP_MODEL | POF_GROUP_OPT | POF_GROUP_POF | POF_GROUP_BENCH, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCheck(cfg.opt.batch % size == 0, comm, PETSC_ERR_ARG_WRONG, "-opt_batch %" PetscInt_FMT " is not divisible by the %d ranks", cfg.opt.batch, size);
  PofWrnShape s = { cfg.model.depth, cfg.model.width, cfg.model.base, cfg.bench.in_c, cfg.bench.in_h, cfg.bench.in_w, cfg.model.classes ? cfg.model.classes : 10 };
  PetscCall(pof_wrn_create(&s, cfg.run.precision == POF_PREC_BF16 ? POF_DT_BF16 : POF_DT_F32, PETSC_FALSE, &m));
  PetscCall(pof_wrn_init_params(m, cfg.run.seed));
  const PetscInt n = cfg.opt.batch / size, len = s.in_c * s.in_h * s.in_w, np = pof_wrn_num_params(m);
  float         *x, *mom;
  int32_t       *y;
  PetscCall(PetscMalloc3(n * len, &x, n, &y, np, &mom));
  PetscCall(PetscArrayzero(mom, np));
  pof_synthetic_batch(cfg.run.seed, 0, rank * n, n, len, s.classes, x, y);
  double t0 = 0, loss = 0;
  for (PetscInt it = 0; it < cfg.bench.warmup + cfg.bench.steps; it++) {
    if (it == cfg.bench.warmup) {
      pof_timers_reset();
      t0 = pof_now();
    }
    PetscInt wrong;
    if (cfg.bench.step == POF_BENCH_FORWARD) {
      PetscCall(pof_eval_batch(m, n, x, y, &loss, &wrong));
    } else {
      PetscCall(pof_train_loss_grad(m, n, x, y, cfg.opt.batch, NULL, NULL, PETSC_TRUE, PETSC_TRUE, &loss, &wrong));
      float       *P  = pof_wrn_params(m);
      const float *G  = pof_wrn_grads(m);
      const float  lr = (float)cfg.opt.lr, mu = (float)cfg.opt.momentum, wd = (float)cfg.opt.wd;
      pof_timer_start(POF_T_OPTIMIZER);
      for (PetscInt i = 0; i < np; i++) {
        const float g = G[i] + wd * P[i];
        mom[i]        = mu * mom[i] + g;
        P[i] -= lr * (g + mu * mom[i]);
      }
      pof_wrn_params_changed(m);
      pof_timer_stop(POF_T_OPTIMIZER);
    }
  }
  const double dt      = (pof_now() - t0) / (double)cfg.bench.steps;
  const char  *steps[] = { "forward", "train", "pof" };
  char         model[64];
  PetscCall(PetscSNPrintf(model, sizeof(model), "WRN-%" PetscInt_FMT "-%" PetscInt_FMT, s.depth, s.width));
  PetscCall(pof_print(comm, "bench: %s %s, batch %" PetscInt_FMT ", %d rank(s) x %d thread(s), %s: %.1f ms/step, %.1f images/s (fwd %.1f, bwd %.1f, opt %.1f ms)\n", model, PofPrecisions[cfg.run.precision], cfg.opt.batch, size, pof_threads(), steps[cfg.bench.step], dt * 1e3, (double)cfg.opt.batch / dt,
                      pof_timer_total(POF_T_FORWARD) * 1e3 / (double)cfg.bench.steps, pof_timer_total(POF_T_BACKWARD) * 1e3 / (double)cfg.bench.steps, pof_timer_total(POF_T_OPTIMIZER) * 1e3 / (double)cfg.bench.steps));
  if (rank == 0 && getenv("POF_BENCH_IMPLS")) PetscCall(pof_wrn_print_impls(m, stdout));
  PetscCall(pof_print(comm, "{\"model\":\"%s\",\"precision\":\"%s\",\"batch\":%" PetscInt_FMT ",\"threads\":%d,\"ranks\":%d,\"step\":\"%s\",\"ms_per_step\":%.3f,\"images_per_s\":%.3f,\"peak_rss_mb\":%.1f}\n", model, PofPrecisions[cfg.run.precision], cfg.opt.batch, pof_threads(), size, steps[cfg.bench.step], dt * 1e3, (double)cfg.opt.batch / dt, pof_peak_rss_mb()));
  PetscCall(PetscFree3(x, y, mom));
  PetscCall(pof_wrn_destroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}
