/**
 * @file config.h
 * @brief Options of every command, read from a PetscOptions object into plain validated structs.
 *
 * Reading takes a PetscOptions object (NULL = the global database), so one process can hold
 * several configurations (pof sweep). Every option has help text (`pof <command> -help`),
 * every value is validated with a message naming the option and the value, and any option
 * left unused after a command has read its groups is an error naming it (typos are caught).
 * All functions here are collective on the communicator passed (the same options must be
 * given on every rank, which mpirun guarantees).
 */
#ifndef POF_CONFIG_H
#define POF_CONFIG_H

#include "pof/core.h"

#define POF_PATH_MAX       4096
#define POF_MAX_MILESTONES 16

typedef enum { POF_PREC_FP32 = 0,
               POF_PREC_BF16 = 1 } PofPrecision;
typedef enum { POF_CONV_WINOGRAD = 0,
               POF_CONV_DIRECT   = 1 } PofConvAlg;
typedef enum { POF_OPT_SGD = 0,
               POF_OPT_SAM = 1 } PofOptimizerKind;
typedef enum { POF_SCHED_STEP   = 0,
               POF_SCHED_COSINE = 1,
               POF_SCHED_CONST  = 2 } PofScheduleKind;
typedef enum { POF_MODE_GLOBAL = 0,
               POF_MODE_LOCAL  = 1,
               POF_MODE_OFF    = 2 } PofPofMode;
typedef enum { POF_FLAT_CAP    = 0,
               POF_FLAT_REJECT = 1 } PofFlatPolicy;
typedef enum { POF_BENCH_FORWARD = 0,
               POF_BENCH_TRAIN   = 1,
               POF_BENCH_POF     = 2 } PofBenchStep;
typedef enum { POF_FMT_IDX      = 0,
               POF_FMT_CIFAR10  = 1,
               POF_FMT_CIFAR100 = 2,
               POF_FMT_SVHN     = 3 } PofConvertFormat;
typedef enum { POF_RESUME_NO   = 0,
               POF_RESUME_AUTO = 1 } PofResumeMode;

extern const char *const PofPrecisions[];
extern const char *const PofConvAlgs[];
extern const char *const PofOptimizerKinds[];
extern const char *const PofScheduleKinds[];
extern const char *const PofPofModes[];
extern const char *const PofFlatPolicies[];
extern const char *const PofBenchSteps[];
extern const char *const PofConvertFormats[];
extern const char *const PofResumeModes[];

/** -run_*: where results go and the run's identity. */
typedef struct {
  char         dir[POF_PATH_MAX]; /**< -run_dir: run directory (created if missing) */
  PetscInt     seed;              /**< -run_seed: key of every random stream */
  PetscInt     epochs;            /**< -run_epochs: epochs to train */
  PetscBool    step_log;          /**< -run_step_log: per-step lines in steps.jsonl */
  PetscBool    gap;               /**< -run_gap: evaluate the clean train split each epoch (loss gap) */
  PetscInt     gap_samples;       /**< -run_gap_samples: train samples for the gap (0 = all) */
  PetscBool    quiet;             /**< -run_quiet: no per-epoch progress lines */
  PofPrecision precision;         /**< -precision fp32|bf16 */
} PofRunConfig;

/** -data_*: the dataset file and how samples are drawn. */
typedef struct {
  char      file[POF_PATH_MAX]; /**< -data_file: HDF5 file written by pof convert */
  PetscBool replicate;          /**< -data_replicate: whole dataset on every rank */
  PetscInt  train_subset;       /**< -data_train_subset: use the first N training samples (0 = all) */
  PetscBool augment;            /**< -data_augment: crop + flip (+ cutout) in training */
  PetscInt  crop_pad;           /**< -data_crop_pad: zero padding of the random crop */
  PetscBool flip;               /**< -data_flip: random horizontal flip */
  PetscInt  cutout;             /**< -data_cutout: side of the cutout hole, 0 = off */
} PofDataConfig;

