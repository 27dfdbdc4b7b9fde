/* pof bench: synthetic-data throughput of one step kind on a chosen WRN, at any rank count.
   The train and pof steps are the real ones (synchronized BN, bucketed gradient exchange,
   sharded optimizer), on a fixed synthetic batch. The last line printed is one JSON object. */
#include "commands.h"
#include "pof/json.h"
#include "pof/comm_exchange.h"
#include "pof/stepper.h"
#include "pof/timer.h"
#include "pof/train.h"

/* One step of the benchmarked kind on the fixed synthetic batch (x, y) and weak batch (xw, yw). */
static PetscErrorCode bench_step(const PofConfig *cfg, PofStepper *st, PofWrn m, PetscInt np,
                                 PetscInt n, PetscInt it, const float *x, const int32_t *y,
                                 const float *xw, const int32_t *yw, double *loss)
{
  PetscInt       wrong;
  PofRangeResult res;
  PetscFunctionBegin;
  switch (cfg->bench.step) {
  case POF_BENCH_FORWARD: PetscCall(pof_eval_batch(m, n, x, y, loss, &wrong)); break;
  case POF_BENCH_TRAIN:
    if (cfg->opt.kind == POF_OPT_SAM)
      PetscCall(pof_stepper_sam(st, cfg->opt.lr * 1e-3, x, y, loss, &wrong));
    else
      PetscCall(
          pof_stepper_sgd(st, cfg->opt.lr * 1e-3, x, y, np, NULL, NULL, PETSC_TRUE, loss, &wrong));
    break;
  case POF_BENCH_POF:
    PetscCall(pof_stepper_pof(st, cfg->opt.lr * 1e-3, cfg->run.seed, 0, it, x, y, xw, yw, &res,
                              loss, &wrong));
    break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The CPU as pof sees it (rank 0, after the timed steps): oneDNN's ISA and the measured
   arithmetic peak of this process's threads, fp32 (AVX-512 where oneDNN uses it, else AVX2) and
   bf16 (where the CPU has avx512_bf16); printed, and returned as an object for the JSON line. */
static PetscErrorCode bench_cpu(MPI_Comm comm, json_t **cpu)
{
  PetscMPIInt rank;
  PetscFunctionBegin;
  *cpu = NULL;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank != 0) PetscFunctionReturn(PETSC_SUCCESS);
  const PofPeakKernel kf =
      pof_nn_bf16_support() != POF_BF16_NONE ? POF_PEAK_FP32_AVX512 : POF_PEAK_FP32_AVX2;
  const double pf = pof_nn_peak_gflops(kf, 0.1), pb = pof_nn_peak_gflops(POF_PEAK_BF16_AVX512, 0.1);
  const char  *bf16 = PofBf16Names[pof_nn_bf16_support()];
  printf("bench: oneDNN ISA %s (bf16 %s); measured peak of %d thread(s): fp32 %.1f GFLOP/s (%s)",
         pof_nn_isa_name(), bf16, pof_threads(), pf, pof_nn_peak_name(kf));
  if (pb > 0) printf(", bf16 %.1f GFLOP/s (%s)", pb, pof_nn_peak_name(POF_PEAK_BF16_AVX512));
  printf("\n");
  *cpu = json_object();
  pof_json_set(cpu, "onednn_isa", json_string(pof_nn_isa_name()));
  pof_json_set(cpu, "bf16", json_string(bf16));
  pof_json_set(cpu, "peak_fp32_gflops", pof_json_real_or_null(pf));
  pof_json_set(cpu, "peak_fp32_kernel", json_string(pof_nn_peak_name(kf)));
  pof_json_set(cpu, "peak_bf16_gflops", pb > 0 ? pof_json_real_or_null(pb) : json_null());
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The last line: the figures of the run as one JSON object (rank 0). per: ms per step per second.
 */
static PetscErrorCode bench_json(MPI_Comm comm, const PofConfig *cfg_, const PofWrnShape *sp,
                                 const char *model, PetscInt np, int size, double dt, double rssmax,
                                 const double *avg, double per, const PofShardStats *ssp,
                                 json_t *cpu)
{
  const PofConfig     cfg = *cfg_;
  const PofWrnShape   s   = *sp;
  const PofShardStats ss  = *ssp;
  const PetscInt      B   = cfg.opt.batch;
  PetscFunctionBegin;
  char input[64];
  PetscCall(PetscSNPrintf(input, sizeof(input),
                          "%" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, s.in_c, s.in_h,
                          s.in_w));
  json_t *line = json_object(), *exchange = json_object();
  pof_json_set(&line, "model", json_string(model));
  pof_json_set(&line, "input", json_string(input));
  pof_json_set(&line, "params", json_integer((json_int_t)np));
  pof_json_set(&line, "precision", json_string(PofPrecisions[cfg.run.precision]));
  pof_json_set(&line, "batch", json_integer((json_int_t)B));
  pof_json_set(&line, "threads", json_integer(pof_threads()));
  pof_json_set(&line, "ranks", json_integer(size));
  pof_json_set(&line, "step", json_string(PofBenchSteps[cfg.bench.step]));
  pof_json_set(&line, "ms_per_step", pof_json_real_or_null(dt * 1e3));
  pof_json_set(&line, "images_per_s", pof_json_real_or_null((double)B / dt));
  pof_json_set(&line, "peak_rss_mb", pof_json_real_or_null(rssmax));
  pof_json_set(&line, "comm_wait_fraction",
               pof_json_real_or_null(avg[POF_T_COMM_WAIT] / (dt * (double)cfg.bench.steps)));
  pof_json_set(&line, "ms_forward", pof_json_real_or_null(avg[POF_T_FORWARD] * per));
  pof_json_set(&line, "ms_backward", pof_json_real_or_null(avg[POF_T_BACKWARD] * per));
  pof_json_set(&line, "ms_comm_wait", pof_json_real_or_null(avg[POF_T_COMM_WAIT] * per));
  pof_json_set(&line, "ms_optimizer", pof_json_real_or_null(avg[POF_T_OPTIMIZER] * per));
  pof_json_set(&line, "ms_weak_forward", pof_json_real_or_null(avg[POF_T_WEAK_FORWARD] * per));
  pof_json_set(&line, "ms_pof_range", pof_json_real_or_null(avg[POF_T_POF_RANGE] * per));
  pof_json_set(&exchange, "buckets", json_integer((json_int_t)ss.buckets));
  pof_json_set(&exchange, "open_at_end", pof_json_real_or_null(ss.open_at_end));
  pof_json_set(&exchange, "grad_wait_ms", pof_json_real_or_null(ss.grad_wait * per));
  pof_json_set(&exchange, "param_gather_ms", pof_json_real_or_null(ss.param_gather * per));
  pof_json_set(&line, "exchange", exchange);
  if (cpu) pof_json_set(&line, "cpu", cpu);
  PetscCall(pof_json_print_line(comm, line));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_cmd_bench(PetscOptions opts, MPI_Comm comm)
{
  PofConfig   cfg;
  PetscBool   help;
  PofWrn      m     = NULL;
  PofShard    shard = NULL;
  PofStepper  st;
  PetscMPIInt size, rank;
  double     *theta0 = NULL;
  PetscFunctionBegin;
  PetscCall(pof_config_read(opts, comm, POF_CMD_BENCH, &cfg, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  const PetscInt B = cfg.opt.batch, Bw = cfg.pof.weak_batch > 0 ? cfg.pof.weak_batch : B;
  PetscCheck(B % size == 0, comm, PETSC_ERR_ARG_WRONG,
             "-opt_batch %" PetscInt_FMT " is not divisible by the %d ranks", B, size);
  PofWrnShape s = { cfg.model.depth,
                    cfg.model.width,
                    cfg.model.base,
                    cfg.bench.in_c,
                    cfg.bench.in_h,
                    cfg.bench.in_w,
                    cfg.model.classes ? cfg.model.classes : 10 };
  PetscCall(pof_wrn_create(&s, cfg.run.precision == POF_PREC_BF16 ? POF_DT_BF16 : POF_DT_F32,
                           PETSC_FALSE, &m));
  pof_wrn_set_recompute(m, cfg.model.recompute);
  PetscCall(pof_wrn_set_winograd(m, cfg.model.conv_alg == POF_CONV_WINOGRAD));
  PetscCall(pof_wrn_init_params(m, cfg.run.seed));
  if (cfg.run.precision == POF_PREC_BF16)
    PetscCall(pof_warn_bf16_speed(comm, &s, B / size, "bench"));
  const PetscInt np = pof_wrn_num_params(m), nf = pof_wrn_num_feature_params(m),
                 len = s.in_c * s.in_h * s.in_w, n = B / size, nw = Bw / size;
  PetscCall(pof_shard_create(comm, np, 0, pof_wrn_params(m), &shard));
  if (cfg.bench.step == POF_BENCH_POF) {
    const float *P = pof_wrn_params(m);
    PetscCall(PetscMalloc1(np - nf, &theta0));
    for (PetscInt i = nf; i < np; i++) theta0[i - nf] = P[i];
  }
  PetscCall(pof_stepper_init(&st, comm, &cfg, m, shard, B, Bw, theta0));
  float   *x, *xw;
  int32_t *y, *yw;
  PetscCall(PetscMalloc4(n * len, &x, n, &y, PetscMax(nw, 1) * len, &xw, PetscMax(nw, 1), &yw));
  pof_synthetic_batch(cfg.run.seed, 0, rank * n, n, len, s.classes, x, y);
  pof_synthetic_batch(cfg.run.seed, 1, rank * nw, nw, len, s.classes, xw, yw);
  double t0 = 0, loss = 0;
  for (PetscInt it = 0; it < cfg.bench.warmup + cfg.bench.steps; it++) {
    if (it == cfg.bench.warmup) {
      PetscCall(pof_comm_barrier(comm));
      pof_timers_reset();
      pof_shard_stats_reset(shard);
      t0 = pof_now();
    }
    PetscCall(bench_step(&cfg, &st, m, np, n, it, x, y, xw, yw, &loss));
    /* the primitives exist after the first step (one int allreduce; timed only with -bench_warmup
     * 0) */
    if (it == 0) PetscCall(pof_warn_reference_kernels(comm, m, "bench"));
  }
  PetscCall(pof_comm_barrier(comm));
  const double dt = (pof_now() - t0) / (double)cfg.bench.steps;
  double mn[POF_T_COUNT], avg[POF_T_COUNT], mx[POF_T_COUNT], rss = pof_peak_rss_mb(), rssmax = rss;
  PetscCall(pof_timers_reduce(comm, mn, avg, mx));
  PetscCall(pof_comm_allreduce_max(comm, &rssmax, 1));
  PofShardStats ss;
  PetscCall(pof_shard_stats(shard, &ss));
  char model[64];
  PetscCall(PetscSNPrintf(model, sizeof(model), "WRN-%" PetscInt_FMT "-%" PetscInt_FMT, s.depth,
                          s.width));
  const double per = 1e3 / (double)cfg.bench.steps;
  PetscCall(pof_print(comm,
                      "bench: %s %s %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT
                      ", batch %" PetscInt_FMT
                      ", %d rank(s) x %d thread(s), %s step: %.1f ms/step, %.1f images/s\n",
                      model, PofPrecisions[cfg.run.precision], s.in_c, s.in_h, s.in_w, B, size,
                      pof_threads(), PofBenchSteps[cfg.bench.step], dt * 1e3, (double)B / dt));
  PetscCall(pof_print(comm,
                      "bench: per step (avg over ranks): forward %.1f, backward %.1f, comm wait "
                      "%.1f, optimizer %.1f, weak forward %.1f, PoF range %.2f ms\n",
                      avg[POF_T_FORWARD] * per, avg[POF_T_BACKWARD] * per,
                      avg[POF_T_COMM_WAIT] * per, avg[POF_T_OPTIMIZER] * per,
                      avg[POF_T_WEAK_FORWARD] * per, avg[POF_T_POF_RANGE] * per));
  if (size > 1)
    PetscCall(pof_print(comm,
                        "bench: gradient exchange: %" PetscInt_FMT
                        " bucket(s), %.2f still open when backward ended (per exchange, worst "
                        "rank); waits per step: gradients %.1f ms, parameter allgather %.1f ms\n",
                        ss.buckets, ss.open_at_end, ss.grad_wait * per, ss.param_gather * per));
  if (rank == 0 && getenv("POF_BENCH_IMPLS")) PetscCall(pof_wrn_print_impls(m, stdout));
  json_t *cpu;
  PetscCall(bench_cpu(comm, &cpu));
  PetscCall(bench_json(comm, &cfg, &s, model, np, size, dt, rssmax, avg, per, &ss, cpu));
  PetscCall(PetscFree4(x, y, xw, yw));
  PetscCall(PetscFree(theta0));
  PetscCall(pof_stepper_release(&st));
  PetscCall(pof_shard_destroy(&shard));
  PetscCall(pof_wrn_destroy(&m));
  PetscFunctionReturn(PETSC_SUCCESS);
}
