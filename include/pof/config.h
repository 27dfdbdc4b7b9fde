/**
 * @file config.h
 * @brief Options of every command, read from a PetscOptions object into plain validated structs.
 *
 * Every option is one row of the table include/pof/options.def (name, type, default, range,
 * help, the commands that take it, whether a resume may change it); registration (PETSc's public
 * options API), defaults, range checks, `-help`, config.json, the resume comparison and
 * docs/options.md are generated from it in src/core/config.c, the only file that calls
 * PetscOptions*. Reading takes a PetscOptions object (NULL = the global database), so one
 * process can hold several configurations (pof sweep). Every value is validated with a message
 * naming the option and the value, and any option left unused after a command has read its
 * options is an error naming it (typos are caught). Functions taking a communicator are
 * collective on it (the same options must be given on every rank, which mpirun guarantees).
 */
#ifndef POF_CONFIG_H
#define POF_CONFIG_H

#include "pof/core.h"

#define POF_PATH_MAX       4096
#define POF_MAX_MILESTONES 16

typedef enum { POF_PREC_FP32 = 0, POF_PREC_BF16 = 1 } PofPrecision;
typedef enum { POF_CONV_WINOGRAD = 0, POF_CONV_DIRECT = 1 } PofConvAlg;
typedef enum { POF_OPT_SGD = 0, POF_OPT_SAM = 1 } PofOptimizerKind;
typedef enum { POF_SCHED_STEP = 0, POF_SCHED_COSINE = 1, POF_SCHED_CONST = 2 } PofScheduleKind;
typedef enum { POF_MODE_GLOBAL = 0, POF_MODE_LOCAL = 1, POF_MODE_OFF = 2 } PofPofMode;
typedef enum { POF_FLAT_CAP = 0, POF_FLAT_REJECT = 1 } PofFlatPolicy;
typedef enum { POF_BENCH_FORWARD = 0, POF_BENCH_TRAIN = 1, POF_BENCH_POF = 2 } PofBenchStep;
typedef enum {
  POF_FMT_IDX      = 0,
  POF_FMT_CIFAR10  = 1,
  POF_FMT_CIFAR100 = 2,
  POF_FMT_SVHN     = 3
} PofConvertFormat;
typedef enum { POF_RESUME_NO = 0, POF_RESUME_AUTO = 1 } PofResumeMode;

extern const char *const PofPrecisions[];
extern const char *const PofConvAlgs[];
extern const char *const PofOptimizerKinds[];
extern const char *const PofScheduleKinds[];
extern const char *const PofPofModes[];
extern const char *const PofFlatPolicies[];
extern const char *const PofBenchSteps[];
extern const char *const PofConvertFormats[];
extern const char *const PofResumeModes[];
extern const char *const PofSplits[];         /* test, train */
extern const char *const PofSweepCommands[];  /* posttrain, pretrain */
extern const char *const PofConfigCommands[]; /* the commands pof config prints */

/** -run_*: where results go and the run's identity. */
typedef struct {
  char         dir[POF_PATH_MAX]; /**< -run_dir: run directory (created if missing) */
  PetscInt     seed;              /**< -run_seed: key of every random stream */
  PetscInt     epochs;            /**< -run_epochs: epochs to train */
  PetscBool    step_log;          /**< -run_step_log: per-step lines in steps.jsonl */
  PetscBool    gap;          /**< -run_gap: evaluate the clean train split each epoch (loss gap) */
  PetscInt     gap_samples;  /**< -run_gap_samples: train samples for the gap (0 = all) */
  PetscBool    quiet;        /**< -run_quiet: no per-epoch progress lines (implies progress 0) */
  PetscReal    progress;     /**< -run_progress: seconds between progress lines, 0 = off */
  PetscReal    step_timeout; /**< -run_step_timeout: seconds without progress before 69 (0 off) */
  PofPrecision precision;    /**< -precision fp32|bf16 */
  PetscReal    signal_lead;  /**< -run_signal_lead: seconds from the stop signal to the kill */
} PofRunConfig;

