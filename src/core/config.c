/* Options into validated structs: see include/pof/config.h. */
#include "pof/config.h"

#include <string.h>

const char *const PofPrecisions[]     = { "fp32", "bf16", "PofPrecision", "POF_PREC_", NULL };
const char *const PofConvAlgs[]       = { "winograd", "direct", "PofConvAlg", "POF_CONV_", NULL };
const char *const PofOptimizerKinds[] = { "sgd", "sam", "PofOptimizerKind", "POF_OPT_", NULL };
const char *const PofScheduleKinds[]  = { "step", "cosine", "const", "PofScheduleKind", "POF_SCHED_", NULL };
const char *const PofPofModes[]       = { "global", "local", "off", "PofPofMode", "POF_MODE_", NULL };
const char *const PofFlatPolicies[]   = { "cap", "reject", "PofFlatPolicy", "POF_FLAT_", NULL };
const char *const PofBenchSteps[]     = { "forward", "train", "pof", "PofBenchStep", "POF_BENCH_", NULL };
const char *const PofConvertFormats[] = { "idx", "cifar10", "cifar100", "svhn", "PofConvertFormat", "POF_FMT_", NULL };
const char *const PofResumeModes[]    = { "no", "auto", "PofResumeMode", "POF_RESUME_", NULL };

