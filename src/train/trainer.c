/* The training loops of pretrain and posttrain. See include/pof/trainer.h. */
#include "pof/comm_exchange.h"
#include "pof/trainer.h"
#include "pof/ckpt.h"
#include "pof/rundir.h"
#include "pof/fsutil.h"
#include "pof/data.h"
#include "pof/json.h"
#include "pof/comm.h"
#include "pof/pof.h"
#include "pof/signal.h"
#include "pof/timer.h"
#include "pof/progress.h"
#include "pof/phase.h"
#include "pof/watchdog.h"
#include "pof/stepper.h"
#include "pof/train.h"
#include "rows.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

const char *const PofRunStatusNames[] = { "finished", "stopped", "already_finished" };

/* running mean and spread of one PoF diagnostic over an epoch */
typedef struct {
  double   s, s2;
  PetscInt n;
} Stat;
static void   stat_add(Stat *a, double v) { a->s += v, a->s2 += v * v, a->n++; }
static double stat_mean(const Stat *a) { return a->n ? a->s / (double)a->n : 0.0; }
static double stat_std(const Stat *a)
{
  if (a->n < 2) return 0.0;
  const double m = stat_mean(a), v = a->s2 / (double)a->n - m * m;
  return v > 0 ? sqrt(v) : 0.0;
}

enum { ST_L0, ST_ETA_MAX, ST_ETA_STAR, ST_GAMMA, ST_PERT, ST_KAPPA, ST_GNORM, ST_COUNT };
static const char *const stat_names[ST_COUNT] = { "L0",        "eta_max", "eta_star", "gamma",
                                                  "pert_norm", "kappa",   "gnorm" };

struct PofTrainer_s {
  MPI_Comm       comm;
  int            lock; /* run directory lock (rank 0), -1 without */
  PetscMPIInt    rank, size;
  PofConfig      cfg;
  PofRunKind     kind;
  PofDataset     ds;
  PofDatasetInfo info;
  PofWrn         m;
  PofShard       shard;
  PofCkptMeta    meta; /* progress and schedule of this run */
  PetscInt       n_params, nf, F, C, sample;
  PetscInt       B, nloc, Bw, nwloc, steps_per_epoch;
  PetscInt       start_epoch, end_epoch; /* global epochs of this run */
  float         *x, *xw;
  int32_t       *y, *yw;
  double        *theta0;
  FILE          *metrics, *steps;
  /* posttrain: the learning rate fixed at the start (or the base of its own schedule) */
  double post_lr;
  /* epoch accumulators */
  double     loss_sum;
  PetscInt   wrong, seen, capped, rejected;
  Stat       st_[ST_COUNT];
  PofStepper st;
  double     last_train_loss, last_train_error;
  /* restart */
  PetscBool finished;                  /* the directory holds a finished run (nothing to train) */
  char      resume_path[POF_PATH_MAX]; /* the checkpoint resumed from ("" if none) */
  PetscInt  last_ckpt_step;            /* global step of the newest checkpoint written, -1 = none */
  PetscBool kernels_checked; /* the reference-kernel warning, after this process's first step */
  json_t   *ckpt_rows;       /* rank 0: checkpoints written since the last metrics row */
  PetscBool lead_warned;     /* the -run_signal_lead warning was given */
  /* progress (rank 0): start of this session, steps in it, start and steps of this epoch */
  double         prog_t0, prog_epoch_t0;
  PetscInt       prog_steps, prog_epoch_steps;
  PofRangeResult last_res; /* the last PoF step's range search (steps.jsonl) */
  PetscBool      watching; /* a -run_step_timeout watchdog started by pof_trainer_create */
};

double pof_schedule_lr(double lr_base, PofScheduleKind kind, const PetscInt *milestones,
                       PetscInt nmilestones, double factor, PetscInt warmup, PetscInt total_epochs,
                       PetscInt epoch)
{
  double lr = lr_base;
  switch (kind) {
  case POF_SCHED_STEP:
    for (PetscInt i = 0; i < nmilestones; i++)
      if (epoch >= milestones[i]) lr *= factor;
    break;
  case POF_SCHED_COSINE:
    if (total_epochs > 0)
      lr = 0.5 * lr_base *
           (1.0 + cos(3.14159265358979323846 * (double)PetscMin(epoch, total_epochs) /
                      (double)total_epochs));
    break;
  case POF_SCHED_CONST: break;
  }
  if (warmup > 0 && epoch < warmup) lr *= (double)(epoch + 1) / (double)warmup;
  return lr;
}

/* ------------------------------------------------------------------ run directory */
/* fopen(path, "w" or "a") that refuses a symbolic link at path (O_NOFOLLOW): a link planted in
   a shared run directory would redirect the rows elsewhere. NULL with errno set. */
static FILE *open_nofollow(const char *path, PetscBool append)
{
  const int fd =
      open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  FILE *f = fd >= 0 ? fdopen(fd, append ? "a" : "w") : NULL;
  if (fd >= 0 && !f) close(fd);
  return f;
}

static int write_config_json(FILE *f, void *cfg)
{
  if (pof_config_write_json((const PofConfig *)cfg, f)) return EIO;
  return fputc('\n', f) == EOF ? (errno ? errno : EIO) : 0;
}

/* Rank 0's part of open_run_files: config.json (atomically), the trimmed rows of a resumed run,
   metrics.jsonl and steps.jsonl opened. */
static PetscErrorCode run_files_rank0(PofTrainer t, PetscBool resumed, int changed,
                                      const char *kept)
{
  char path[POF_PATH_MAX + 32], msg[2 * POF_PATH_MAX + 128];
  int  err;
  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/config.json", t->cfg.run.dir));
  if (changed > 0 && rename(path, kept) != 0 && errno != ENOENT)
    PetscCall(PetscFPrintf(PETSC_COMM_SELF, stderr, "pof: warning: cannot keep %s as %s: %s\n",
                           path, kept, strerror(errno)));
  err = pof_fs_write_atomic(path, write_config_json, &t->cfg, msg, sizeof msg);
  PetscCheck(!err, PETSC_COMM_SELF, pof_error_of_write_errno(err), "%s", msg);
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/metrics.jsonl", t->cfg.run.dir));
  if (resumed) {
    char sp[POF_PATH_MAX + 32];
    int  dm, ds = 0;
    PetscCall(pof_rows_trim(path, PETSC_FALSE, t->meta.epochs_done, t->meta.step_in_epoch, &dm));
    PetscCall(PetscSNPrintf(sp, sizeof(sp), "%s/steps.jsonl", t->cfg.run.dir));
    PetscCall(pof_rows_trim(sp, PETSC_TRUE, t->meta.epochs_done, t->meta.step_in_epoch, &ds));
    if (dm + ds)
      PetscCall(PetscFPrintf(PETSC_COMM_SELF, stdout,
                             "%s: dropped %d metrics row(s) and %d step row(s) written after the "
                             "checkpoint (they are computed again)\n",
                             t->meta.kind, dm, ds));
  }
  t->metrics = open_nofollow(path, resumed);
  PetscCheck(t->metrics, PETSC_COMM_SELF, pof_error_of_write_errno(errno), "cannot write '%s': %s",
             path, strerror(errno));
  if (t->cfg.run.step_log) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/steps.jsonl", t->cfg.run.dir));
    t->steps = open_nofollow(path, resumed);
    PetscCheck(t->steps, PETSC_COMM_SELF, pof_error_of_write_errno(errno), "cannot write '%s': %s",
               path, strerror(errno));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PetscErrorCode code;
  char           msg[2048];
} Rank0Error;

static PetscErrorCode record_rank0_error(MPI_Comm comm, int line, const char *func,
                                         const char *file, PetscErrorCode n, PetscErrorType p,
                                         const char *mess, void *ctx)
{
  Rank0Error *e = (Rank0Error *)ctx;
  (void)comm, (void)line, (void)func, (void)file;
  if (p == PETSC_ERROR_INITIAL && !e->code) {
    e->code = n;
    snprintf(e->msg, sizeof(e->msg), "%s", mess && *mess ? mess : "unknown error");
  }
  return n;
}

/* A failure that only rank 0 can have (its files), made an error of every rank: rank 0 runs
   `ierr`'s call under a recording handler, then broadcasts the code and the message, so all
   ranks leave together with the same status (no wait for the error agreement's time-out). */
#define RANK0_AGREED(t, call)                                                      \
  do {                                                                             \
    Rank0Error e_;                                                                 \
    memset(&e_, 0, sizeof(e_));                                                    \
    if ((t)->rank == 0) {                                                          \
      PetscErrorCode i_;                                                           \
      PetscCall(PetscPushErrorHandler(record_rank0_error, &e_));                   \
      i_ = (call);                                                                 \
      PetscCall(PetscPopErrorHandler());                                           \
      if (i_ && !e_.code) e_.code = i_;                                            \
    }                                                                              \
    PetscCall(pof_comm_rank0_verdict((t)->comm, e_.code, e_.msg, sizeof(e_.msg))); \
  } while (0)

