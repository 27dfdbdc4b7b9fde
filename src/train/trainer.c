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
#include "pof/phase.h"
#include "pof/watchdog.h"
#include "pof/stepper.h"
#include "pof/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
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

struct _p_PofTrainer {
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
  PetscBool watching;        /* a -run_step_timeout watchdog started by pof_trainer_create */
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
/* A resumed run continues metrics.jsonl / steps.jsonl after the rows of the checkpoint's state
   (epochs_done E, step_in_epoch S): rows written after it (a job killed between a row and its
   checkpoint, or checkpoints every few epochs) are dropped, so the files end up holding an
   uninterrupted run's rows. Metrics rows {"epoch":e,...} are kept for e <= E; step rows
   {"epoch":e,"step":s,...} for (e - 1, s) < (E, S); a line that is not a JSON object with these
   integers (cut by a kill) goes too. The file is rewritten atomically (pof_fs_write_atomic). Rank
   0. */
typedef struct {
  FILE     *in;
  PetscBool steps;
  PetscInt  E, S;
  int       dropped;
} TrimRows;

static int trim_rows_write(FILE *out, void *ctx)
{
  TrimRows *c    = (TrimRows *)ctx;
  char     *line = NULL;
  size_t    cap  = 0;
  for (ssize_t n; (n = getline(&line, &cap, c->in)) > 0;) {
    json_t          *row = n > 1 && line[n - 1] == '\n' ? pof_json_parse(line, (size_t)n) : NULL;
    const json_int_t e   = json_integer_value(json_object_get(row, "epoch")),
                     st  = json_integer_value(json_object_get(row, "step"));
    int ok               = json_is_integer(json_object_get(row, "epoch")) && e >= 1;
    if (ok && c->steps)
      ok = json_is_integer(json_object_get(row, "step")) &&
           (e - 1 < c->E || (e - 1 == c->E && st < c->S));
    else if (ok)
      ok = e <= c->E;
    json_decref(row);
    if (!ok)
      c->dropped++;
    else if (fputs(line, out) < 0) {
      free(line);
      return errno ? errno : EIO;
    }
  }
  free(line);
  return 0;
}

static PetscErrorCode trim_rows(const char *path, PetscBool steps, PetscInt E, PetscInt S,
                                int *dropped)
{
  TrimRows c = { fopen(path, "r"), steps, E, S, 0 };
  char     msg[2 * POF_PATH_MAX + 128];
  int      err;
  PetscFunctionBegin;
  *dropped = 0;
  if (!c.in) PetscFunctionReturn(PETSC_SUCCESS); /* nothing written yet */
  err = pof_fs_write_atomic(path, trim_rows_write, &c, msg, sizeof msg);
  fclose(c.in);
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE,
             "cannot rewrite '%s' without the rows after the checkpoint: %s", path, msg);
  *dropped = c.dropped;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode open_run_files(PofTrainer t, PetscBool resumed)
{
  char path[POF_PATH_MAX + 32], kept[POF_PATH_MAX + 64] = "";
  int  changed = 0;
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
  if (t->rank == 0) {
    FILE *f;
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/config.json", t->cfg.run.dir));
    if (changed > 0 && rename(path, kept) != 0 && errno != ENOENT)
      PetscCall(PetscFPrintf(PETSC_COMM_SELF, stderr, "pof: warning: cannot keep %s as %s: %s\n",
                             path, kept, strerror(errno)));
    f = fopen(path, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s': %s", path,
               strerror(errno));
    PetscCall(pof_config_write_json(&t->cfg, f));
    fprintf(f, "\n");
    fclose(f);
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/metrics.jsonl", t->cfg.run.dir));
    if (resumed) {
      char sp[POF_PATH_MAX + 32];
      int  dm, ds = 0;
      PetscCall(trim_rows(path, PETSC_FALSE, t->meta.epochs_done, t->meta.step_in_epoch, &dm));
      PetscCall(PetscSNPrintf(sp, sizeof(sp), "%s/steps.jsonl", t->cfg.run.dir));
      PetscCall(trim_rows(sp, PETSC_TRUE, t->meta.epochs_done, t->meta.step_in_epoch, &ds));
      if (dm + ds)
        PetscCall(PetscFPrintf(PETSC_COMM_SELF, stdout,
                               "%s: dropped %d metrics row(s) and %d step row(s) written after the "
                               "checkpoint (they are computed again)\n",
                               t->meta.kind, dm, ds));
    }
    t->metrics = fopen(path, resumed ? "a" : "w");
    PetscCheck(t->metrics, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s': %s", path,
               strerror(errno));
    if (t->cfg.run.step_log) {
      PetscCall(PetscSNPrintf(path, sizeof(path), "%s/steps.jsonl", t->cfg.run.dir));
      t->steps = fopen(path, resumed ? "a" : "w");
      PetscCheck(t->steps, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s': %s", path,
                 strerror(errno));
    }
  }
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
  char *json = NULL;
  PetscFunctionBegin;
  pof_timer_start(POF_T_CKPT_IO);
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
  pof_timer_stop(POF_T_CKPT_IO);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A model file's input shape, class count and dataset must fit the data file. */
static PetscErrorCode check_model_fits_data(MPI_Comm comm, const char *model, const PofCkptMeta *in,
                                            const char *data, const PofDatasetInfo *info)
{
  PetscFunctionBegin;
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
    PetscCheck(st->meta.n_params == t->n_params &&
                   st->meta.n_bn_state == pof_wrn_num_bn_state(t->m),
               t->comm, PETSC_ERR_FILE_UNEXPECTED,
               "model file '%s' holds %" PetscInt_FMT " parameters, the WRN-%" PetscInt_FMT
               "-%" PetscInt_FMT " it describes has %" PetscInt_FMT,
               path, st->meta.n_params, st->meta.depth, st->meta.width, t->n_params);
    if (kind == POF_RUN_POSTTRAIN && (st->resumed ? st->meta.have_theta0 : 0))
      PetscCall(PetscMalloc1(t->n_params - t->nf, &t->theta0));
    PetscCall(pof_ckpt_read(t->comm, path, pof_shard_master(t->shard),
                            st->meta.have_momentum ? pof_shard_momentum(t->shard) : NULL,
                            pof_wrn_running(t->m), t->theta0, t->theta0 ? t->n_params - t->nf : 0));
    PetscCall(pof_shard_gather_params(t->shard, pof_wrn_params(t->m)));
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

  /* data */
  const PofPhase back = pof_phase_enter(POF_PHASE_DATA_LOAD, -1);
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
  if (kind == POF_RUN_POSTTRAIN && !t->theta0) PetscCall(gather_theta0(t));
  PetscCall(pof_stepper_init(&t->st, comm, &t->cfg, t->m, t->shard, t->B, t->Bw,
                             kind == POF_RUN_POSTTRAIN && cfg->pof.mode != POF_MODE_OFF ? t->theta0
                                                                                        : NULL));
  PetscCall(PetscMalloc2(t->nloc * t->sample, &t->x, t->nloc, &t->y));
  if (kind == POF_RUN_POSTTRAIN)
    PetscCall(
        PetscMalloc2(PetscMax(t->nwloc, 1) * t->sample, &t->xw, PetscMax(t->nwloc, 1), &t->yw));
  if (!t->finished)
    PetscCall(open_run_files(t, start.resumed)); /* a finished run's files stay as they are */
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
  (void)pof_phase_enter(POF_PHASE_SETUP, 0);
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
  (void)pof_phase_enter(POF_PHASE_IDLE, -1);
  if (t->metrics) fclose(t->metrics);
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
  const PofPhase back = pof_phase_enter(POF_PHASE_EVAL, -1);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(pof_dataset_get_info(ds, &info));
  PetscInt N = split == POF_SPLIT_TRAIN ? info.n_train : info.n_test;
  if (limit > 0 && limit < N) N = limit;
  const PetscInt cap = (Be + size - 1) / size;
  PetscCall(PetscMalloc2(cap * info.c * info.h * info.w, &x, cap, &y));
  for (PetscInt start = 0; start < N; start += Be) {
    const PetscInt cnt = PetscMin(Be, N - start);
    PetscInt       nl = 0, wrong = 0;
    double         ls = 0;
    PetscCall(pof_dataset_eval_batch(ds, split, start, cnt, x, y, &nl));
    if (nl > 0) PetscCall(pof_eval_batch(m, nl, x, y, &ls, &wrong));
    acc[0] += ls, acc[1] += (double)wrong, acc[2] += (double)nl;
    pof_phase_beat();
  }
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
  PetscCall(pof_wrn_create(&shape, cfg->run.precision == POF_PREC_BF16 ? POF_DT_BF16 : POF_DT_F32,
                           PETSC_FALSE, pm));
  m = *pm;
  PetscCall(pof_wrn_set_winograd(m, cfg->model.conv_alg == POF_CONV_WINOGRAD));
  PetscCheck(in.n_params == pof_wrn_num_params(m) && in.n_bn_state == pof_wrn_num_bn_state(m), comm,
             PETSC_ERR_FILE_UNEXPECTED,
             "model file '%s' holds %" PetscInt_FMT " parameters, a WRN-%" PetscInt_FMT
             "-%" PetscInt_FMT " has %" PetscInt_FMT,
             cfg->model.in, in.n_params, in.depth, in.width, pof_wrn_num_params(m));
  PetscCall(VecCreateMPI(comm, PETSC_DECIDE, in.n_params, &master));
  PetscCall(pof_ckpt_read(comm, cfg->model.in, master, NULL, pof_wrn_running(m), NULL, 0));
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
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_evaluate_file(MPI_Comm comm, const PofConfig *cfg, double *loss,
                                 double *error_pct, PetscInt *count)
{
  PofDataset     ds = NULL;
  PofDatasetInfo info;
  PofWrn         m = NULL;
  PetscBool      train;
  PetscFunctionBegin;
  (void)pof_phase_enter(POF_PHASE_SETUP, 0);
  PetscCall(pof_watchdog_start(comm, cfg->run.step_timeout));
  (void)pof_phase_enter(POF_PHASE_DATA_LOAD, -1);
  PetscCall(pof_dataset_open(comm, cfg->data.file, &cfg->data, cfg->run.seed, &ds));
  (void)pof_phase_enter(POF_PHASE_SETUP, -1);
  PetscCall(pof_dataset_get_info(ds, &info));
  PetscCall(pof_model_load(comm, cfg, &info, &m, NULL));
  PetscCall(PetscStrcmp(cfg->eval.split, "train", &train));
  PetscCall(evaluate(comm, ds, m, train ? POF_SPLIT_TRAIN : POF_SPLIT_TEST, 0, cfg->eval.batch,
                     loss, error_pct, count));
  pof_watchdog_stop();
  (void)pof_phase_enter(POF_PHASE_IDLE, -1);
  PetscCall(pof_wrn_destroy(&m));
  PetscCall(pof_dataset_destroy(&ds));
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
    t->capped += res.capped;
    t->rejected += res.rejected;
    if (t->steps) {
      json_t *row = json_object();
      pof_json_set(&row, "epoch", json_integer((json_int_t)epoch + 1));
      pof_json_set(&row, "step", json_integer((json_int_t)step));
      pof_json_set(&row, "loss", pof_json_real_or_null(ls / (double)t->nloc));
      pof_json_set(&row, "L0", pof_json_real_or_null(res.L0));
      pof_json_set(&row, "eta_max", pof_json_real_or_null(res.eta_max));
      pof_json_set(&row, "eta_star", pof_json_real_or_null(res.eta_star));
      pof_json_set(&row, "gamma", pof_json_real_or_null(res.gamma));
      pof_json_set(&row, "pert_norm", pof_json_real_or_null(res.pert_norm));
      pof_json_set(&row, "kappa", pof_json_real_or_null(res.kappa));
      pof_json_set(&row, "capped", json_integer((json_int_t)res.capped));
      pof_json_set(&row, "rejected", json_integer((json_int_t)res.rejected));
      PetscCall(pof_json_write_line(t->steps, row));
    }
  }
  *ls_out    = ls;
  *wrong_out = wrong;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ the loop */
static PetscErrorCode write_metrics(PofTrainer t, PetscInt epoch, double lr, double secs,
                                    double test_loss, double test_err, double gap_loss,
                                    double gap_err)
{
  double mn[POF_T_COUNT], avg[POF_T_COUNT], mx[POF_T_COUNT];
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
    PetscCall(pof_json_write_line(t->metrics, row));
    fflush(t->metrics);
    if (t->steps) fflush(t->steps);
  }
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
  PetscCall(write_state(t, path));
  t->last_ckpt_step = t->meta.global_step;
  PetscCall(pof_rundir_prune(t->comm, t->cfg.run.dir, t->cfg.ckpt.keep));
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
static PetscErrorCode step_agreed(PofTrainer t, double ls, PetscInt wrong, int *sig)
{
  double sums[2] = { ls, (double)wrong };
  int    local   = 0;
  PetscFunctionBegin;
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
  for (PetscInt step = first_step; step < t->steps_per_epoch; step++) {
    int      sig;
    double   ls    = 0;
    PetscInt wrong = 0;
    (void)pof_phase_enter(POF_PHASE_TRAIN, t->meta.global_step + 1);
    pof_timer_start(POF_T_DATA);
    PetscCall(pof_dataset_train_batch(t->ds, epoch, step, t->B, t->x, t->y));
    pof_timer_stop(POF_T_DATA);
    PetscCall(train_step(t, lr, epoch, step, &ls, &wrong));
    if (!t->kernels_checked) {
      PetscCall(pof_warn_reference_kernels(t->comm, t->m, name));
      t->kernels_checked = PETSC_TRUE;
    }
    t->meta.global_step++;
    PetscCall(step_agreed(t, ls, wrong, &sig));
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
    if (!t->cfg.run.quiet) {
      const double left =
          (double)(t->end_epoch - epoch - 1) * (pof_now() - t_run) / (double)(epoch + 1 - e0);
      PetscCall(pof_print(t->comm,
                          "%s: epoch %" PetscInt_FMT "/%" PetscInt_FMT
                          "  lr %.4g  train loss %.4f err %.2f%%  test loss %.4f err %.2f%%%s  "
                          "%.1f s (%.0f img/s)  ETA %.0f s\n",
                          name, epoch + 1, t->end_epoch, lr, t->last_train_loss,
                          t->last_train_error, test_loss, test_err, t->cfg.run.gap ? "" : "", secs,
                          (double)(t->B * t->steps_per_epoch) / secs, left));
    }
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