/* PetscOptionsBegin on an explicit PetscOptions object (PETSc 3.18 has no such macro). */
#define POF_OPTIONS_BEGIN(opts, comm, title)                                                                                       \
  do {                                                                                                                             \
    PetscOptionItems  PetscOptionsObjectBase;                                                                                      \
    PetscOptionItems *PetscOptionsObject = &PetscOptionsObjectBase;                                                                \
    PetscCall(PetscMemzero(PetscOptionsObject, sizeof(*PetscOptionsObject)));                                                      \
    for (PetscOptionsObject->count = (PetscOptionsPublish ? -1 : 1); PetscOptionsObject->count < 2; PetscOptionsObject->count++) { \
      PetscOptionsObject->options = (opts);                                                                                        \
      PetscCall(PetscOptionsBegin_Private(PetscOptionsObject, comm, NULL, title, NULL))

void pof_config_defaults(PofConfig *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  PetscCallVoid(PetscStrncpy(cfg->run.dir, "pof-run", sizeof(cfg->run.dir)));
  cfg->run.seed        = 1;
  cfg->run.epochs      = 1;
  cfg->run.step_log    = PETSC_FALSE;
  cfg->run.precision   = POF_PREC_FP32;
  cfg->model.conv_alg  = POF_CONV_WINOGRAD;
  cfg->model.recompute = PETSC_TRUE;

  cfg->data.replicate    = PETSC_FALSE;
  cfg->data.train_subset = 0;
  cfg->data.augment      = PETSC_TRUE;
  cfg->data.crop_pad     = 4;
  cfg->data.flip         = PETSC_TRUE;
  cfg->data.cutout       = 0;

  cfg->model.depth   = 16;
  cfg->model.width   = 4;
  cfg->model.base    = 16;
  cfg->model.classes = 0;

  cfg->opt.batch         = 128;
  cfg->opt.lr            = 0.1;
  cfg->opt.momentum      = 0.9;
  cfg->opt.nesterov      = PETSC_TRUE;
  cfg->opt.wd            = 5e-4;
  cfg->opt.kind          = POF_OPT_SGD;
  cfg->opt.sam_rho       = 0.05;
  cfg->opt.sam_sync      = PETSC_TRUE;
  cfg->opt.schedule      = POF_SCHED_STEP;
  cfg->opt.nmilestones   = 4;
  cfg->opt.milestones[0] = 60;
  cfg->opt.milestones[1] = 120;
  cfg->opt.milestones[2] = 160;
  cfg->opt.milestones[3] = 200;
  cfg->opt.factor        = 0.2;
  cfg->opt.warmup        = 0;
  cfg->opt.bn_sync       = PETSC_TRUE;

  cfg->pof.mode             = POF_MODE_GLOBAL;
  cfg->pof.gamma_max        = 2.0;
  cfg->pof.partitions       = 16;
  cfg->pof.eta_init         = 1.0;
  cfg->pof.eta_cap          = 128.0;
  cfg->pof.flat             = POF_FLAT_CAP;
  cfg->pof.weak_batch       = 0;
  cfg->pof.weak_bn_update   = PETSC_FALSE;
  cfg->pof.train_classifier = PETSC_FALSE;

  cfg->ckpt.every_steps  = 0;
  cfg->ckpt.every_epochs = 1;
  cfg->ckpt.keep         = 2;
  cfg->ckpt.resume       = POF_RESUME_AUTO;

  cfg->bench.step   = POF_BENCH_TRAIN;
  cfg->bench.steps  = 20;
  cfg->bench.warmup = 3;
  cfg->bench.in_c   = 1;
  cfg->bench.in_h   = 28;
  cfg->bench.in_w   = 28;

  cfg->convert.format = POF_FMT_IDX;
  PetscCallVoid(PetscStrncpy(cfg->eval.split, "test", sizeof(cfg->eval.split)));
  cfg->eval.batch = 500;
}

/* "CxHxW" -> three positive ints. */
static PetscErrorCode parse_shape(MPI_Comm comm, const char *opt, const char *s, PetscInt *c, PetscInt *h, PetscInt *w)
{
  long a = 0, b = 0, d = 0;
  char tail = 0;
  PetscFunctionBegin;
  PetscCheck(sscanf(s, "%ldx%ldx%ld%c", &a, &b, &d, &tail) == 3 && a > 0 && b > 0 && d > 0 && a <= 4096 && b <= 65536 && d <= 65536, comm, PETSC_ERR_ARG_WRONG,
             "%s must be CxHxW with positive integers (e.g. 1x28x28), got '%s'", opt, s);
  *c = (PetscInt)a;
  *h = (PetscInt)b;
  *w = (PetscInt)d;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode read_groups(PetscOptions opts, MPI_Comm comm, const char *command, unsigned groups, PofConfig *cfg)
{
  char title[256];
  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(title, sizeof(title), "pof %s options", command));
  POF_OPTIONS_BEGIN(opts, comm, title);
  if (groups & POF_GROUP_RUN) {
    POF_OPTIONS_STRING("-run_dir", "Run directory: config, metrics.jsonl, checkpoints (created if missing; one job at a time: locked)", cfg->run.dir, NULL);
    PetscCall(PetscOptionsInt("-run_seed", "Seed of every random stream (data order, augmentation, PoF draws, init)", NULL, cfg->run.seed, &cfg->run.seed, NULL));
    PetscCall(PetscOptionsInt("-run_epochs", "Epochs to train", NULL, cfg->run.epochs, &cfg->run.epochs, NULL));
    PetscCall(PetscOptionsBool("-run_step_log", "Also write one JSON line per step to steps.jsonl", NULL, cfg->run.step_log, &cfg->run.step_log, NULL));
    PetscCall(PetscOptionsBool("-run_gap", "Each epoch, also evaluate the clean training split in eval mode (train/test loss gap)", NULL, cfg->run.gap, &cfg->run.gap, NULL));
    PetscCall(PetscOptionsInt("-run_gap_samples", "Training samples used for the gap (0 = all)", NULL, cfg->run.gap_samples, &cfg->run.gap_samples, NULL));
    PetscCall(PetscOptionsBool("-run_quiet", "No per-epoch progress lines", NULL, cfg->run.quiet, &cfg->run.quiet, NULL));
    PetscCall(PetscOptionsEnum("-precision", "Compute precision of the network (the master copy stays double); bf16 needs a CPU with AVX-512", NULL, PofPrecisions, (PetscEnum)cfg->run.precision, (PetscEnum *)&cfg->run.precision, NULL));
  }
  if (groups & POF_GROUP_DATA) {
    POF_OPTIONS_STRING("-data_file", "HDF5 dataset written by pof convert", cfg->data.file, NULL);
    PetscCall(PetscOptionsBool("-data_replicate", "Hold the whole dataset on every rank instead of exchanging samples", NULL, cfg->data.replicate, &cfg->data.replicate, NULL));
    PetscCall(PetscOptionsInt("-data_train_subset", "Use only the first N training samples (0 = all)", NULL, cfg->data.train_subset, &cfg->data.train_subset, NULL));
    PetscCall(PetscOptionsBool("-data_augment", "Training augmentation (random crop, flip, cutout)", NULL, cfg->data.augment, &cfg->data.augment, NULL));
    PetscCall(PetscOptionsInt("-data_crop_pad", "Zero padding of the random crop in pixels (0 = no crop)", NULL, cfg->data.crop_pad, &cfg->data.crop_pad, NULL));
    PetscCall(PetscOptionsBool("-data_flip", "Random horizontal flip", NULL, cfg->data.flip, &cfg->data.flip, NULL));
    PetscCall(PetscOptionsInt("-data_cutout", "Side of the cutout hole in pixels (0 = off; the paper's option uses 16)", NULL, cfg->data.cutout, &cfg->data.cutout, NULL));
  }
  if (groups & POF_GROUP_MODEL) {
    PetscCall(PetscOptionsInt("-model_depth", "WRN depth d = 6n+4", NULL, cfg->model.depth, &cfg->model.depth, &cfg->model.depth_set));
    PetscCall(PetscOptionsInt("-model_width", "WRN widening factor k", NULL, cfg->model.width, &cfg->model.width, &cfg->model.width_set));
    PetscCall(PetscOptionsInt("-model_base", "Channels of the first convolution (16 in the paper; stages use base*k, 2*base*k, 4*base*k)", NULL, cfg->model.base, &cfg->model.base, &cfg->model.base_set));
    PetscCall(PetscOptionsInt("-model_classes", "Number of classes (0 = from the dataset)", NULL, cfg->model.classes, &cfg->model.classes, &cfg->model.classes_set));
    POF_OPTIONS_STRING("-model_in", "Model or checkpoint file to start from (the model's shape comes from it; -model_depth/_width/_base/_classes, if given, must agree)", cfg->model.in, NULL);
    PetscCall(PetscOptionsEnum("-model_conv_alg", "3x3 stride-1 fp32 convolutions: winograd (oneDNN's F(4x4,3x3) where the CPU has AVX-512, about 2x faster, relative error about 1e-6) or direct (everywhere; bf16 is always direct)", NULL, PofConvAlgs, (PetscEnum)cfg->model.conv_alg, (PetscEnum *)&cfg->model.conv_alg, NULL));
    PetscCall(PetscOptionsBool("-model_recompute", "Keep only block inputs and first conv outputs for backward and recompute the BN+ReLU outputs (bit-identical, about 25 % less memory, 0-5 % slower); false keeps every activation", NULL, cfg->model.recompute, &cfg->model.recompute, NULL));
  }
  if (groups & POF_GROUP_OPT) {
    PetscBool set = PETSC_FALSE;
    PetscInt  nm  = POF_MAX_MILESTONES;
    PetscCall(PetscOptionsInt("-opt_batch", "Global batch size (divisible by the rank count)", NULL, cfg->opt.batch, &cfg->opt.batch, NULL));
    PetscCall(PetscOptionsReal("-opt_lr", "Base learning rate (posttrain default: the pretraining schedule read at the epoch where post-training starts, then fixed for the run)", NULL, cfg->opt.lr, &cfg->opt.lr, &cfg->opt.lr_set));
    PetscCall(PetscOptionsReal("-opt_momentum", "Momentum", NULL, cfg->opt.momentum, &cfg->opt.momentum, NULL));
    PetscCall(PetscOptionsBool("-opt_nesterov", "Nesterov momentum (torch.optim.SGD nesterov=True semantics)", NULL, cfg->opt.nesterov, &cfg->opt.nesterov, NULL));
    PetscCall(PetscOptionsReal("-opt_wd", "Weight decay (L2, added to the gradient)", NULL, cfg->opt.wd, &cfg->opt.wd, NULL));
    PetscCall(PetscOptionsEnum("-opt_kind", "Optimizer", NULL, PofOptimizerKinds, (PetscEnum)cfg->opt.kind, (PetscEnum *)&cfg->opt.kind, NULL));
    PetscCall(PetscOptionsReal("-opt_sam_rho", "SAM neighbourhood radius rho", NULL, cfg->opt.sam_rho, &cfg->opt.sam_rho, NULL));
    PetscCall(PetscOptionsBool("-opt_sam_sync", "SAM perturbation from the global gradient (false: each rank's own)", NULL, cfg->opt.sam_sync, &cfg->opt.sam_sync, NULL));
    PetscCall(PetscOptionsEnum("-opt_schedule", "Learning-rate schedule (posttrain: given, or with -opt_milestones/-opt_warmup, post-training follows a schedule of its own from its base rate; else its rate is fixed at the start)", NULL, PofScheduleKinds, (PetscEnum)cfg->opt.schedule, (PetscEnum *)&cfg->opt.schedule, &set));
    cfg->opt.sched_set = set;
    PetscCall(PetscOptionsIntArray("-opt_milestones", "Epochs where the step schedule multiplies the rate by -opt_factor (comma list)", NULL, cfg->opt.milestones, &nm, &set));
    if (set) cfg->opt.nmilestones = nm;
    if (set) cfg->opt.sched_set = PETSC_TRUE;
    PetscCall(PetscOptionsReal("-opt_factor", "Step-schedule factor", NULL, cfg->opt.factor, &cfg->opt.factor, NULL));
    PetscCall(PetscOptionsInt("-opt_warmup", "Linear learning-rate warm-up epochs", NULL, cfg->opt.warmup, &cfg->opt.warmup, &set));
    if (set) cfg->opt.sched_set = PETSC_TRUE;
    PetscCall(PetscOptionsBool("-opt_bn_sync", "Synchronized BatchNorm over all ranks (false: per-rank statistics)", NULL, cfg->opt.bn_sync, &cfg->opt.bn_sync, NULL));
  }
  if (groups & POF_GROUP_POF) {
    PetscCall(PetscOptionsEnum("-pof_mode", "Perturbation range: global (joint over ranks), local (per rank, reference code), off (plain SGD control)", NULL, PofPofModes, (PetscEnum)cfg->pof.mode, (PetscEnum *)&cfg->pof.mode, NULL));
    PetscCall(PetscOptionsReal("-pof_gamma_max", "Expansion factor gamma ~ U[0, gamma_max)", NULL, cfg->pof.gamma_max, &cfg->pof.gamma_max, NULL));
    PetscCall(PetscOptionsInt("-pof_partitions", "Grid points K of the range search", NULL, cfg->pof.partitions, &cfg->pof.partitions, NULL));
    PetscCall(PetscOptionsReal("-pof_eta_init", "First bracket trial step", NULL, cfg->pof.eta_init, &cfg->pof.eta_init, NULL));
    PetscCall(PetscOptionsReal("-pof_eta_cap", "Largest bracket trial step", NULL, cfg->pof.eta_cap, &cfg->pof.eta_cap, NULL));
    PetscCall(PetscOptionsEnum("-pof_flat", "When no trial raises the weak loss: cap (eta_max = eta_cap) or reject (no perturbation)", NULL, PofFlatPolicies, (PetscEnum)cfg->pof.flat, (PetscEnum *)&cfg->pof.flat, NULL));
    PetscCall(PetscOptionsInt("-pof_weak_batch", "Global weak-batch size |B'| (0 = -opt_batch)", NULL, cfg->pof.weak_batch, &cfg->pof.weak_batch, NULL));
    PetscCall(PetscOptionsBool("-pof_weak_bn_update", "Weak-batch forward updates BN running statistics (as the reference code)", NULL, cfg->pof.weak_bn_update, &cfg->pof.weak_bn_update, NULL));
    PetscCall(PetscOptionsBool("-pof_train_classifier", "Mode off: also train the classifier (false: frozen)", NULL, cfg->pof.train_classifier, &cfg->pof.train_classifier, NULL));
  }
  if (groups & POF_GROUP_CKPT) {
    PetscCall(PetscOptionsInt("-ckpt_every_steps", "Checkpoint every N steps (0 = off)", NULL, cfg->ckpt.every_steps, &cfg->ckpt.every_steps, NULL));
    PetscCall(PetscOptionsInt("-ckpt_every_epochs", "Checkpoint every N epochs (0 = off)", NULL, cfg->ckpt.every_epochs, &cfg->ckpt.every_epochs, NULL));
    PetscCall(PetscOptionsInt("-ckpt_keep", "Keep the newest N checkpoints", NULL, cfg->ckpt.keep, &cfg->ckpt.keep, NULL));
    PetscCall(PetscOptionsEnum("-ckpt_resume", "Resume from the newest complete checkpoint in the run directory (no: refuse a directory that holds checkpoints)", NULL, PofResumeModes, (PetscEnum)cfg->ckpt.resume, (PetscEnum *)&cfg->ckpt.resume, NULL));
  }
  if (groups & POF_GROUP_BENCH) {
    char      shape[64];
    PetscBool set = PETSC_FALSE;
    PetscCall(PetscSNPrintf(shape, sizeof(shape), "%" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, cfg->bench.in_c, cfg->bench.in_h, cfg->bench.in_w));
    PetscCall(PetscOptionsEnum("-bench_step", "Step kind to time", NULL, PofBenchSteps, (PetscEnum)cfg->bench.step, (PetscEnum *)&cfg->bench.step, NULL));
    PetscCall(PetscOptionsInt("-bench_steps", "Timed steps", NULL, cfg->bench.steps, &cfg->bench.steps, NULL));
    PetscCall(PetscOptionsInt("-bench_warmup", "Untimed warm-up steps", NULL, cfg->bench.warmup, &cfg->bench.warmup, NULL));
    POF_OPTIONS_STRING("-bench_input", "Synthetic input shape CxHxW", shape, &set);
    if (set) PetscCall(parse_shape(comm, "-bench_input", shape, &cfg->bench.in_c, &cfg->bench.in_h, &cfg->bench.in_w));
  }
  if (groups & POF_GROUP_CONVERT) {
    PetscCall(PetscOptionsEnum("-convert_format", "Raw dataset format", NULL, PofConvertFormats, (PetscEnum)cfg->convert.format, (PetscEnum *)&cfg->convert.format, NULL));
    POF_OPTIONS_STRING("-convert_train_images", "IDX training images (.gz or plain)", cfg->convert.train_images, NULL);
    POF_OPTIONS_STRING("-convert_train_labels", "IDX training labels (.gz or plain)", cfg->convert.train_labels, NULL);
    POF_OPTIONS_STRING("-convert_test_images", "IDX test images (.gz or plain)", cfg->convert.test_images, NULL);
    POF_OPTIONS_STRING("-convert_test_labels", "IDX test labels (.gz or plain)", cfg->convert.test_labels, NULL);
    POF_OPTIONS_STRING("-convert_input_dir", "Directory of CIFAR binary batches or SVHN .mat files", cfg->convert.input_dir, NULL);
    POF_OPTIONS_STRING("-convert_output", "Output HDF5 file", cfg->convert.output, NULL);
    PetscCall(PetscOptionsBool("-convert_svhn_extra", "SVHN: append extra_32x32.mat to the training split", NULL, cfg->convert.svhn_extra, &cfg->convert.svhn_extra, NULL));
    PetscCall(PetscOptionsBool("-convert_cifar100_coarse", "CIFAR-100: use the 20 coarse labels", NULL, cfg->convert.cifar100_coarse, &cfg->convert.cifar100_coarse, NULL));
    POF_OPTIONS_STRING("-convert_name", "Dataset name stored in the file (default: from the format; IDX: the directory of the training images, e.g. fashion-mnist)", cfg->convert.name, NULL);
  }
  if (groups & POF_GROUP_EVAL) {
    POF_OPTIONS_STRING("-eval_split", "Split to evaluate: test, or train (clean, eval mode)", cfg->eval.split, NULL);
    PetscCall(PetscOptionsInt("-eval_batch", "Global evaluation batch", NULL, cfg->eval.batch, &cfg->eval.batch, NULL));
  }
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_option_check_length(MPI_Comm comm, const char *opt, const char *buf, size_t size)
{
  PetscFunctionBegin;
  PetscCheck(strlen(buf) + 1 < size, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s is too long: at most %zu characters", opt, size - 2);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode validate(MPI_Comm comm, const char *command, unsigned groups, const PofConfig *cfg)
{
  PetscBool is_post, is_eval, is_pre, is_analyze;
  PetscFunctionBegin;
  PetscCall(PetscStrcmp(command, "posttrain", &is_post));
  PetscCall(PetscStrcmp(command, "eval", &is_eval));
  PetscCall(PetscStrcmp(command, "pretrain", &is_pre));
  PetscCall(PetscStrcmp(command, "analyze", &is_analyze));
  if (groups & POF_GROUP_RUN) {
    PetscCheck(cfg->run.dir[0], comm, PETSC_ERR_ARG_WRONG, "-run_dir must not be empty");
    PetscCheck(cfg->run.seed >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-run_seed must be >= 0, got %" PetscInt_FMT, cfg->run.seed);
    PetscCheck(cfg->run.epochs >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-run_epochs must be >= 0, got %" PetscInt_FMT, cfg->run.epochs);
    PetscCheck(cfg->run.gap_samples >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-run_gap_samples must be >= 0, got %" PetscInt_FMT, cfg->run.gap_samples);
  }
  if (groups & POF_GROUP_DATA) {
    if (is_post || is_eval || is_pre || is_analyze) PetscCheck(cfg->data.file[0], comm, PETSC_ERR_ARG_WRONG, "pof %s needs -data_file (an HDF5 file written by pof convert)", command);
    PetscCheck(cfg->data.train_subset >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_train_subset must be >= 0, got %" PetscInt_FMT, cfg->data.train_subset);
    PetscCheck(cfg->data.crop_pad >= 0 && cfg->data.crop_pad <= 64, comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_crop_pad must be in [0, 64], got %" PetscInt_FMT, cfg->data.crop_pad);
    PetscCheck(cfg->data.cutout >= 0 && cfg->data.cutout <= 1024, comm, PETSC_ERR_ARG_OUTOFRANGE, "-data_cutout must be in [0, 1024], got %" PetscInt_FMT, cfg->data.cutout);
  }
  if (groups & POF_GROUP_MODEL) {
    const PetscInt d = cfg->model.depth;
    PetscCheck(d >= 10 && (d - 4) % 6 == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_depth must be 6n+4 with n >= 1 (10, 16, 22, 28, ...), got %" PetscInt_FMT, d);
    PetscCheck(cfg->model.width >= 1 && cfg->model.width <= 64, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_width must be in [1, 64], got %" PetscInt_FMT, cfg->model.width);
    PetscCheck(cfg->model.base >= 1 && cfg->model.base <= 256, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_base must be in [1, 256], got %" PetscInt_FMT, cfg->model.base);
    PetscCheck(cfg->model.classes >= 0 && cfg->model.classes <= 100000, comm, PETSC_ERR_ARG_OUTOFRANGE, "-model_classes must be in [0, 100000] (0 = from the dataset), got %" PetscInt_FMT, cfg->model.classes);
    if (is_post || is_eval || is_analyze) PetscCheck(cfg->model.in[0], comm, PETSC_ERR_ARG_WRONG, "pof %s needs -model_in (a model file of pof pretrain or posttrain)", command);
  }
  if (groups & POF_GROUP_OPT) {
    PetscCheck(cfg->opt.batch >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_batch must be positive, got %" PetscInt_FMT, cfg->opt.batch);
    PetscCheck(cfg->opt.lr >= 0 && PetscIsNormalReal(cfg->opt.lr + 1.0), comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_lr must be a finite number >= 0, got %g", (double)cfg->opt.lr);
    PetscCheck(cfg->opt.momentum >= 0 && cfg->opt.momentum < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_momentum must be in [0, 1), got %g", (double)cfg->opt.momentum);
    PetscCheck(!cfg->opt.nesterov || cfg->opt.momentum > 0, comm, PETSC_ERR_ARG_WRONG, "-opt_nesterov needs -opt_momentum > 0 (as torch.optim.SGD)");
    PetscCheck(cfg->opt.wd >= 0 && cfg->opt.wd < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_wd must be in [0, 1), got %g", (double)cfg->opt.wd);
    PetscCheck(cfg->opt.sam_rho > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_sam_rho must be positive, got %g", (double)cfg->opt.sam_rho);
    PetscCheck(cfg->opt.factor > 0 && cfg->opt.factor <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_factor must be in (0, 1], got %g", (double)cfg->opt.factor);
    PetscCheck(cfg->opt.warmup >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_warmup must be >= 0, got %" PetscInt_FMT, cfg->opt.warmup);
    for (PetscInt i = 0; i < cfg->opt.nmilestones; i++) {
      PetscCheck(cfg->opt.milestones[i] > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-opt_milestones must be positive epochs, got %" PetscInt_FMT, cfg->opt.milestones[i]);
      PetscCheck(i == 0 || cfg->opt.milestones[i] > cfg->opt.milestones[i - 1], comm, PETSC_ERR_ARG_WRONG, "-opt_milestones must increase, got %" PetscInt_FMT " after %" PetscInt_FMT, cfg->opt.milestones[i], cfg->opt.milestones[i - 1]);
    }
  }
  if (groups & POF_GROUP_POF) {
    PetscCheck(cfg->pof.gamma_max > 0 && cfg->pof.gamma_max <= 100, comm, PETSC_ERR_ARG_OUTOFRANGE, "-pof_gamma_max must be in (0, 100], got %g", (double)cfg->pof.gamma_max);
    PetscCheck(cfg->pof.partitions >= 1 && cfg->pof.partitions <= 4096, comm, PETSC_ERR_ARG_OUTOFRANGE, "-pof_partitions must be in [1, 4096], got %" PetscInt_FMT, cfg->pof.partitions);
    PetscCheck(cfg->pof.eta_init > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-pof_eta_init must be positive, got %g", (double)cfg->pof.eta_init);
    PetscCheck(cfg->pof.eta_cap >= cfg->pof.eta_init, comm, PETSC_ERR_ARG_OUTOFRANGE, "-pof_eta_cap (%g) must be >= -pof_eta_init (%g)", (double)cfg->pof.eta_cap, (double)cfg->pof.eta_init);
    PetscCheck(cfg->pof.eta_cap / cfg->pof.eta_init <= 0x1p40, comm, PETSC_ERR_ARG_OUTOFRANGE, "-pof_eta_cap / -pof_eta_init must be <= 2^40 (at most 41 bracket trials)");
    PetscCheck(cfg->pof.weak_batch >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-pof_weak_batch must be >= 0, got %" PetscInt_FMT, cfg->pof.weak_batch);
  }
  if (groups & POF_GROUP_CKPT) {
    PetscCheck(cfg->ckpt.every_steps >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ckpt_every_steps must be >= 0, got %" PetscInt_FMT, cfg->ckpt.every_steps);
    PetscCheck(cfg->ckpt.every_epochs >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ckpt_every_epochs must be >= 0, got %" PetscInt_FMT, cfg->ckpt.every_epochs);
    PetscCheck(cfg->ckpt.keep >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ckpt_keep must be >= 1, got %" PetscInt_FMT, cfg->ckpt.keep);
  }
  if (groups & POF_GROUP_BENCH) {
    PetscCheck(cfg->bench.steps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-bench_steps must be positive, got %" PetscInt_FMT, cfg->bench.steps);
    PetscCheck(cfg->bench.warmup >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-bench_warmup must be >= 0, got %" PetscInt_FMT, cfg->bench.warmup);
  }
  if (groups & POF_GROUP_CONVERT) {
    PetscCheck(cfg->convert.output[0], comm, PETSC_ERR_ARG_WRONG, "pof convert needs -convert_output F.h5");
    if (cfg->convert.format == POF_FMT_IDX) {
      PetscCheck(cfg->convert.train_images[0] && cfg->convert.train_labels[0] && cfg->convert.test_images[0] && cfg->convert.test_labels[0], comm, PETSC_ERR_ARG_WRONG,
                 "-convert_format idx needs -convert_train_images, -convert_train_labels, -convert_test_images and -convert_test_labels");
    } else {
      PetscCheck(cfg->convert.input_dir[0], comm, PETSC_ERR_ARG_WRONG, "-convert_format %s needs -convert_input_dir", PofConvertFormats[cfg->convert.format]);
    }
  }
  if (groups & POF_GROUP_EVAL) {
    PetscBool test, train;
    PetscCall(PetscStrcmp(cfg->eval.split, "test", &test));
    PetscCall(PetscStrcmp(cfg->eval.split, "train", &train));
    PetscCheck(test || train, comm, PETSC_ERR_ARG_WRONG, "-eval_split must be test or train, got '%s'", cfg->eval.split);
    PetscCheck(cfg->eval.batch >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-eval_batch must be positive, got %" PetscInt_FMT, cfg->eval.batch);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* PETSc's own run-time options, which a pof command never reads but must accept. */
static PetscBool is_petsc_option(const char *name)
{
  static const char *const prefixes[] = { "log", "malloc", "options_", "help", "info", "on_error", "start_in_debugger", "debugger", "stop_for_debugger", "fp_trap", "no_signal_handler", "objects_dump", "memory_view", "checkstack", "check_pointer_intensity", "skip_petscrc", "petsc", "history", "get_total_flops", "use_gpu_aware_mpi", "viewer_", "display", "nox", "mpi_linear_solver_server", "saws", "v", NULL };
  for (int i = 0; prefixes[i]; i++) {
    const size_t n = strlen(prefixes[i]);
    if (!strcmp(prefixes[i], "v")) {
      if (!strcmp(name, "v")) return PETSC_TRUE;
      continue;
    }
    if (!strncmp(name, prefixes[i], n)) return PETSC_TRUE;
  }
  return PETSC_FALSE;
}

PetscErrorCode pof_options_reject_unused(PetscOptions opts, MPI_Comm comm)
{
  PetscInt n     = 0;
  char   **names = NULL, **values = NULL;
  char     list[2048];
  size_t   used = 0;
  int      bad  = 0;
  PetscFunctionBegin;
  list[0] = 0;
  PetscCall(PetscOptionsLeftGet(opts, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) {
    if (is_petsc_option(names[i])) continue;
    bad++;
    if (used + strlen(names[i]) + 4 < sizeof(list)) {
      used += (size_t)snprintf(list + used, sizeof(list) - used, "%s-%s", bad > 1 ? ", " : "", names[i]);
    }
  }
  PetscCall(PetscOptionsLeftRestore(opts, &n, &names, &values));
  PetscCheck(!bad, comm, PETSC_ERR_ARG_WRONG, "unknown option%s for this command: %s (see -help)", bad > 1 ? "s" : "", list);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_config_check_names(PetscOptions opts, MPI_Comm comm, const char *command, unsigned groups)
{
  PofConfig cfg;
  PetscFunctionBegin;
  pof_config_defaults(&cfg);
  cfg.groups = groups;
  PetscCall(read_groups(opts, comm, command, groups, &cfg));
  PetscCall(pof_options_reject_unused(opts, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_config_read(PetscOptions opts, MPI_Comm comm, const char *command, unsigned groups, PofConfig *cfg, PetscBool *help_only)
{
  PetscBool help = PETSC_FALSE;
  PetscFunctionBegin;
  pof_config_defaults(cfg);
  cfg->groups = groups;
  PetscCall(PetscOptionsHasHelp(opts, &help));
  PetscCall(read_groups(opts, comm, command, groups, cfg));
  if (help_only) *help_only = help;
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(validate(comm, command, groups, cfg));
  PetscCall(pof_options_reject_unused(opts, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void json_str(FILE *f, const char *key, const char *v, int *first)
{
  fprintf(f, "%s\"%s\":\"", *first ? "" : ",", key);
  for (const char *p = v; *p; p++) {
    if (*p == '"' || *p == '\\') fputc('\\', f);
    if ((unsigned char)*p < 0x20)
      fprintf(f, "\\u%04x", (unsigned char)*p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
  *first = 0;
}
static void json_int(FILE *f, const char *key, PetscInt v, int *first)
{
  fprintf(f, "%s\"%s\":%" PetscInt_FMT, *first ? "" : ",", key, v);
  *first = 0;
}
static void json_real(FILE *f, const char *key, PetscReal v, int *first)
{
  fprintf(f, "%s\"%s\":%.17g", *first ? "" : ",", key, (double)v);
  *first = 0;
}
static void json_bool(FILE *f, const char *key, PetscBool v, int *first)
{
  fprintf(f, "%s\"%s\":%s", *first ? "" : ",", key, v ? "true" : "false");
  *first = 0;
}

/* ------------------------------------------------------------------ comparing option sets */

#define JSON_MAX_KEYS 128
typedef struct {
  const char *key, *val; /* key without quotes, value text as written */
  size_t      klen, vlen;
} JsonPair;

/* Split a flat object {"k":v,...} (v: number, true/false, string, or array without objects). */
static int json_pairs(const char *s, JsonPair *p, int max)
{
  int n = 0;
  if (*s++ != '{') return -1;
  if (*s == '}') return 0;
  for (;;) {
    if (n == max || *s != '"') return -1;
    p[n].key = ++s;
    while (*s && *s != '"') s++;
    if (*s != '"') return -1;
    p[n].klen = (size_t)(s - p[n].key);
    if (*++s != ':') return -1;
    p[n].val  = ++s;
    int depth = 0, instr = 0;
    for (; *s; s++) {
      if (instr) {
        if (*s == '\\' && s[1])
          s++;
        else if (*s == '"')
          instr = 0;
      } else if (*s == '"')
        instr = 1;
      else if (*s == '[')
        depth++;
      else if (*s == ']')
        depth--;
      else if (depth == 0 && (*s == ',' || *s == '}'))
        break;
    }
    if (!*s || depth || instr) return -1;
    p[n].vlen = (size_t)(s - p[n].val);
    n++;
    if (*s == '}') return s[1] ? -1 : n;
    s++;
  }
}

static const JsonPair *json_find(const JsonPair *p, int n, const char *key, size_t klen)
{
  for (int i = 0; i < n; i++)
    if (p[i].klen == klen && !strncmp(p[i].key, key, klen)) return &p[i];
  return NULL;
}

static int json_ignored(const char *const *ignore, const char *key, size_t klen)
{
  for (; ignore && *ignore; ignore++)
    if (strlen(*ignore) == klen && !strncmp(*ignore, key, klen)) return 1;
  return 0;
}

int pof_config_json_diff(const char *old_json, const char *new_json, const char *const *ignore, char *buf, size_t len)
{
  JsonPair  a[JSON_MAX_KEYS], b[JSON_MAX_KEYS];
  const int na = json_pairs(old_json, a, JSON_MAX_KEYS), nb = json_pairs(new_json, b, JSON_MAX_KEYS);
  int       count = 0, cut = 0;
  size_t    used = 0;
  if (len) buf[0] = '\0';
  if (na < 0 || nb < 0) return -1;
  for (int pass = 0; pass < 2; pass++) { /* keys of the new set in its order, then keys only in the old */
    const JsonPair *x = pass ? a : b, *y = pass ? b : a;
    const int       nx = pass ? na : nb, ny = pass ? nb : na;
    for (int i = 0; i < nx; i++) {
      const JsonPair *o = json_find(y, ny, x[i].key, x[i].klen);
      if (json_ignored(ignore, x[i].key, x[i].klen) || (pass && o)) continue;
      if (o && o->vlen == x[i].vlen && !strncmp(o->val, x[i].val, o->vlen)) continue;
      const JsonPair *was = pass ? &x[i] : o, *now = pass ? NULL : &x[i];
      char            item[512];
      snprintf(item, sizeof item, "%s%.*s %.*s -> %.*s", count ? ", " : "", (int)x[i].klen, x[i].key, was ? (int)was->vlen : 6, was ? was->val : "(none)", now ? (int)now->vlen : 6, now ? now->val : "(none)");
      count++;
      if (used + strlen(item) + 4 < len) {
        memcpy(buf + used, item, strlen(item) + 1);
        used += strlen(item);
      } else if (!cut && used + 4 <= len) { /* the first item that does not fit ends the text */
        memcpy(buf + used, "...", 4);
        cut = 1;
      }
    }
  }
  return count;
}

PetscErrorCode pof_config_write_json(const PofConfig *c, FILE *f)
{
  int first = 1;
  PetscFunctionBegin;
  fputc('{', f);
  if (c->groups & POF_GROUP_RUN) {
    json_str(f, "run_dir", c->run.dir, &first);
    json_int(f, "run_seed", c->run.seed, &first);
    json_int(f, "run_epochs", c->run.epochs, &first);
    json_bool(f, "run_step_log", c->run.step_log, &first);
    json_bool(f, "run_gap", c->run.gap, &first);
    json_int(f, "run_gap_samples", c->run.gap_samples, &first);
    json_bool(f, "run_quiet", c->run.quiet, &first);
    json_str(f, "precision", PofPrecisions[c->run.precision], &first);
  }
  if (c->groups & POF_GROUP_DATA) {
    json_str(f, "data_file", c->data.file, &first);
    json_bool(f, "data_replicate", c->data.replicate, &first);
    json_int(f, "data_train_subset", c->data.train_subset, &first);
    json_bool(f, "data_augment", c->data.augment, &first);
    json_int(f, "data_crop_pad", c->data.crop_pad, &first);
    json_bool(f, "data_flip", c->data.flip, &first);
    json_int(f, "data_cutout", c->data.cutout, &first);
  }
  if (c->groups & POF_GROUP_MODEL) {
    json_int(f, "model_depth", c->model.depth, &first);
    json_int(f, "model_width", c->model.width, &first);
    json_int(f, "model_base", c->model.base, &first);
    json_bool(f, "model_recompute", c->model.recompute, &first);
    json_str(f, "model_conv_alg", PofConvAlgs[c->model.conv_alg], &first);
    json_int(f, "model_classes", c->model.classes, &first);
    json_str(f, "model_in", c->model.in, &first);
  }
  if (c->groups & POF_GROUP_OPT) {
    json_int(f, "opt_batch", c->opt.batch, &first);
    json_real(f, "opt_lr", c->opt.lr, &first);
    json_real(f, "opt_momentum", c->opt.momentum, &first);
    json_bool(f, "opt_nesterov", c->opt.nesterov, &first);
    json_real(f, "opt_wd", c->opt.wd, &first);
    json_str(f, "opt_kind", PofOptimizerKinds[c->opt.kind], &first);
    json_real(f, "opt_sam_rho", c->opt.sam_rho, &first);
    json_bool(f, "opt_sam_sync", c->opt.sam_sync, &first);
    json_str(f, "opt_schedule", PofScheduleKinds[c->opt.schedule], &first);
    fprintf(f, ",\"opt_milestones\":[");
    for (PetscInt i = 0; i < c->opt.nmilestones; i++) fprintf(f, "%s%" PetscInt_FMT, i ? "," : "", c->opt.milestones[i]);
    fputc(']', f);
    json_real(f, "opt_factor", c->opt.factor, &first);
    json_int(f, "opt_warmup", c->opt.warmup, &first);
    json_bool(f, "opt_bn_sync", c->opt.bn_sync, &first);
  }
  if (c->groups & POF_GROUP_POF) {
    json_str(f, "pof_mode", PofPofModes[c->pof.mode], &first);
    json_real(f, "pof_gamma_max", c->pof.gamma_max, &first);
    json_int(f, "pof_partitions", c->pof.partitions, &first);
    json_real(f, "pof_eta_init", c->pof.eta_init, &first);
    json_real(f, "pof_eta_cap", c->pof.eta_cap, &first);
    json_str(f, "pof_flat", PofFlatPolicies[c->pof.flat], &first);
    json_int(f, "pof_weak_batch", c->pof.weak_batch, &first);
    json_bool(f, "pof_weak_bn_update", c->pof.weak_bn_update, &first);
    json_bool(f, "pof_train_classifier", c->pof.train_classifier, &first);
  }
  if (c->groups & POF_GROUP_CKPT) {
    json_int(f, "ckpt_every_steps", c->ckpt.every_steps, &first);
    json_int(f, "ckpt_every_epochs", c->ckpt.every_epochs, &first);
    json_int(f, "ckpt_keep", c->ckpt.keep, &first);
    json_str(f, "ckpt_resume", PofResumeModes[c->ckpt.resume], &first);
  }
  if (c->groups & POF_GROUP_BENCH) {
    char shape[64];
    snprintf(shape, sizeof(shape), "%" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, c->bench.in_c, c->bench.in_h, c->bench.in_w);
    json_str(f, "bench_step", PofBenchSteps[c->bench.step], &first);
    json_int(f, "bench_steps", c->bench.steps, &first);
    json_int(f, "bench_warmup", c->bench.warmup, &first);
    json_str(f, "bench_input", shape, &first);
  }
  if (c->groups & POF_GROUP_CONVERT) {
    json_str(f, "convert_format", PofConvertFormats[c->convert.format], &first);
    json_str(f, "convert_train_images", c->convert.train_images, &first);
    json_str(f, "convert_train_labels", c->convert.train_labels, &first);
    json_str(f, "convert_test_images", c->convert.test_images, &first);
    json_str(f, "convert_test_labels", c->convert.test_labels, &first);
    json_str(f, "convert_input_dir", c->convert.input_dir, &first);
    json_str(f, "convert_output", c->convert.output, &first);
    json_bool(f, "convert_svhn_extra", c->convert.svhn_extra, &first);
    json_bool(f, "convert_cifar100_coarse", c->convert.cifar100_coarse, &first);
    json_str(f, "convert_name", c->convert.name, &first);
  }
  if (c->groups & POF_GROUP_EVAL) {
    json_str(f, "eval_split", c->eval.split, &first);
    json_int(f, "eval_batch", c->eval.batch, &first);
  }
  fputc('}', f);
  PetscFunctionReturn(PETSC_SUCCESS);
}