/** -model_*: the WRN and the file it starts from. */
typedef struct {
  PetscInt   depth;            /**< -model_depth: 6n+4 */
  PetscInt   width;            /**< -model_width: widening factor k */
  PetscInt   base;             /**< -model_base: channels of the first conv (16 in the paper) */
  PetscInt   classes;          /**< -model_classes: 0 = from the dataset */
  char       in[POF_PATH_MAX]; /**< -model_in: model or checkpoint to start from */
  PetscBool  recompute;        /**< -model_recompute: recompute BN+ReLU outputs in backward (less memory; default on) */
  PofConvAlg conv_alg;         /**< -model_conv_alg: Winograd for 3x3 stride-1 fp32 convolutions, or direct everywhere */
  /* which shape options were given (with -model_in they must agree with the file) */
  PetscBool depth_set, width_set, base_set, classes_set;
} PofModelConfig;

/** -opt_*: optimizer, batch and learning-rate schedule. */
typedef struct {
  PetscInt         batch;                          /**< -opt_batch: global batch */
  PetscReal        lr;                             /**< -opt_lr: base learning rate */
  PetscBool        lr_set;                         /**< -opt_lr was given (posttrain: else the pretraining schedule) */
  PetscBool        sched_set;                      /**< -opt_schedule, -opt_milestones or -opt_warmup was given (posttrain: a schedule of its own) */
  PetscReal        momentum;                       /**< -opt_momentum */
  PetscBool        nesterov;                       /**< -opt_nesterov */
  PetscReal        wd;                             /**< -opt_wd: weight decay */
  PofOptimizerKind kind;                           /**< -opt_kind sgd|sam */
  PetscReal        sam_rho;                        /**< -opt_sam_rho */
  PetscBool        sam_sync;                       /**< -opt_sam_sync: perturb with the global gradient */
  PofScheduleKind  schedule;                       /**< -opt_schedule step|cosine|const */
  PetscInt         milestones[POF_MAX_MILESTONES]; /**< -opt_milestones e1,e2,... */
  PetscInt         nmilestones;
  PetscReal        factor;  /**< -opt_factor: step-schedule factor */
  PetscInt         warmup;  /**< -opt_warmup: linear warm-up epochs */
  PetscBool        bn_sync; /**< -opt_bn_sync: synchronized BatchNorm */
} PofOptConfig;

/** -pof_*: PoF post-training (POF.md). */
typedef struct {
  PofPofMode    mode;             /**< -pof_mode global|local|off */
  PetscReal     gamma_max;        /**< -pof_gamma_max */
  PetscInt      partitions;       /**< -pof_partitions: grid size K */
  PetscReal     eta_init;         /**< -pof_eta_init */
  PetscReal     eta_cap;          /**< -pof_eta_cap */
  PofFlatPolicy flat;             /**< -pof_flat cap|reject */
  PetscInt      weak_batch;       /**< -pof_weak_batch: global |B'|, 0 = -opt_batch */
  PetscBool     weak_bn_update;   /**< -pof_weak_bn_update: weak pass updates BN running stats */
  PetscBool     train_classifier; /**< -pof_train_classifier: mode off trains theta too */
} PofPofConfig;

/** -ckpt_*: checkpoints. */
typedef struct {
  PetscInt      every_steps;  /**< -ckpt_every_steps: 0 = off */
  PetscInt      every_epochs; /**< -ckpt_every_epochs: 0 = off */
  PetscInt      keep;         /**< -ckpt_keep: newest N kept */
  PofResumeMode resume;       /**< -ckpt_resume auto|no */
} PofCkptConfig;

/** -bench_*: synthetic throughput. */
typedef struct {
  PofBenchStep step;             /**< -bench_step forward|train|pof */
  PetscInt     steps;            /**< -bench_steps: timed steps */
  PetscInt     warmup;           /**< -bench_warmup: untimed steps first */
  PetscInt     in_c, in_h, in_w; /**< -bench_input CxHxW */
} PofBenchConfig;

/** -convert_*: raw dataset to HDF5. */
typedef struct {
  PofConvertFormat format;                     /**< -convert_format idx|cifar10|cifar100|svhn */
  char             train_images[POF_PATH_MAX]; /**< -convert_train_images (IDX) */
  char             train_labels[POF_PATH_MAX]; /**< -convert_train_labels (IDX) */
  char             test_images[POF_PATH_MAX];  /**< -convert_test_images (IDX) */
  char             test_labels[POF_PATH_MAX];  /**< -convert_test_labels (IDX) */
  char             input_dir[POF_PATH_MAX];    /**< -convert_input_dir (CIFAR batches, SVHN .mat) */
  char             output[POF_PATH_MAX];       /**< -convert_output F.h5 */
  PetscBool        svhn_extra;                 /**< -convert_svhn_extra: append extra_32x32.mat */
  PetscBool        cifar100_coarse;            /**< -convert_cifar100_coarse: coarse labels */
  char             name[64];                   /**< -convert_name: dataset name attribute ("" = from the format) */
} PofConvertConfig;