/** -data_*: the dataset file and how samples are drawn. */
typedef struct {
  char      file[POF_PATH_MAX]; /**< -data_file: HDF5 file written by pof convert */
  PetscBool replicate;          /**< -data_replicate: whole dataset on every rank */
  PetscInt  train_subset; /**< -data_train_subset: use the first N training samples (0 = all) */
  PetscBool augment;      /**< -data_augment: crop + flip (+ cutout) in training */
  PetscInt  crop_pad;     /**< -data_crop_pad: zero padding of the random crop */
  PetscBool flip;         /**< -data_flip: random horizontal flip */
  PetscInt  cutout;       /**< -data_cutout: side of the cutout hole, 0 = off */
} PofDataConfig;

/** -model_*: the WRN and the file it starts from. */
typedef struct {
  PetscInt  depth;            /**< -model_depth: 6n+4 */
  PetscInt  width;            /**< -model_width: widening factor k */
  PetscInt  base;             /**< -model_base: channels of the first conv (16 in the paper) */
  PetscInt  classes;          /**< -model_classes: 0 = from the dataset */
  char      in[POF_PATH_MAX]; /**< -model_in: model or checkpoint to start from */
  PetscBool recompute; /**< -model_recompute: recompute BN+ReLU outputs in backward (less memory;
                          default on) */
  PofConvAlg conv_alg; /**< -model_conv_alg: Winograd for 3x3 stride-1 fp32 convolutions, or direct
                          everywhere */
  /* which shape options were given (with -model_in they must agree with the file) */
  PetscBool depth_set, width_set, base_set, classes_set;
} PofModelConfig;

/** -opt_*: optimizer, batch and learning-rate schedule. */
typedef struct {
  PetscInt  batch;     /**< -opt_batch: global batch */
  PetscReal lr;        /**< -opt_lr: base learning rate */
  PetscBool lr_set;    /**< -opt_lr was given (posttrain: else the pretraining schedule) */
  PetscBool sched_set; /**< -opt_schedule, -opt_milestones or -opt_warmup was given (posttrain: a
                          schedule of its own) */
  PetscReal        momentum; /**< -opt_momentum */
  PetscBool        nesterov; /**< -opt_nesterov */
  PetscReal        wd;       /**< -opt_wd: weight decay */
  PofOptimizerKind kind;     /**< -opt_kind sgd|sam */
  PetscReal        sam_rho;  /**< -opt_sam_rho */
  PetscBool        sam_sync; /**< -opt_sam_sync: perturb with the global gradient */
  PofScheduleKind  schedule; /**< -opt_schedule step|cosine|const */
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
  char             name[64]; /**< -convert_name: dataset name attribute ("" = from the format) */
} PofConvertConfig;

/** -eval_*: evaluation. */
typedef struct {
  char     split[16]; /**< -eval_split test|train */
  PetscInt batch;     /**< -eval_batch: global evaluation batch */
} PofEvalConfig;

/** -analyze_*: pof analyze (include/pof/analysis.h). */
typedef struct {
  PetscInt  samples;      /**< -analyze_samples: evaluation subset = first N samples of the split */
  char      split[16];    /**< -analyze_split test|train */
  PetscInt  batch;        /**< -analyze_batch: samples per forward/backward chunk per rank */
  PetscInt  seed;         /**< -analyze_seed: Hutchinson probes and random directions */
  PetscInt  top_k;        /**< -analyze_top_k: eigenvalues per block */
  PetscBool eigenvectors; /**< -analyze_eigenvectors: store the eigenvectors */
  PetscInt  hutchinson;   /**< -analyze_hutchinson: probe vectors for the trace (0 = off) */
  PetscBool network;      /**< -analyze_network: whole-network spectrum and trace */
  PetscBool classifier;   /**< -analyze_classifier: classifier-block spectrum and trace */
  PetscBool classifier_exact; /**< -analyze_classifier_exact: closed-form block Hv instead of
                                 differences */
  PetscReal fd_eps;           /**< -analyze_fd_eps: eps_rel of the difference quotient */
  PetscReal eps_tol;          /**< -analyze_eps_tol: SLEPc relative tolerance */
  PetscInt  eps_max_it;       /**< -analyze_eps_max_it: SLEPc iteration cap */
  PetscInt  weak_batch;       /**< -analyze_weak_batch: weak batch of the PoF direction (0 = off) */
  PetscInt  grid1;            /**< -analyze_grid1: points of each 1-D landscape (0 = off) */
  PetscReal range1;           /**< -analyze_range1: 1-D landscape on alpha in [-r, r] */
  PetscInt  grid2;            /**< -analyze_grid2: points per axis of the 2-D landscape (0 = off) */
  PetscReal range2;           /**< -analyze_range2: 2-D landscape on [-r, r]^2 */
  char      out[POF_PATH_MAX]; /**< -analyze_out: HDF5 result file ("" = none) */
} PofAnalyzeConfig;