static PetscErrorCode open_run_files(PofTrainer t, PetscBool resumed)
{
  char kept[POF_PATH_MAX + 64] = "";
  int  changed                 = 0;
  PetscFunctionBegin;
  PetscCall(pof_rundir_check(t->comm, t->cfg.run.dir));
  if (resumed &&
      t->meta.options_json[0]) { /* the options of the checkpoint's writer against these */
    char *json = NULL, diff[1024];
    PetscCall(pof_config_json(&t->cfg, &json));
    /* by type, skipping what the table lets a resume change (run_dir: a moved or copied run) */
    changed = pof_config_json_diff(t->meta.options_json, json, pof_config_resume_free_keys(), diff,
                                   sizeof diff);
    free(json);
    if (changed > 0) {
      PetscCall(PetscSNPrintf(kept, sizeof(kept), "%s/config-before-step-%" PetscInt_FMT ".json",
                              t->cfg.run.dir, t->meta.global_step));
      PetscCall(pof_print(t->comm,
                          "%s: warning: resuming with %d option(s) other than the checkpoint's: "
                          "%s; the run will not equal an uninterrupted one (config.json now holds "
                          "these options, the earlier config.json is kept as %s)\n",
                          t->meta.kind, changed, diff, kept));
    }
  }
  RANK0_AGREED(t, run_files_rank0(t, resumed, changed, kept));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* At the start: a warning when the run directory's file system has less free space than two
   checkpoints (the next one is written beside the newest before the older one goes). Rank 0. */
static PetscErrorCode warn_free_space(PofTrainer t)
{
  struct statvfs st;
  const double   one = 8.0 * (double)t->n_params * 2 + 4.0 * (double)pof_wrn_num_bn_state(t->m) +
                     (t->kind == POF_RUN_POSTTRAIN ? 8.0 * (double)(t->n_params - t->nf) : 0) +
                     65536.0;
  PetscFunctionBegin;
  if (t->rank != 0 || statvfs(t->cfg.run.dir, &st) != 0) PetscFunctionReturn(PETSC_SUCCESS);
  const double avail = (double)st.f_bavail * (double)st.f_frsize;
  if (avail < 2 * one)
    PetscCall(PetscFPrintf(PETSC_COMM_SELF, stderr,
                           "%s: warning: the file system of the run directory %s has %.1f MB "
                           "free, less than two checkpoints (2 x %.1f MB): a checkpoint write may "
                           "fail (exit 74); free space or use another -run_dir\n",
                           t->kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain", t->cfg.run.dir,
                           avail / 1e6, one / 1e6));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ model state in and out */
static void meta_from_model(PofTrainer t, PofCkptMeta *meta)
{
  PofWrnShape s;
  pof_wrn_get_shape(t->m, &s);
  meta->depth = s.depth, meta->width = s.width, meta->base = s.base;
  meta->in_c = s.in_c, meta->in_h = s.in_h, meta->in_w = s.in_w, meta->classes = s.classes;
  snprintf(meta->dataset, sizeof(meta->dataset), "%s", t->info.name);
  meta->n_params   = t->n_params;
  meta->n_feature  = t->nf;
  meta->n_bn_state = pof_wrn_num_bn_state(t->m);
}

static PetscErrorCode write_state(PofTrainer t, const char *path)
{
  char        *json = NULL;
  const double t0   = pof_now();
  PetscFunctionBegin;
  pof_timer_start(POF_T_CKPT_IO);
  pof_progress_begin(POF_PHASE_CHECKPOINT, 1);
  meta_from_model(t, &t->meta);
  PetscCall(pof_config_json(&t->cfg, &json));
  PetscCall(PetscStrncpy(t->meta.options_json, json, sizeof(t->meta.options_json)));
  free(json);
  t->meta.ranks         = t->size;
  t->meta.have_momentum = 1;
  t->meta.have_theta0   = t->theta0 ? 1 : 0;
  PetscCall(pof_ckpt_write(t->comm, path, &t->meta, pof_shard_master(t->shard),
                           pof_shard_momentum(t->shard), pof_wrn_running(t->m), t->theta0,
                           t->theta0 ? t->n_params - t->nf : 0));
  pof_progress_end();
  pof_timer_stop(POF_T_CKPT_IO);
  if (pof_progress_due()) {
    char line[POF_PATH_MAX + 128];
    PetscCall(PetscSNPrintf(line, sizeof line, "%s: checkpoint %s written in %.1f s", t->meta.kind,
                            path, pof_now() - t0));
    pof_progress_report(line, NULL);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every tensor of a model file must fit the architecture it names: its sizes are those of that
   WRN, checked before anything is built from them. */
static PetscErrorCode check_model_arch(MPI_Comm comm, const char *model, const PofCkptMeta *in)
{
  const PofWrnShape shape = { in->depth, in->width, in->base,   in->in_c,
                              in->in_h,  in->in_w,  in->classes };
  PetscInt          np, nf, nb;
  char              why[256];
  PetscFunctionBegin;
  PetscCheck(pof_wrn_shape_ok(&shape, why, sizeof(why)), comm, PETSC_ERR_FILE_UNEXPECTED,
             "model file '%s': %s", model, why);
  PetscCall(pof_wrn_shape_sizes(&shape, &np, &nf, NULL, &nb));
  PetscCheck(in->n_params == np && in->n_feature == nf && in->n_bn_state == nb, comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "model file '%s' names a WRN-%" PetscInt_FMT "-%" PetscInt_FMT " (base %" PetscInt_FMT
             ", %" PetscInt_FMT " classes) of n_params %" PetscInt_FMT ", n_feature %" PetscInt_FMT
             ", n_bn_state %" PetscInt_FMT ", but holds n_params %" PetscInt_FMT
             ", n_feature %" PetscInt_FMT ", n_bn_state %" PetscInt_FMT,
             model, in->depth, in->width, in->base, in->classes, np, nf, nb, in->n_params,
             in->n_feature, in->n_bn_state);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The parameters and BN running statistics read from a model file are finite: else an error
   naming the tensor (PyTorch's names, nn.h) and the index in it. Same verdict on every rank (each
   holds all of them). */
static PetscErrorCode check_model_finite(MPI_Comm comm, const char *model, PofWrn m)
{
  PetscInt             nt;
  const PofTensorInfo *t = pof_wrn_tensors(m, &nt);
  const float         *P = pof_wrn_params(m), *R = pof_wrn_running(m);
  PetscInt             roff = 0;
  PetscFunctionBegin;
  char v[32]; /* C's formatting: PETSc's %g prints "nan." */
  for (PetscInt k = 0; k < nt; k++) {
    for (PetscInt i = 0; i < t[k].numel; i++) {
      const float x = P[t[k].offset + i];
      if (isfinite(x)) continue;
      snprintf(v, sizeof(v), "%g", (double)x);
      SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED,
              "model file '%s': parameter %s[%" PetscInt_FMT "] is %s (not finite)", model,
              t[k].name, i, v);
    }
    if (t[k].kind != POF_TENSOR_BN_WEIGHT) continue;
    /* BN running statistics: per BN layer in network order (= arena order), mean then var */
    const size_t base = strlen(t[k].name) - strlen("weight");
    for (PetscInt i = 0; i < 2 * t[k].numel && roff + i < pof_wrn_num_bn_state(m); i++) {
      if (isfinite(R[roff + i])) continue;
      snprintf(v, sizeof(v), "%g", (double)R[roff + i]);
      SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED,
              "model file '%s': BN statistic %.*srunning_%s[%" PetscInt_FMT "] is %s (not finite)",
              model, (int)base, t[k].name, i < t[k].numel ? "mean" : "var", i % t[k].numel, v);
    }
    roff += 2 * t[k].numel;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A model file's input shape, class count and dataset must fit the data file (and its tensors the
   architecture it names). */
static PetscErrorCode check_model_fits_data(MPI_Comm comm, const char *model, const PofCkptMeta *in,
                                            const char *data, const PofDatasetInfo *info)
{
  PetscFunctionBegin;
  PetscCall(check_model_arch(comm, model, in));
  PetscCheck(in->in_c == info->c && in->in_h == info->h && in->in_w == info->w, comm,
             PETSC_ERR_ARG_INCOMP,
             "model file '%s' takes %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT
             " inputs, but '%s' holds %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " images",
             model, in->in_c, in->in_h, in->in_w, data, info->c, info->h, info->w);
  PetscCheck(in->classes >= info->classes, comm, PETSC_ERR_ARG_INCOMP,
             "model file '%s' has %" PetscInt_FMT " classes, but '%s' has %" PetscInt_FMT, model,
             in->classes, data, info->classes);
  PetscCheck(!in->dataset[0] || !info->name[0] || !strcmp(in->dataset, info->name), comm,
             PETSC_ERR_ARG_INCOMP, "model file '%s' was trained on '%s', but '%s' holds '%s'",
             model, in->dataset, data, info->name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ setup */
/* Post-training's learning rate at its start (global epoch `start`): -opt_lr, else the value a
   resumed run recorded, else the pretraining schedule of the model file `path` read at `start`
   (POF.md). *from says which. Below 1e-12 post-training would not move: an error naming -opt_lr. */
static PetscErrorCode posttrain_lr(MPI_Comm comm, const PofConfig *cfg, const PofCkptMeta *in,
                                   const char *path, PetscBool resumed, PetscInt start, double *lr,
                                   const char **from)
{
  PetscFunctionBegin;
  if (cfg->opt.lr_set) {
    *lr   = cfg->opt.lr;
    *from = "-opt_lr";
    PetscCheck(*lr >= 1e-12, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-opt_lr %g is below 1e-12: post-training would not change the model", *lr);
  } else if (resumed && in->post_lr > 0) {
    *lr   = in->post_lr;
    *from = "recorded when this post-training run started";
  } else {
    *lr =
        pof_schedule_lr(in->lr_base, (PofScheduleKind)in->schedule, in->milestones, in->nmilestones,
                        in->lr_factor, in->warmup_epochs, in->schedule_epochs, start);
    *from = "the pretraining schedule where post-training starts";
    PetscCheck(
        *lr >= 1e-12, comm, PETSC_ERR_ARG_OUTOFRANGE,
        "the pretraining schedule of model file '%s' (%s, base %g over %" PetscInt_FMT
        " epochs) gives learning rate %g at epoch %" PetscInt_FMT
        ", where post-training starts: post-training would not change the model; give -opt_lr",
        path, PofScheduleKinds[in->schedule], in->lr_base, in->schedule_epochs, *lr, start);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A -model_in that cannot serve stops a new run before its directory is made: its shape must
   agree with the shape options given, and post-training needs a learning rate that moves it. */
typedef struct {
  const PofConfig *cfg;
  PofRunKind       kind;
} ModelCheckCtx;

static PetscErrorCode check_model_in(MPI_Comm comm, const char *path, const PofCkptMeta *meta,
                                     void *ctx)
{
  const ModelCheckCtx *c = (const ModelCheckCtx *)ctx;
  PetscFunctionBegin;
  PetscCall(check_model_arch(comm, path, meta));
  PetscCall(pof_ckpt_check_shape_options(comm, path, meta, &c->cfg->model));
  if (c->kind == POF_RUN_POSTTRAIN) {
    double      lr0;
    const char *from;
    PetscCall(posttrain_lr(comm, c->cfg, meta, path, PETSC_FALSE, meta->epochs_done, &lr0, &from));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A resumed run: its checkpoint must be of this command, and (pretrain without -model_in) of
   the model the options describe. */
static PetscErrorCode check_resume(PofTrainer t, const PofConfig *cfg, PofRunKind kind,
                                   const PofRunStart *st)
{
  PetscFunctionBegin;
  PetscCall(PetscStrncpy(t->resume_path, st->path, sizeof(t->resume_path)));
  {
    /* a pretrain directory given to posttrain (or the reverse) is another run, not one to resume */
    const char *mine = kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain";
    PetscCheck(
        !strcmp(st->meta.kind, mine), t->comm, PETSC_ERR_ARG_WRONG,
        "run directory '%s' holds a %s run (%s), not a %s run to resume: give %s another -run_dir",
        cfg->run.dir, st->meta.kind[0] ? st->meta.kind : "(unknown)", st->path, mine, mine);
  }
  if (kind == POF_RUN_PRETRAIN &&
      !cfg->model.in[0]) { /* the options describe the model: they must match the checkpoint */
    PofCkptMeta want = st->meta;
    want.depth = cfg->model.depth, want.width = cfg->model.width, want.base = cfg->model.base;
    if (cfg->model.classes) want.classes = cfg->model.classes;
    PetscCall(PetscStrncpy(want.dataset, t->info.name, sizeof(want.dataset)));
    want.in_c = t->info.c, want.in_h = t->info.h, want.in_w = t->info.w;
    PetscCall(pof_ckpt_check_signature(t->comm, st->path, &st->meta, &want));
  }
  if (st->meta.epochs_done < st->meta.run_start_epoch + cfg->run.epochs ||
      st->meta.step_in_epoch > 0)
    PetscCall(pof_print(t->comm,
                        "%s: resuming from %s (epoch %" PetscInt_FMT ", step %" PetscInt_FMT
                        " of the epoch)\n",
                        kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain", st->path,
                        st->meta.epochs_done, st->meta.step_in_epoch));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A model file's sizes against the WRN it names, before that WRN is made (the shape read from a
   file may be huge: pof_wrn_shape_check bounds it). */
static PetscErrorCode check_model_sizes(MPI_Comm comm, const char *path, const PofCkptMeta *m,
                                        const PofWrnShape *shape)
{
  PetscInt np = 0, nb = 0;
  PetscFunctionBegin;
  PetscCall(pof_wrn_shape_sizes(shape, &np, NULL, NULL, &nb));
  PetscCheck(m->n_params == np && m->n_bn_state == nb, comm, PETSC_ERR_FILE_UNEXPECTED,
             "model file '%s' holds %" PetscInt_FMT " parameters, the WRN-%" PetscInt_FMT
             "-%" PetscInt_FMT " it describes has %" PetscInt_FMT,
             path, m->n_params, m->depth, m->width, np);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The network: its shape from the start file or the options, its parameters from the start
   file or the seed, the sharded optimizer state. */
static PetscErrorCode build_model(PofTrainer t, const PofConfig *cfg, PofRunKind kind,
                                  const PofRunStart *st)
{
  const PetscBool have = st->resumed || st->from_model;
  PetscFunctionBegin;
  PofWrnShape shape;
  if (have) {
    shape = (PofWrnShape){ st->meta.depth, st->meta.width, st->meta.base,   st->meta.in_c,
                           st->meta.in_h,  st->meta.in_w,  st->meta.classes };
    PetscCall(pof_ckpt_check_shape_options(t->comm, st->path, &st->meta, &cfg->model));
    PetscCall(check_model_fits_data(t->comm, st->path, &st->meta, cfg->data.file, &t->info));
    PetscCall(check_model_sizes(t->comm, st->path, &st->meta, &shape));
    /* config.json records the model that runs */
    t->cfg.model.depth = st->meta.depth, t->cfg.model.width = st->meta.width,
    t->cfg.model.base = st->meta.base, t->cfg.model.classes = st->meta.classes;
  } else {
    const PetscInt classes = cfg->model.classes ? cfg->model.classes : t->info.classes;
    PetscCheck(classes >= t->info.classes, t->comm, PETSC_ERR_ARG_INCOMP,
               "-model_classes %" PetscInt_FMT " is smaller than the %" PetscInt_FMT
               " classes of '%s'",
               classes, t->info.classes, cfg->data.file);
    shape = (PofWrnShape){ cfg->model.depth, cfg->model.width, cfg->model.base, t->info.c,
                           t->info.h,        t->info.w,        classes };
    t->cfg.model.classes =
        classes; /* config.json and the checkpoints record the class count that runs */
  }
  PetscCall(pof_wrn_create(&shape, cfg->run.precision == POF_PREC_BF16 ? POF_DT_BF16 : POF_DT_F32,
                           PETSC_FALSE, &t->m));
  pof_wrn_set_recompute(t->m, cfg->model.recompute);
  PetscCall(pof_wrn_set_winograd(t->m, cfg->model.conv_alg == POF_CONV_WINOGRAD));
  t->n_params = pof_wrn_num_params(t->m);
  t->nf       = pof_wrn_num_feature_params(t->m);
  t->F        = pof_wrn_feature_dim(t->m);
  t->C        = shape.classes;
  t->sample   = shape.in_c * shape.in_h * shape.in_w;
  if (!have) PetscCall(pof_wrn_init_params(t->m, cfg->run.seed));
  PetscCall(pof_shard_create(t->comm, t->n_params, 0, pof_wrn_params(t->m), &t->shard));
  if (have) {
    const char *path = st->path;
    if (kind == POF_RUN_POSTTRAIN && (st->resumed ? st->meta.have_theta0 : 0))
      PetscCall(PetscMalloc1(t->n_params - t->nf, &t->theta0));
    PetscCall(pof_ckpt_read(t->comm, path, pof_shard_master(t->shard),
                            st->meta.have_momentum ? pof_shard_momentum(t->shard) : NULL,
                            pof_wrn_running(t->m), t->theta0, t->theta0 ? t->n_params - t->nf : 0));
    PetscCall(pof_shard_gather_params(t->shard, pof_wrn_params(t->m)));
    PetscCall(check_model_finite(t->comm, path, t->m));
    pof_wrn_params_changed(t->m);
  }

  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Progress and schedule: the checkpoint's (resume), or a new run's (after a model file's epochs).
 */
static PetscErrorCode init_progress(PofTrainer t, const PofConfig *cfg, PofRunKind kind,
                                    const PofRunStart *st)
{
  const PetscBool have = st->resumed || st->from_model;
  PetscFunctionBegin;
  if (st->resumed) {
    t->meta        = st->meta;
    t->start_epoch = st->meta.run_start_epoch;
  } else {
    memset(&t->meta, 0, sizeof(t->meta));
    if (have) { /* posttrain (or a pretrain continued from a model file) */
      t->meta               = st->meta;
      t->meta.step_in_epoch = 0;
    }
    t->start_epoch          = have ? st->meta.epochs_done : 0;
    t->meta.run_start_epoch = t->start_epoch;
    PetscCall(PetscStrncpy(t->meta.kind, kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain",
                           sizeof(t->meta.kind)));
    t->meta.seed = cfg->run.seed;
    if (kind == POF_RUN_PRETRAIN || !have) { /* pretraining defines the schedule */
      t->meta.lr_base     = cfg->opt.lr;
      t->meta.lr_factor   = cfg->opt.factor;
      t->meta.schedule    = cfg->opt.schedule;
      t->meta.nmilestones = cfg->opt.nmilestones;
      for (PetscInt i = 0; i < cfg->opt.nmilestones; i++)
        t->meta.milestones[i] = cfg->opt.milestones[i];
      t->meta.warmup_epochs   = cfg->opt.warmup;
      t->meta.schedule_epochs = t->start_epoch + cfg->run.epochs;
    }
  }
  t->end_epoch = t->start_epoch + cfg->run.epochs;
  if (kind == POF_RUN_POSTTRAIN && have) {
    const char *from;
    PetscCall(posttrain_lr(t->comm, cfg, &st->meta, st->path, st->resumed, t->start_epoch,
                           &t->post_lr, &from));
    t->meta.post_lr = t->post_lr; /* recorded in every checkpoint: a resume uses the same rate */
    PetscCall(pof_print(
        t->comm, "posttrain: learning rate %g (%s)%s\n", t->post_lr, from,
        cfg->opt.sched_set
            ? ", the base of the schedule given by -opt_schedule/-opt_milestones/-opt_warmup"
            : ", fixed for the run"));
  }
  if (st->resumed) t->last_ckpt_step = t->meta.global_step;
  t->finished =
      (PetscBool)(st->resumed && t->meta.epochs_done >= t->end_epoch && t->meta.step_in_epoch == 0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* θ0 = the classifier of the pretrained model, in double on every rank (the master's tail). */
static PetscErrorCode gather_theta0(PofTrainer t)
{
  const PetscScalar *mv;
  double            *th;
  PetscInt           lo, hi;
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(t->n_params - t->nf, &t->theta0));
  th = t->theta0;
  PetscCall(PetscArrayzero(th, t->n_params - t->nf));
  pof_shard_range(t->shard, &lo, &hi);
  PetscCall(VecGetArrayRead(pof_shard_master(t->shard), &mv));
  for (PetscInt i = PetscMax(lo, t->nf); i < hi; i++) th[i - t->nf] = mv[i - lo];
  PetscCall(VecRestoreArrayRead(pof_shard_master(t->shard), &mv));
  PetscCall(pof_comm_allreduce_sum(t->comm, th, t->n_params - t->nf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode trainer_setup(MPI_Comm comm, const PofConfig *cfg, PofRunKind kind,
                                    PofTrainer t)
{
  PetscFunctionBegin;
  t->comm = comm;
  t->cfg  = *cfg;
  t->kind = kind;
  PetscCallMPI(MPI_Comm_rank(comm, &t->rank));
  PetscCallMPI(MPI_Comm_size(comm, &t->size));
  PetscCheck(cfg->opt.batch % t->size == 0, comm, PETSC_ERR_ARG_WRONG,
             "-opt_batch %" PetscInt_FMT " is not divisible by the %d ranks", cfg->opt.batch,
             (int)t->size);
  t->B    = cfg->opt.batch;
  t->nloc = t->B / t->size;
  t->Bw   = cfg->pof.weak_batch > 0 ? cfg->pof.weak_batch : t->B;
  if (kind == POF_RUN_POSTTRAIN && cfg->pof.mode != POF_MODE_OFF)
    PetscCheck(t->Bw % t->size == 0, comm, PETSC_ERR_ARG_WRONG,
               "-pof_weak_batch %" PetscInt_FMT " is not divisible by the %d ranks", t->Bw,
               (int)t->size);
  t->nwloc = t->Bw / t->size;

  /* where the state comes from, resolved once: a checkpoint of this run (resume), -model_in
     (checked before the run directory exists), or scratch; the directory checked and locked */
  PofRunStart   start;
  ModelCheckCtx mc = { cfg, kind };
  PetscCall(pof_rundir_start(comm, cfg->run.dir,
                             cfg->ckpt.resume == POF_RESUME_AUTO ? PETSC_TRUE : PETSC_FALSE,
                             cfg->model.in, check_model_in, &mc, &start));
  t->lock           = start.lock;
  t->last_ckpt_step = -1;
  char hb[POF_PATH_MAX + 32];
  PetscCall(PetscSNPrintf(hb, sizeof hb, "%s/progress.json", cfg->run.dir));
  pof_progress_setup(cfg->run.quiet ? 0 : cfg->run.progress, t->rank == 0, hb,
                     pof_fs_write_text_atomic);

  /* data */
  const PofWatchPhase back = pof_phase_enter(POF_WATCH_DATA_LOAD, -1);
  PetscCall(pof_dataset_open(comm, cfg->data.file, &cfg->data, cfg->run.seed, &t->ds));
  pof_phase_leave(back);
  PetscCall(pof_dataset_get_info(t->ds, &t->info));
  t->steps_per_epoch = pof_dataset_batches_per_epoch(t->ds, t->B);
  PetscCheck(t->steps_per_epoch >= 1, comm, PETSC_ERR_ARG_WRONG,
             "-opt_batch %" PetscInt_FMT " is larger than the %" PetscInt_FMT
             " training samples of '%s'",
             t->B, t->info.n_train, cfg->data.file);

  if (start.resumed) PetscCall(check_resume(t, cfg, kind, &start));
  PetscCheck(kind == POF_RUN_PRETRAIN || start.resumed || start.from_model, comm,
             PETSC_ERR_ARG_WRONG, "pof posttrain needs -model_in (a model file of pof pretrain)");

  PetscCall(build_model(t, cfg, kind, &start));
  PetscCall(init_progress(t, cfg, kind, &start));
  if (cfg->run.precision == POF_PREC_BF16 && !t->finished) {
    PofWrnShape sh;
    pof_wrn_get_shape(t->m, &sh);
    PetscCall(pof_warn_bf16_speed(comm, &sh, t->nloc,
                                  kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain"));
  }
  if (kind == POF_RUN_POSTTRAIN && !t->theta0) PetscCall(gather_theta0(t));
  PetscCall(pof_stepper_init(&t->st, comm, &t->cfg, t->m, t->shard, t->B, t->Bw,
                             kind == POF_RUN_POSTTRAIN && cfg->pof.mode != POF_MODE_OFF ? t->theta0
                                                                                        : NULL));
  PetscCall(PetscMalloc2(t->nloc * t->sample, &t->x, t->nloc, &t->y));
  if (kind == POF_RUN_POSTTRAIN)
    PetscCall(
        PetscMalloc2(PetscMax(t->nwloc, 1) * t->sample, &t->xw, PetscMax(t->nwloc, 1), &t->yw));
  if (!t->finished) {
    PetscCall(open_run_files(t, start.resumed)); /* a finished run's files stay as they are */
    PetscCall(warn_free_space(t));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_trainer_create(MPI_Comm comm, const PofConfig *cfg, PofRunKind kind,
                                  PofTrainer *out)
{
  PofTrainer     t;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  *out = NULL;
  PetscCall(PetscCalloc1(1, &t));
  t->lock = -1;
  /* the watchdog keeps time from here on: data loading, checkpoint reads, steps, evaluation */
  (void)pof_phase_enter(POF_WATCH_SETUP, 0);
  ierr = pof_watchdog_start(comm, cfg->run.step_timeout);
  if (!ierr) t->watching = PETSC_TRUE;
  if (!ierr) ierr = trainer_setup(comm, cfg, kind, t);
  if (ierr) { /* free what was built, so a caller that goes on (pof sweep) does not leak it */
    (void)pof_trainer_destroy(&t);
    PetscFunctionReturn(ierr);
  }
  *out = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_trainer_destroy(PofTrainer *pt)
{
  PofTrainer t = *pt;
  PetscFunctionBegin;
  if (!t) PetscFunctionReturn(PETSC_SUCCESS);
  if (t->watching) pof_watchdog_stop();
  (void)pof_phase_enter(POF_WATCH_IDLE, -1);
  if (t->metrics) fclose(t->metrics);
  json_decref(t->ckpt_rows);
  if (t->steps) fclose(t->steps);
  PetscCall(PetscFree2(t->x, t->y));
  PetscCall(PetscFree2(t->xw, t->yw));
  if (t->st.m)
    PetscCall(pof_stepper_release(&t->st)); /* NULL if setup stopped before the stepper */
  PetscCall(PetscFree(t->theta0));
  PetscCall(pof_shard_destroy(&t->shard));
  PetscCall(pof_wrn_destroy(&t->m));
  PetscCall(pof_dataset_destroy(&t->ds));
  pof_rundir_unlock(&t->lock);
  PetscCall(PetscFree(*pt));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ evaluation */
static PetscErrorCode evaluate(MPI_Comm comm, PofDataset ds, PofWrn m, PofSplit split,
                               PetscInt limit, PetscInt Be, double *loss, double *err,
                               PetscInt *count)
{
  PofDatasetInfo info;
  PetscMPIInt    size;
  float         *x;
  int32_t       *y;
  double         acc[3] = { 0, 0, 0 };
  PetscFunctionBegin;
  pof_timer_start(POF_T_EVAL);
  const PofWatchPhase back = pof_phase_enter(POF_WATCH_EVAL, -1);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(pof_dataset_get_info(ds, &info));
  PetscInt N = split == POF_SPLIT_TRAIN ? info.n_train : info.n_test;
  if (limit > 0 && limit < N) N = limit;
  const PetscInt cap = (Be + size - 1) / size;
  PetscCall(PetscMalloc2(cap * info.c * info.h * info.w, &x, cap, &y));
  const PetscInt nb = (N + Be - 1) / Be;
  pof_progress_begin(POF_PHASE_EVAL, nb);
  for (PetscInt start = 0; start < N; start += Be) {
    const PetscInt cnt = PetscMin(Be, N - start);
    PetscInt       nl = 0, wrong = 0;
    double         ls = 0;
    PetscCall(pof_dataset_eval_batch(ds, split, start, cnt, x, y, &nl));
    if (nl > 0) PetscCall(pof_eval_batch(m, nl, x, y, &ls, &wrong));
    if (start == 0) (void)pof_fault_point("eval"); /* tests: a signal inside an evaluation */
    acc[0] += ls, acc[1] += (double)wrong, acc[2] += (double)nl;
    pof_progress_advance(start / Be + 1);
    if (pof_progress_due()) {
      char line[128];
      PetscCall(PetscSNPrintf(line, sizeof line,
                              "eval: %s split batch %" PetscInt_FMT "/%" PetscInt_FMT,
                              split == POF_SPLIT_TRAIN ? "train" : "test", start / Be + 1, nb));
      pof_progress_report(line, NULL);
    }
    pof_phase_beat();
  }
  pof_progress_end();
  PetscCall(pof_comm_allreduce_sum(comm, acc, 3));
  PetscCall(PetscFree2(x, y));
  *loss = acc[0] / acc[2];
  *err  = 100.0 * acc[1] / acc[2];
  if (count) *count = (PetscInt)acc[2];
  pof_phase_leave(back);
  pof_timer_stop(POF_T_EVAL);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_model_load(MPI_Comm comm, const PofConfig *cfg, const PofDatasetInfo *info,
                              PofWrn *pm, double **theta)
{
  PofCkptMeta        in;
  PofWrn             m;
  Vec                master, all;
  VecScatter         sc;
  const PetscScalar *a;
  PetscFunctionBegin;
  PetscCheck(cfg->model.in[0], comm, PETSC_ERR_ARG_WRONG, "no model file: give -model_in F.h5");
  PetscCall(pof_ckpt_read_meta(comm, cfg->model.in, &in));
  PetscCall(pof_ckpt_check_shape_options(comm, cfg->model.in, &in, &cfg->model));
  PetscCall(check_model_fits_data(comm, cfg->model.in, &in, cfg->data.file, info));
  PofWrnShape shape = { in.depth, in.width, in.base, in.in_c, in.in_h, in.in_w, in.classes };
  PetscCall(check_model_sizes(comm, cfg->model.in, &in, &shape));
  PetscCall(pof_wrn_create(&shape, cfg->run.precision == POF_PREC_BF16 ? POF_DT_BF16 : POF_DT_F32,
                           PETSC_FALSE, pm));
  m = *pm;
  PetscCall(pof_wrn_set_winograd(m, cfg->model.conv_alg == POF_CONV_WINOGRAD));
  PetscCall(VecCreateMPI(comm, PETSC_DECIDE, in.n_params, &master));
  {
    const PetscErrorCode ierr =
        pof_ckpt_read(comm, cfg->model.in, master, NULL, pof_wrn_running(m), NULL, 0);
    if (ierr) PetscCall(VecDestroy(&master));
    PetscCall(ierr);
  }
  /* every rank needs all parameters: gather the Vec */
  PetscCall(VecScatterCreateToAll(master, &sc, &all));
  PetscCall(VecScatterBegin(sc, master, all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecScatterEnd(sc, master, all, INSERT_VALUES, SCATTER_FORWARD));
  PetscCall(VecGetArrayRead(all, &a));
  float *P = pof_wrn_params(m);
  for (PetscInt i = 0; i < in.n_params; i++) P[i] = (float)a[i];
  pof_wrn_params_changed(m);
  if (theta) {
    PetscCall(PetscMalloc1(in.n_params, theta));
    for (PetscInt i = 0; i < in.n_params; i++) (*theta)[i] = a[i];
  }
  PetscCall(VecRestoreArrayRead(all, &a));
  PetscCall(VecScatterDestroy(&sc));
  PetscCall(VecDestroy(&all));
  PetscCall(VecDestroy(&master));
  PetscCall(check_model_finite(comm, cfg->model.in, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_evaluate_file(MPI_Comm comm, const PofConfig *cfg, double *loss,
                                 double *error_pct, PetscInt *count)
{
  PofDataset     ds = NULL;
  PofDatasetInfo info;
  PofWrn         m = NULL;
  PetscBool      train;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  (void)pof_phase_enter(POF_WATCH_SETUP, 0);
  PetscCall(pof_watchdog_start(comm, cfg->run.step_timeout));
  (void)pof_phase_enter(POF_WATCH_DATA_LOAD, -1);
  PetscCall(pof_dataset_open(comm, cfg->data.file, &cfg->data, cfg->run.seed, &ds));
  (void)pof_phase_enter(POF_WATCH_SETUP, -1);
  PetscCall(pof_dataset_get_info(ds, &info));
  PetscCall(PetscStrcmp(cfg->eval.split, "train", &train));
  ierr = pof_model_load(comm, cfg, &info, &m, NULL);
  if (!ierr)
    ierr = evaluate(comm, ds, m, train ? POF_SPLIT_TRAIN : POF_SPLIT_TEST, 0, cfg->eval.batch, loss,
                    error_pct, count);
  pof_watchdog_stop();
  (void)pof_phase_enter(POF_WATCH_IDLE, -1);
  PetscCall(pof_wrn_destroy(&m)); /* also after an error: the model and data are freed */
  PetscCall(pof_dataset_destroy(&ds));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ one step */
static PetscErrorCode train_step(PofTrainer t, double lr, PetscInt epoch, PetscInt step,
                                 double *ls_out, PetscInt *wrong_out)
{
  double         ls    = 0;
  PetscInt       wrong = 0;
  PofRangeResult res;
  PetscFunctionBegin;
  if (t->kind == POF_RUN_PRETRAIN) {
    if (t->cfg.opt.kind == POF_OPT_SAM)
      PetscCall(pof_stepper_sam(&t->st, lr, t->x, t->y, &ls, &wrong));
    else
      PetscCall(pof_stepper_sgd(&t->st, lr, t->x, t->y, t->n_params, NULL, NULL, PETSC_TRUE, &ls,
                                &wrong));
  } else if (t->cfg.pof.mode == POF_MODE_OFF) {
    const PetscBool trainc = t->cfg.pof.train_classifier;
    PetscCall(pof_stepper_sgd(&t->st, lr, t->x, t->y, trainc ? t->n_params : t->nf, NULL, NULL,
                              trainc, &ls, &wrong));
  } else {
    pof_timer_start(POF_T_DATA);
    PetscCall(pof_dataset_weak_batch(t->ds, epoch, step, t->Bw, t->xw, t->yw));
    pof_timer_stop(POF_T_DATA);
    PetscCall(pof_stepper_pof(&t->st, lr, t->cfg.run.seed, epoch, step, t->x, t->y, t->xw, t->yw,
                              &res, &ls, &wrong));
    stat_add(&t->st_[ST_L0], res.L0);
    stat_add(&t->st_[ST_ETA_MAX], res.eta_max);
    stat_add(&t->st_[ST_ETA_STAR], res.eta_star);
    stat_add(&t->st_[ST_GAMMA], res.gamma);
    stat_add(&t->st_[ST_PERT], res.pert_norm);
    stat_add(&t->st_[ST_KAPPA], res.kappa);
    stat_add(&t->st_[ST_GNORM], res.gnorm);
    t->capped += res.capped ? 1 : 0;
    t->rejected += res.rejected ? 1 : 0;
    t->last_res = res;
  }
  *ls_out    = ls;
  *wrong_out = wrong;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One steps.jsonl row (rank 0, -run_step_log): the step's global loss and error (the sums of
   the step's one reduction), and with PoF the range search's figures (rank 0's in mode local). */
static PetscErrorCode write_step_row(PofTrainer t, PetscInt epoch, PetscInt step,
                                     const double sums[2])
{
  const PofRangeResult *res = &t->last_res;
  PetscFunctionBegin;
  if (!t->steps) PetscFunctionReturn(PETSC_SUCCESS);
  json_t *row = json_object();
  pof_json_set(&row, "epoch", json_integer((json_int_t)epoch + 1));
  pof_json_set(&row, "step", json_integer((json_int_t)step));
  pof_json_set(&row, "loss", pof_json_real_or_null(sums[0] / (double)t->B));
  pof_json_set(&row, "error", pof_json_real_or_null(100.0 * sums[1] / (double)t->B));
  if (t->kind == POF_RUN_POSTTRAIN && t->cfg.pof.mode != POF_MODE_OFF) {
    pof_json_set(&row, "L0", pof_json_real_or_null(res->L0));
    pof_json_set(&row, "eta_max", pof_json_real_or_null(res->eta_max));
    pof_json_set(&row, "eta_star", pof_json_real_or_null(res->eta_star));
    pof_json_set(&row, "gamma", pof_json_real_or_null(res->gamma));
    pof_json_set(&row, "pert_norm", pof_json_real_or_null(res->pert_norm));
    pof_json_set(&row, "kappa", pof_json_real_or_null(res->kappa));
    pof_json_set(&row, "capped", json_integer((json_int_t)res->capped));
    pof_json_set(&row, "rejected", json_integer((json_int_t)res->rejected));
  }
  PetscCall(pof_json_write_line(t->steps, row));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The progress figures of the run so far, for the line and progress.json: the epoch's running
   global loss and error (or, at its end, the epoch's row), speed and the time left. */
static json_t *progress_json(PofTrainer t, PetscInt epoch, PetscInt step, double img_s,
                             double eta_epoch, double eta_run)
{
  json_t *o = json_object();
  pof_json_set(&o, "kind", pof_json_string(t->meta.kind));
  pof_json_set(&o, "run_dir", pof_json_string(t->cfg.run.dir));
  pof_json_set(&o, "epoch", json_integer((json_int_t)epoch + 1));
  pof_json_set(&o, "epochs", json_integer((json_int_t)t->end_epoch));
  pof_json_set(&o, "step", json_integer((json_int_t)step));
  pof_json_set(&o, "steps", json_integer((json_int_t)t->steps_per_epoch));
  pof_json_set(&o, "global_step", json_integer((json_int_t)t->meta.global_step));
  pof_json_set(&o, "train_loss", pof_json_real_or_null(t->loss_sum / (double)t->seen));
  pof_json_set(&o, "train_error",
               pof_json_real_or_null(100.0 * (double)t->wrong / (double)t->seen));
  pof_json_set(&o, "images_per_s", pof_json_real_or_null(img_s));
  pof_json_set(&o, "eta_epoch_s", pof_json_real_or_null(eta_epoch));
  pof_json_set(&o, "eta_run_s", pof_json_real_or_null(eta_run));
  return o;
}

/* A progress line and progress.json, when a period has passed (rank 0; no communication). */
static PetscErrorCode report_step(PofTrainer t, const char *name, PetscInt epoch, PetscInt step)
{
  const double now = pof_now();
  PetscFunctionBegin;
  pof_progress_advance(step + 1);
  pof_progress_set_step(t->meta.global_step);
  t->prog_steps++;
  if (!pof_progress_due()) PetscFunctionReturn(PETSC_SUCCESS);
  const double per_step = (now - t->prog_t0) / (double)PetscMax(t->prog_steps, 1);
  const double img_s =
      (double)(t->B * t->prog_epoch_steps) / PetscMax(now - t->prog_epoch_t0, 1e-9);
  const PetscInt left_epoch = t->steps_per_epoch - step - 1,
                 left_run   = left_epoch + (t->end_epoch - epoch - 1) * t->steps_per_epoch;
  char eta_e[32], eta_r[32], line[256];
  pof_progress_duration((double)left_epoch * per_step, eta_e, sizeof eta_e);
  pof_progress_duration((double)left_run * per_step, eta_r, sizeof eta_r);
  PetscCall(PetscSNPrintf(line, sizeof line,
                          "%s: epoch %" PetscInt_FMT "/%" PetscInt_FMT " step %" PetscInt_FMT
                          "/%" PetscInt_FMT " loss %.4f err %.2f%% %.0f img/s ETA epoch %s run %s",
                          name, epoch + 1, t->end_epoch, step + 1, t->steps_per_epoch,
                          t->loss_sum / (double)t->seen, 100.0 * (double)t->wrong / (double)t->seen,
                          img_s, eta_e, eta_r));
  pof_progress_report(line, progress_json(t, epoch, step + 1, img_s, (double)left_epoch * per_step,
                                          (double)left_run * per_step));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ the loop */
/* Rank 0: one metrics row (taken), then both row files flushed; a failure names the file. */
static PetscErrorCode metrics_write(PofTrainer t, json_t *row)
{
  char path[POF_PATH_MAX + 32];
  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/metrics.jsonl", t->cfg.run.dir));
  PetscCall(pof_json_write_line(t->metrics, row));
  errno = 0;
  PetscCheck(fflush(t->metrics) == 0 && (!t->steps || fflush(t->steps) == 0), PETSC_COMM_SELF,
             pof_error_of_write_errno(errno), "cannot write %s or steps.jsonl: %s", path,
             strerror(errno ? errno : EIO));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_metrics(PofTrainer t, PetscInt epoch, double lr, double secs,
                                    double test_loss, double test_err, double gap_loss,
                                    double gap_err)
{
  double  mn[POF_T_COUNT], avg[POF_T_COUNT], mx[POF_T_COUNT];
  json_t *mrow = NULL;
  PetscFunctionBegin;
  PetscCall(pof_timers_reduce(t->comm, mn, avg, mx));
  PofShardStats ss;
  PetscCall(pof_shard_stats(t->shard, &ss));
  const double train_loss = t->loss_sum / (double)t->seen,
               train_err =
                   100.0 * (double)t->wrong / (double)t->seen; /* global sums of every step */
  const double imgs = (double)(t->B * t->steps_per_epoch);
  if (t->rank == 0) {
    json_t *row = json_object();
    pof_json_set(&row, "epoch", json_integer((json_int_t)epoch + 1));
    pof_json_set(&row, "kind", pof_json_string(t->meta.kind));
    pof_json_set(&row, "lr", pof_json_real_or_null(lr));
    pof_json_set(&row, "train_loss",
                 pof_json_real_or_null(train_loss)); /* a diverged run's losses: null */
    pof_json_set(&row, "train_error", pof_json_real_or_null(train_err));
    pof_json_set(&row, "test_loss", pof_json_real_or_null(test_loss));
    pof_json_set(&row, "test_error", pof_json_real_or_null(test_err));
    pof_json_set(&row, "epoch_seconds", pof_json_real_or_null(secs));
    pof_json_set(&row, "images_per_s", pof_json_real_or_null(imgs / secs));
    pof_json_set(&row, "ranks", json_integer((json_int_t)t->size));
    pof_json_set(&row, "threads", json_integer(pof_threads()));
    if (gap_loss >= 0 || isnan(gap_loss)) {
      pof_json_set(&row, "train_clean_loss", pof_json_real_or_null(gap_loss));
      pof_json_set(&row, "train_clean_error", pof_json_real_or_null(gap_err));
      pof_json_set(&row, "loss_gap", pof_json_real_or_null(test_loss - gap_loss));
    }
    if (t->kind == POF_RUN_POSTTRAIN) {
      pof_json_set(&row, "pof_mode", pof_json_string(PofPofModes[t->cfg.pof.mode]));
      if (t->cfg.pof.mode != POF_MODE_OFF) {
        const double steps = (double)t->steps_per_epoch;
        json_t      *pof   = json_object();
        pof_json_set(&pof, "capped_fraction", pof_json_real_or_null((double)t->capped / steps));
        pof_json_set(&pof, "rejected_fraction", pof_json_real_or_null((double)t->rejected / steps));
        for (int k = 0; k < ST_COUNT; k++) {
          char key[64];
          PetscCall(PetscSNPrintf(key, sizeof(key), "%s_mean", stat_names[k]));
          pof_json_set(&pof, key, pof_json_real_or_null(stat_mean(&t->st_[k])));
          PetscCall(PetscSNPrintf(key, sizeof(key), "%s_std", stat_names[k]));
          pof_json_set(&pof, key, pof_json_real_or_null(stat_std(&t->st_[k])));
        }
        pof_json_set(&row, "pof", pof);
      }
    }
    json_t *time = json_object(), *exchange = json_object();
    for (int i = 0; i < POF_T_COUNT; i++) {
      const double mma[3] = { mn[i], avg[i], mx[i] };
      pof_json_set(&time, pof_timer_key((PofTimerId)i), pof_json_reals(mma, 3));
    }
    pof_json_set(&row, "time", time);
    pof_json_set(&exchange, "buckets", json_integer((json_int_t)ss.buckets));
    pof_json_set(&exchange, "open_at_end", pof_json_real_or_null(ss.open_at_end));
    pof_json_set(&exchange, "grad_wait", pof_json_real_or_null(ss.grad_wait));
    pof_json_set(&exchange, "param_gather", pof_json_real_or_null(ss.param_gather));
    pof_json_set(&row, "exchange", exchange);
    if (t->ckpt_rows) { /* the checkpoints written since the last row, with their write times */
      pof_json_set(&row, "checkpoints", t->ckpt_rows);
      t->ckpt_rows = NULL;
    }
    mrow = row;
  }
  RANK0_AGREED(t, metrics_write(t, mrow)); /* a full disk here: every rank stops, exit 74 */
  t->last_train_loss  = train_loss;
  t->last_train_error = train_err;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The running epoch's figures into the checkpoint's fields (mid-epoch), or zeros (at a boundary).
 */
static void acc_to_meta(PofTrainer t, PetscBool mid)
{
  PofCkptMeta *m = &t->meta;
  m->acc_loss    = mid ? t->loss_sum : 0;
  m->acc_wrong = mid ? t->wrong : 0, m->acc_seen = mid ? t->seen : 0;
  m->acc_capped = mid ? t->capped : 0, m->acc_rejected = mid ? t->rejected : 0;
  for (int k = 0; k < POF_CKPT_MAX_STATS; k++) {
    m->acc_stat_s[k]  = mid && k < ST_COUNT ? t->st_[k].s : 0;
    m->acc_stat_s2[k] = mid && k < ST_COUNT ? t->st_[k].s2 : 0;
    m->acc_stat_n[k]  = mid && k < ST_COUNT ? t->st_[k].n : 0;
  }
}

/* Start an epoch's figures: from the checkpoint when the run resumes inside this epoch. */
static void acc_start(PofTrainer t, PetscBool resume_mid)
{
  const PofCkptMeta *m = &t->meta;
  t->loss_sum          = resume_mid ? m->acc_loss : 0;
  t->wrong = resume_mid ? m->acc_wrong : 0, t->seen = resume_mid ? m->acc_seen : 0;
  t->capped = resume_mid ? m->acc_capped : 0, t->rejected = resume_mid ? m->acc_rejected : 0;
  for (int k = 0; k < ST_COUNT; k++)
    t->st_[k] = (Stat){ resume_mid ? m->acc_stat_s[k] : 0, resume_mid ? m->acc_stat_s2[k] : 0,
                        resume_mid ? m->acc_stat_n[k] : 0 };
}

static PetscErrorCode checkpoint(PofTrainer t, PetscInt epoch_done, PetscInt step_in_epoch)
{
  char path[POF_PATH_MAX + 64];
  PetscFunctionBegin;
  t->meta.epochs_done   = epoch_done;
  t->meta.step_in_epoch = step_in_epoch;
  acc_to_meta(t, step_in_epoch > 0);
  if (t->rank ==
      0) { /* every row the checkpoint covers is on disk before it (a resume keeps them) */
    if (t->steps) (void)(fflush(t->steps) || fsync(fileno(t->steps)));
    if (t->metrics) (void)(fflush(t->metrics) || fsync(fileno(t->metrics)));
  }
  PetscCall(pof_rundir_ckpt_name(t->cfg.run.dir, t->meta.global_step, path, sizeof(path)));
  const double t0 = pof_now();
  PetscCall(write_state(t, path));
  const double secs = pof_now() - t0, lead = t->cfg.run.signal_lead;
  t->last_ckpt_step = t->meta.global_step;
  PetscCall(pof_rundir_prune(t->comm, t->cfg.run.dir, t->cfg.ckpt.keep));
  if (t->rank == 0) { /* into the next metrics row (rank 0's clock) */
    json_t *c = json_object();
    if (!t->ckpt_rows) t->ckpt_rows = json_array();
    pof_json_set(&c, "global_step", json_integer((json_int_t)t->meta.global_step));
    pof_json_set(&c, "write_seconds", pof_json_real_or_null(secs));
    pof_json_set(&c, "verify_seconds", pof_json_real_or_null(pof_ckpt_last_verify_seconds()));
    if (t->ckpt_rows && c) json_array_append_new(t->ckpt_rows, c);
    if (lead > 0 && secs > lead / 3 && !t->lead_warned)
      PetscCall(
          PetscFPrintf(PETSC_COMM_SELF, stderr,
                       "%s: warning: writing checkpoint %s took %.1f s, more than a third of "
                       "the stop signal's lead time (-run_signal_lead %g s): a preemption may "
                       "kill the job before its checkpoint is written; ask for a longer lead "
                       "(--signal=B:USR1@N) or checkpoint less state\n",
                       t->meta.kind, path, secs, (double)lead));
    if (lead > 0 && secs > lead / 3) t->lead_warned = PETSC_TRUE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* model.h5 = a hard link of the checkpoint ckpt (rank 0: link under a temporary name, rename,
   fsync the directory); where links are not possible (another file system, no support) the
   state is written again as model.h5. Collective. */
static PetscErrorCode link_model(PofTrainer t, const char *ckpt, const char *model)
{
  int linked = 0;
  PetscFunctionBegin;
  if (t->rank == 0) {
    char tmp[POF_PATH_MAX + 64];
    if (!pof_fs_tmp_name(model, tmp, sizeof(tmp)) && link(ckpt, tmp) == 0) {
      linked = rename(tmp, model) == 0;
      (void)unlink(tmp); /* left over when model already was this very file */
      pof_fs_sync_dir_of(model);
    }
  }
  PetscCall(pof_comm_bcast_bytes(t->comm, &linked, sizeof(linked), 0));
  if (!linked) PetscCall(write_state(t, model));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After every step: the step's global loss sum and error count (added to the epoch's figures)
   and the ranks' agreement on a stop request, in one reduction. */
static PetscErrorCode step_agreed(PofTrainer t, double ls, PetscInt wrong, int *sig, double sums[2])
{
  int local = 0;
  PetscFunctionBegin;
  sums[0] = ls, sums[1] = (double)wrong;
  if (t->cfg.stop_requested) {
    pof_signal_test_hook(t->meta.global_step);
    local = t->cfg.stop_requested();
  }
  PetscCall(pof_comm_step_agree(t->comm, local, sums, sig));
  t->loss_sum += sums[0];
  t->wrong += (PetscInt)sums[1];
  t->seen += t->B;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* At the end of every epoch: do all ranks agree to stop? */
static PetscErrorCode stop_agreed(PofTrainer t, int *sig)
{
  PetscFunctionBegin;
  *sig = 0;
  if (!t->cfg.stop_requested) PetscFunctionReturn(PETSC_SUCCESS);
  pof_signal_test_hook(t->meta.global_step);
  PetscCall(pof_comm_stop_agree(t->comm, t->cfg.stop_requested(), sig));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A rerun of a finished run: report it (the test split evaluated), train nothing. */
static PetscErrorCode report_finished(PofTrainer t, const char *name, double t_run,
                                      PofRunSummary *sum)
{
  double test_loss = NAN, test_err = NAN;
  PetscFunctionBegin;
  PetscBool have_model;
  PetscCall(pof_print(t->comm,
                      "%s: run directory %s already finished (epoch %" PetscInt_FMT
                      ", step %" PetscInt_FMT ", checkpoint %s): nothing to train\n",
                      name, t->cfg.run.dir, t->meta.epochs_done, t->meta.global_step,
                      t->resume_path));
  PetscCall(PetscTestFile(sum->model_path, 'r', &have_model));
  if (!have_model) PetscCall(link_model(t, t->resume_path, sum->model_path));
  PetscCall(evaluate(t->comm, t->ds, t->m, POF_SPLIT_TEST, 0,
                     t->cfg.eval.batch > 0 ? t->cfg.eval.batch : 500, &test_loss, &test_err, NULL));
  sum->status      = POF_RUN_ALREADY_FINISHED;
  sum->epochs_done = t->meta.epochs_done;
  sum->global_step = t->meta.global_step;
  sum->train_loss = sum->train_error = NAN;
  sum->test_loss                     = test_loss;
  sum->test_error                    = test_err;
  sum->seconds                       = pof_now() - t_run;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The training steps of one epoch from first_step. *stopped: a stop agreed mid-epoch (its
   checkpoint written); *stop_at_end: one agreed on the epoch's last step (the epoch is logged
   first). */
static PetscErrorCode train_epoch_steps(PofTrainer t, const char *name, PetscInt epoch, double lr,
                                        PetscInt first_step, int *stopped, int *stop_at_end)
{
  PetscFunctionBegin;
  pof_progress_begin(POF_PHASE_TRAIN, t->steps_per_epoch);
  t->prog_epoch_t0    = pof_now();
  t->prog_epoch_steps = 0;
  for (PetscInt step = first_step; step < t->steps_per_epoch; step++) {
    int      sig;
    double   ls    = 0, sums[2];
    PetscInt wrong = 0;
    (void)pof_phase_enter(POF_WATCH_TRAIN, t->meta.global_step + 1);
    pof_timer_start(POF_T_DATA);
    PetscCall(pof_dataset_train_batch(t->ds, epoch, step, t->B, t->x, t->y));
    pof_timer_stop(POF_T_DATA);
    PetscCall(train_step(t, lr, epoch, step, &ls, &wrong));
    if (!t->kernels_checked) {
      PetscCall(pof_warn_reference_kernels(t->comm, t->m, name));
      t->kernels_checked = PETSC_TRUE;
    }
    t->meta.global_step++;
    PetscCall(step_agreed(t, ls, wrong, &sig, sums));
    if (t->rank == 0) PetscCall(write_step_row(t, epoch, step, sums));
    t->prog_epoch_steps++;
    if (t->rank == 0) PetscCall(report_step(t, name, epoch, step));
    if (t->cfg.ckpt.every_steps > 0 && t->meta.global_step % t->cfg.ckpt.every_steps == 0 &&
        step + 1 < t->steps_per_epoch)
      PetscCall(checkpoint(t, epoch, step + 1));
    if (sig &&
        step + 1 <
            t->steps_per_epoch) { /* mid-epoch: checkpoint here, with the data-order position */
      if (t->last_ckpt_step != t->meta.global_step) PetscCall(checkpoint(t, epoch, step + 1));
      *stopped = sig;
      break;
    }
    if (sig) *stop_at_end = sig; /* last step of the epoch: evaluate and log it first */
  }
  pof_progress_end();
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The learning rate of a (global) epoch: pretraining follows its schedule; post-training runs at
   the rate fixed at its start (t->post_lr), or follows a schedule of its own from that rate when
   -opt_schedule, -opt_milestones or -opt_warmup was given. */
static double epoch_lr(PofTrainer t, PetscInt epoch)
{
  const PofOptConfig *o = &t->cfg.opt;
  if (t->kind == POF_RUN_PRETRAIN)
    return pof_schedule_lr(t->meta.lr_base, (PofScheduleKind)t->meta.schedule, t->meta.milestones,
                           t->meta.nmilestones, t->meta.lr_factor, t->meta.warmup_epochs,
                           t->meta.schedule_epochs, epoch);
  if (!o->sched_set) return t->post_lr;
  return pof_schedule_lr(t->post_lr, o->schedule, o->milestones, o->nmilestones, o->factor,
                         o->warmup, t->cfg.run.epochs, epoch - t->start_epoch);
}

/* The run's first line: the model, data, batch, ranks and epochs. */
static PetscErrorCode print_header(PofTrainer t, const char *name, PetscInt e0)
{
  PetscFunctionBegin;
  PetscCall(pof_print(
      t->comm,
      "%s: WRN-%" PetscInt_FMT "-%" PetscInt_FMT " (base %" PetscInt_FMT ", %" PetscInt_FMT
      " parameters) on %s (%" PetscInt_FMT " train / %" PetscInt_FMT " test), batch %" PetscInt_FMT
      " on %d rank(s) x %d thread(s), epochs %" PetscInt_FMT "..%" PetscInt_FMT "%s%s\n",
      name, t->meta.depth ? t->meta.depth : t->cfg.model.depth,
      t->meta.width ? t->meta.width : t->cfg.model.width,
      t->meta.base ? t->meta.base : t->cfg.model.base, t->n_params,
      t->info.name[0] ? t->info.name : t->cfg.data.file, t->info.n_train, t->info.n_test, t->B,
      (int)t->size, pof_threads(), e0 + 1, t->end_epoch,
      t->kind == POF_RUN_POSTTRAIN ? ", PoF mode " : "",
      t->kind == POF_RUN_POSTTRAIN ? PofPofModes[t->cfg.pof.mode] : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The end of an epoch: progress.json with the epoch's figures (as in its metrics row) and, unless
   quiet, the epoch's line. */
static PetscErrorCode report_epoch(PofTrainer t, const char *name, PetscInt epoch, PetscInt e0,
                                   double lr, double secs, double t_run, double test_loss,
                                   double test_err)
{
  PetscFunctionBegin;
  if (t->rank == 0 && pof_progress_on()) {
    json_t *hb =
        progress_json(t, epoch, t->steps_per_epoch, (double)(t->B * t->steps_per_epoch) / secs, 0,
                      (double)(t->end_epoch - epoch - 1) * secs);
    pof_json_set(&hb, "test_loss", pof_json_real_or_null(test_loss));
    pof_json_set(&hb, "test_error", pof_json_real_or_null(test_err));
    pof_progress_report(NULL, hb);
  }
  if (!t->cfg.run.quiet) {
    const double left =
        (double)(t->end_epoch - epoch - 1) * (pof_now() - t_run) / (double)(epoch + 1 - e0);
    PetscCall(pof_print(t->comm,
                        "%s: epoch %" PetscInt_FMT "/%" PetscInt_FMT
                        "  lr %.4g  train loss %.4f err %.2f%%  test loss %.4f err %.2f%%  "
                        "%.1f s (%.0f img/s)  ETA %.0f s\n",
                        name, epoch + 1, t->end_epoch, lr, t->last_train_loss, t->last_train_error,
                        test_loss, test_err, secs, (double)(t->B * t->steps_per_epoch) / secs,
                        left));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_trainer_run(PofTrainer t, PofRunSummary *sum)
{
  const char *name      = t->kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain";
  double      test_loss = NAN, test_err = NAN, t_run = pof_now(), img_total = 0, t_train = 0;
  PetscInt    first_step = t->meta.step_in_epoch;
  int         stopped    = 0;
  char        ckpt[POF_PATH_MAX + 64];
  PetscFunctionBegin;
  PetscCall(PetscMemzero(sum, sizeof(*sum)));
  PetscCall(PetscSNPrintf(sum->model_path, sizeof(sum->model_path), "%s/model.h5", t->cfg.run.dir));
  if (t->finished) {
    PetscCall(report_finished(t, name, t_run, sum));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  const PetscInt e0 = t->meta.epochs_done > t->start_epoch ? t->meta.epochs_done : t->start_epoch;
  PetscCall(print_header(t, name, e0));
  t->prog_t0    = pof_now();
  t->prog_steps = 0;
  pof_progress_begin(POF_PHASE_TRAIN, t->end_epoch - e0); /* epochs; each epoch nests its steps */
  for (PetscInt epoch = e0; epoch < t->end_epoch && !stopped; epoch++) {
    const double lr          = epoch_lr(t, epoch);
    int          stop_at_end = 0;
    pof_timers_reset();
    pof_shard_stats_reset(t->shard);
    acc_start(t, (PetscBool)(first_step > 0));
    const double t0 = pof_now();
    PetscCall(train_epoch_steps(t, name, epoch, lr, first_step, &stopped, &stop_at_end));
    first_step = 0;
    if (stopped) break;
    const double secs = pof_now() - t0;
    t_train += secs;
    img_total += (double)(t->B * t->steps_per_epoch);
    PetscCall(evaluate(t->comm, t->ds, t->m, POF_SPLIT_TEST, 0,
                       t->cfg.eval.batch > 0 ? t->cfg.eval.batch : 500, &test_loss, &test_err,
                       NULL));
    double gl = -1, ge = -1;
    if (t->cfg.run.gap)
      PetscCall(evaluate(t->comm, t->ds, t->m, POF_SPLIT_TRAIN, t->cfg.run.gap_samples, 500, &gl,
                         &ge, NULL));
    PetscCall(write_metrics(t, epoch, lr, secs, test_loss, test_err, gl, ge));
    t->meta.epochs_done   = epoch + 1;
    t->meta.step_in_epoch = 0;
    pof_progress_advance(epoch + 1 - e0);
    PetscCall(report_epoch(t, name, epoch, e0, lr, secs, t_run, test_loss, test_err));
    if (t->cfg.ckpt.every_epochs > 0 &&
        (epoch + 1 - t->start_epoch) % t->cfg.ckpt.every_epochs == 0 && epoch + 1 < t->end_epoch)
      PetscCall(checkpoint(t, epoch + 1, 0));
    if (epoch + 1 < t->end_epoch) { /* a request that arrived during the evaluation counts too */
      int sig;
      PetscCall(stop_agreed(t, &sig));
      if (!stop_at_end) stop_at_end = sig;
      if (stop_at_end) {
        if (t->last_ckpt_step != t->meta.global_step) PetscCall(checkpoint(t, epoch + 1, 0));
        stopped = stop_at_end;
      }
    }
  }
  pof_progress_end();
  sum->epochs_done  = t->meta.epochs_done;
  sum->global_step  = t->meta.global_step;
  sum->train_loss   = t->last_train_loss;
  sum->train_error  = t->last_train_error;
  sum->seconds      = pof_now() - t_run;
  sum->images_per_s = t_train > 0 ? img_total / t_train : 0;
  PetscCall(pof_rundir_ckpt_name(t->cfg.run.dir, t->meta.global_step, ckpt, sizeof(ckpt)));
  if (stopped) {
    sum->status      = POF_RUN_STOPPED;
    sum->stop_signal = stopped;
    sum->test_loss = sum->test_error = NAN;
    PetscCall(PetscStrncpy(sum->model_path, ckpt, sizeof(sum->model_path)));
    PetscCall(pof_print(t->comm,
                        "%s: stopped on %s after global step %" PetscInt_FMT
                        " (epoch %" PetscInt_FMT ", step %" PetscInt_FMT " of %" PetscInt_FMT
                        "); checkpoint %s written; rerun the same command to resume\n",
                        name, pof_signal_name(stopped), t->meta.global_step,
                        t->meta.epochs_done + (t->meta.step_in_epoch > 0),
                        t->meta.step_in_epoch > 0 ? t->meta.step_in_epoch : t->steps_per_epoch,
                        t->steps_per_epoch, ckpt));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (isnan(test_loss))
    PetscCall(evaluate(t->comm, t->ds, t->m, POF_SPLIT_TEST, 0, 500, &test_loss, &test_err, NULL));
  /* the final state is a checkpoint (a rerun sees a finished run) and model.h5 is that file */
  if (t->last_ckpt_step != t->meta.global_step) PetscCall(checkpoint(t, t->meta.epochs_done, 0));
  PetscCall(link_model(t, ckpt, sum->model_path));
  sum->status     = POF_RUN_FINISHED;
  sum->test_loss  = test_loss;
  sum->test_error = test_err;
  sum->seconds    = pof_now() - t_run;
  PetscFunctionReturn(PETSC_SUCCESS);
}