/** -eval_*: evaluation. */
typedef struct {
  char     split[16]; /**< -eval_split test|train */
  PetscInt batch;     /**< -eval_batch: global evaluation batch */
} PofEvalConfig;

/** Which option groups a command reads. */
enum {
  POF_GROUP_RUN     = 1 << 0,
  POF_GROUP_DATA    = 1 << 1,
  POF_GROUP_MODEL   = 1 << 2,
  POF_GROUP_OPT     = 1 << 3,
  POF_GROUP_POF     = 1 << 4,
  POF_GROUP_CKPT    = 1 << 5,
  POF_GROUP_BENCH   = 1 << 6,
  POF_GROUP_CONVERT = 1 << 7,
  POF_GROUP_EVAL    = 1 << 8
};

/** Everything one run reads. Plain value: copy freely. */
typedef struct {
  unsigned         groups; /**< POF_GROUP_* bits that were read */
  PofRunConfig     run;
  PofDataConfig    data;
  PofModelConfig   model;
  PofOptConfig     opt;
  PofPofConfig     pof;
  PofCkptConfig    ckpt;
  PofBenchConfig   bench;
  PofConvertConfig convert;
  PofEvalConfig    eval;
  /** Polled by the training loops after every step (NULL = never stop early): the number of a
      caught stop signal, 0 if none; e.g. pof_signal_caught (include/pof/signal.h). Not an option. */
  int (*stop_requested)(void);
} PofConfig;

/** Fill cfg with every group's defaults (no options read). Not collective. */
void pof_config_defaults(PofConfig *cfg);

/**
 * Read the groups `groups` from opts (NULL = global database) into cfg, validate them and
 * reject options nobody read. With -help in opts the help of those groups is printed and
 * *help_only is set (then cfg holds defaults and nothing is validated). Collective on comm.
 */
PetscErrorCode pof_config_read(PetscOptions opts, MPI_Comm comm, const char *command,
                               unsigned groups, PofConfig *cfg, PetscBool *help_only);

/**
 * Parse the groups `groups` from opts without validating their combination: an error for an
 * option of these groups that does not parse and for an option nobody reads. For options that
 * later get more options added (the base options of `pof sweep`, checked before any line runs).
 * Collective on comm.
 */
PetscErrorCode pof_config_check_names(PetscOptions opts, MPI_Comm comm, const char *command, unsigned groups);

/** Write cfg (the groups read) as one JSON object to f (no newline). Not collective. */
PetscErrorCode pof_config_write_json(const PofConfig *cfg, FILE *f);

/**
 * Compare two option sets written by pof_config_write_json: the keys whose values differ, as
 * "key old -> new" (a key only in one side shows "(none)") joined by ", ", into buf (truncated
 * with "..." to len; empty if none). Keys listed in `ignore` (NULL-terminated, may be NULL) are
 * skipped. Returns the number of differing keys, or -1 if either text is not a flat JSON object
 * of that shape. Not collective; pure.
 */
int pof_config_json_diff(const char *old_json, const char *new_json, const char *const *ignore, char *buf, size_t len);

/**
 * Error if the string option `opt`, read into buf[size], may have been cut (PETSc cuts a value at
 * the buffer; a cut path would name another file). Collective on comm (no communication).
 */
PetscErrorCode pof_option_check_length(MPI_Comm comm, const char *opt, const char *buf, size_t size);

/** PetscOptionsString into the array buf, then pof_option_check_length; inside a
 *  PetscOptionsBegin block with `comm` in scope. Every string option is read through it. */
#define POF_OPTIONS_STRING(opt, text, buf, set)                                 \
  do {                                                                          \
    PetscCall(PetscOptionsString(opt, text, NULL, buf, buf, sizeof(buf), set)); \
    PetscCall(pof_option_check_length(comm, opt, buf, sizeof(buf)));            \
  } while (0)

/** Error naming every option in opts that was never read, if any. Collective on comm. */
PetscErrorCode pof_options_reject_unused(PetscOptions opts, MPI_Comm comm);

#endif