/** -sweep_*: pof sweep (include/pof/sweep.h). */
typedef struct {
  char     command[16];           /**< -sweep_command posttrain|pretrain */
  char     grid[POF_PATH_MAX];    /**< -sweep_grid */
  char     dir[POF_PATH_MAX];     /**< -sweep_dir */
  char     summary[POF_PATH_MAX]; /**< -sweep_summary */
  PetscInt group_size;            /**< -sweep_group_size */
} PofSweepOptions;

/** -config_*: pof config. */
typedef struct {
  char command[16]; /**< -config_command: the command whose options are printed */
} PofConfigOptions;

/** The commands, as bits: the table's "commands" column is a mask of them. */
typedef enum {
  POF_CMD_CONVERT   = 1 << 0,
  POF_CMD_PRETRAIN  = 1 << 1,
  POF_CMD_POSTTRAIN = 1 << 2,
  POF_CMD_EVAL      = 1 << 3,
  POF_CMD_BENCH     = 1 << 4,
  POF_CMD_ANALYZE   = 1 << 5,
  POF_CMD_SWEEP     = 1 << 6,
  POF_CMD_CONFIG    = 1 << 7
} PofCommandId;
#define POF_NCOMMANDS 8

/* Who takes the options of each concern (the masks the table uses). `pof sweep` passes the
   options of pretrain/posttrain to its lines; `pof config` takes those of -config_command. */
#define POF_CMDS_TRAIN (POF_CMD_PRETRAIN | POF_CMD_POSTTRAIN)
#define POF_CMDS_RUN   (POF_CMDS_TRAIN | POF_CMD_EVAL | POF_CMD_BENCH | POF_CMD_ANALYZE)
#define POF_CMDS_DATA  (POF_CMDS_TRAIN | POF_CMD_EVAL | POF_CMD_ANALYZE)
#define POF_CMDS_MODEL (POF_CMDS_TRAIN | POF_CMD_EVAL | POF_CMD_BENCH | POF_CMD_ANALYZE)
#define POF_CMDS_OPT   (POF_CMDS_TRAIN | POF_CMD_BENCH)
#define POF_CMDS_POF   (POF_CMD_POSTTRAIN | POF_CMD_BENCH)
#define POF_CMDS_CKPT  POF_CMDS_TRAIN
#define POF_CMDS_EVAL  (POF_CMDS_TRAIN | POF_CMD_EVAL)

/** One id per option of the table (POF_O_run_dir, ...). */
typedef enum {
#define POF_O_ID(name, ...) POF_O_##name,
#define POF_INT             POF_O_ID
#define POF_REAL            POF_O_ID
#define POF_BOOL            POF_O_ID
#define POF_STRING          POF_O_ID
#define POF_ENUM            POF_O_ID
#define POF_CHOICE          POF_O_ID
#define POF_INTS            POF_O_ID
#define POF_SHAPE           POF_O_ID
#include "pof/options.def"
#undef POF_INT
#undef POF_REAL
#undef POF_BOOL
#undef POF_STRING
#undef POF_ENUM
#undef POF_CHOICE
#undef POF_INTS
#undef POF_SHAPE
#undef POF_O_ID
  POF_NOPTIONS
} PofOptionId;

/** Everything one run reads. Plain value: copy freely. */
typedef struct {
  PofCommandId     command; /**< the command whose options were read */
  PofRunConfig     run;
  PofDataConfig    data;
  PofModelConfig   model;
  PofOptConfig     opt;
  PofPofConfig     pof;
  PofCkptConfig    ckpt;
  PofBenchConfig   bench;
  PofConvertConfig convert;
  PofEvalConfig    eval;
  PofAnalyzeConfig analyze;
  PofSweepOptions  sweep;
  PofConfigOptions config;
  PetscBool        given[POF_NOPTIONS]; /**< which options the user gave */
  /** Polled by the training loops after every step (NULL = never stop early): the number of a
      caught stop signal, 0 if none; e.g. pof_signal_caught (include/pof/signal.h). Not an option.
   */
  int (*stop_requested)(void);
} PofConfig;

/** The command named `name` (convert, pretrain, ...), 0 if none. Not collective. */
PofCommandId pof_command_id(const char *name);
/** The name of command `cmd`. Not collective. */
const char *pof_command_name(PofCommandId cmd);

/** Fill cfg with the table's defaults of every option (no options read). Not collective. */
void pof_config_defaults(PofConfig *cfg);

/**
 * Read the options of command `cmd` from opts (NULL = the global database) into cfg, validate
 * them and reject options nobody read (except for pof sweep and pof config, whose remaining
 * options belong to another command). With -help in opts the command's options are printed with
 * their help and *help_only is set (then cfg holds defaults and nothing is validated).
 * Collective on comm.
 */
PetscErrorCode pof_config_read(PetscOptions opts, MPI_Comm comm, PofCommandId cmd, PofConfig *cfg,
                               PetscBool *help_only);

/**
 * The options of a run given as text: `base` then `line` (either may be NULL), then -run_dir
 * `run_dir` if not NULL, read as command `cmd` into cfg with pof_config_read's checks (-help in
 * the text is an error). With check_only, the values are parsed but their combination is not
 * validated (for the base options of pof sweep, checked before any line runs). Collective on comm.
 */
PetscErrorCode pof_config_read_text(MPI_Comm comm, PofCommandId cmd, const char *base,
                                    const char *line, const char *run_dir, PetscBool check_only,
                                    PofConfig *cfg);

/**
 * All options in opts (NULL = the global database) except those of command `cmd`, as one string
 * for pof_config_read_text (the base options of a sweep's lines). Free with PetscFree. Not
 * collective.
 */
PetscErrorCode pof_config_other_options(PetscOptions opts, PofCommandId cmd, char **text);

/** Put -help into the global options database (main: after PetscInitialize). Not collective. */
PetscErrorCode pof_options_set_help(void);

/** Write cfg (the options of its command, keys = names without the dash) as one strict JSON
 *  object to f (no newline). Not collective. */
PetscErrorCode pof_config_write_json(const PofConfig *cfg, FILE *f);

/** The same object as pof_config_write_json, as a string (free with free()). Not collective. */
PetscErrorCode pof_config_json(const PofConfig *cfg, char **json);

/**
 * Compare two option sets (JSON objects as pof_config_write_json writes them, of this or an
 * earlier version): the keys whose values differ, as "key old -> new" (a key only on one side
 * shows "(none)") joined by ", ", into buf (truncated with "..." to len; empty if none), keys of
 * the new set in its order, then keys only in the old. Values compare by type: numbers as
 * numbers (0.1 equals 0.10000000000000001, 2 equals 2.0), arrays element by element; an old 0 of
 * a RESOLVED option of the table matches any value. Keys listed in `ignore` (NULL-terminated, may
 * be NULL) are skipped. Returns the number of differing keys, or -1 if either text is not a JSON
 * object. Not collective; pure.
 */
int pof_config_json_diff(const char *old_json, const char *new_json, const char *const *ignore,
                         char *buf, size_t len);

/** The keys of the options the table lets a resumed run change (FREE), NULL-terminated. */
const char *const *pof_config_resume_free_keys(void);

/**
 * docs/options.md, generated from the table (every option, its type, default, range, commands,
 * resume rule and help), to f. Not collective.
 */
PetscErrorCode pof_options_write_markdown(FILE *f);

/** The names (with the dash) of the options command `cmd` takes, one per line, to f. */
PetscErrorCode pof_options_write_names(FILE *f, PofCommandId cmd);

#endif
