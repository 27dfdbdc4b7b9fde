/* Options into validated structs, all generated from the table include/pof/options.def: see
   include/pof/config.h. The only file of pof that calls PetscOptions* (checked by the test
   options_table). */
#include "pof/config.h"
#include "pof/json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const PofPrecisions[]     = { "fp32", "bf16", "PofPrecision", "POF_PREC_", NULL };
const char *const PofConvAlgs[]       = { "winograd", "direct", "PofConvAlg", "POF_CONV_", NULL };
const char *const PofOptimizerKinds[] = { "sgd", "sam", "PofOptimizerKind", "POF_OPT_", NULL };
const char *const PofScheduleKinds[]  = { "step",       "cosine", "const", "PofScheduleKind",
                                          "POF_SCHED_", NULL };
const char *const PofPofModes[]     = { "global", "local", "off", "PofPofMode", "POF_MODE_", NULL };
const char *const PofFlatPolicies[] = { "cap", "reject", "PofFlatPolicy", "POF_FLAT_", NULL };
const char *const PofBenchSteps[]   = {
    "forward", "train", "pof", "PofBenchStep", "POF_BENCH_", NULL
};
const char *const PofConvertFormats[] = { "idx",  "cifar10",          "cifar100",
                                          "svhn", "PofConvertFormat", "POF_FMT_",
                                          NULL };
const char *const PofResumeModes[]    = { "no", "auto", "PofResumeMode", "POF_RESUME_", NULL };
const char *const PofSplits[]         = { "test", "train", NULL };
const char *const PofSweepCommands[]  = { "posttrain", "pretrain", NULL };
const char *const PofConfigCommands[] = {
  "convert", "pretrain", "posttrain", "eval", "bench", NULL
};

static const char *const command_names[POF_NCOMMANDS] = { "convert", "pretrain", "posttrain",
                                                          "eval",    "bench",    "analyze",
                                                          "sweep",   "config" };

/* ------------------------------------------------------------------ the table */
typedef enum { T_INT, T_REAL, T_BOOL, T_STRING, T_ENUM, T_CHOICE, T_INTS, T_SHAPE } OptType;
typedef enum { RS_FIXED, RS_FREE, RS_RESOLVED } ResumeRule;

typedef struct {
  const char        *name; /* "-run_dir" */
  OptType            type;
  size_t             offset; /* of the value in PofConfig */
  size_t             size;   /* of the value (string buffers, arrays) */
  size_t             count;  /* T_INTS: offset of the element count */
  const char        *def, *range;
  const char *const *values; /* T_ENUM: PETSc enum list; T_CHOICE: NULL-terminated */
  unsigned           commands;
  ResumeRule         resume;
  const char        *help;
} Option;

#define FIELD_SIZE(f) sizeof(((PofConfig *)0)->f)
#define ROW(name, type, field, count, def, range, values, cmds, resume, help) \
  { "-" #name,                                                                \
    type,                                                                     \
    offsetof(PofConfig, field),                                               \
    FIELD_SIZE(field),                                                        \
    count,                                                                    \
    def,                                                                      \
    range,                                                                    \
    values,                                                                   \
    cmds,                                                                     \
    RS_##resume,                                                              \
    help },
#define POF_INT(n, f, d, r, c, rs, h)    ROW(n, T_INT, f, 0, d, r, NULL, c, rs, h)
#define POF_REAL(n, f, d, r, c, rs, h)   ROW(n, T_REAL, f, 0, d, r, NULL, c, rs, h)
#define POF_BOOL(n, f, d, c, rs, h)      ROW(n, T_BOOL, f, 0, d, "", NULL, c, rs, h)
#define POF_STRING(n, f, d, c, rs, h)    ROW(n, T_STRING, f, 0, d, "", NULL, c, rs, h)
#define POF_ENUM(n, f, d, v, c, rs, h)   ROW(n, T_ENUM, f, 0, d, "", v, c, rs, h)
#define POF_CHOICE(n, f, d, v, c, rs, h) ROW(n, T_CHOICE, f, 0, d, "", v, c, rs, h)
#define POF_INTS(n, f, cnt, d, r, c, rs, h) \
  ROW(n, T_INTS, f, offsetof(PofConfig, cnt), d, r, NULL, c, rs, h)
#define POF_SHAPE(n, f, d, c, rs, h) ROW(n, T_SHAPE, f, 0, d, "", NULL, c, rs, h)
static const Option table[POF_NOPTIONS] = {
#include "pof/options.def"
};
#undef POF_INT
#undef POF_REAL
#undef POF_BOOL
#undef POF_STRING
#undef POF_ENUM
#undef POF_CHOICE
#undef POF_INTS
#undef POF_SHAPE
#undef ROW

/* bench_input is three consecutive PetscInts */
_Static_assert(offsetof(PofBenchConfig, in_h) ==
                       offsetof(PofBenchConfig, in_c) + sizeof(PetscInt) &&
                   offsetof(PofBenchConfig, in_w) ==
                       offsetof(PofBenchConfig, in_h) + sizeof(PetscInt),
               "bench.in_c, in_h, in_w must be consecutive");

static void       *value_of(PofConfig *cfg, const Option *o) { return (char *)cfg + o->offset; }
static const void *cvalue_of(const PofConfig *cfg, const Option *o)
{
  return (const char *)cfg + o->offset;
}
#define INT_AT(cfg, o)  (*(PetscInt *)value_of(cfg, o))
#define CINT_AT(cfg, o) (*(const PetscInt *)cvalue_of(cfg, o))

static int enum_count(const Option *o)
{
  int n = 0;
  while (o->values[n]) n++;
  return o->type == T_ENUM ? n - 2 : n; /* a PETSc enum list ends with its type name and prefix */
}

static const Option *find_key(const char *key)
{
  for (int i = 0; i < POF_NOPTIONS; i++)
    if (!strcmp(table[i].name + 1, key)) return &table[i];
  return NULL;
}

PofCommandId pof_command_id(const char *name)
{
  for (int i = 0; i < POF_NCOMMANDS; i++)
    if (name && !strcmp(name, command_names[i])) return (PofCommandId)(1 << i);
  return (PofCommandId)0;
}

const char *pof_command_name(PofCommandId cmd)
{
  for (int i = 0; i < POF_NCOMMANDS; i++)
    if (cmd == (PofCommandId)(1 << i)) return command_names[i];
  return "?";
}

/* ------------------------------------------------------------------ defaults */
/* "CxHxW" -> three ints in (0, 4096] x (0, 65536] x (0, 65536]; 0 if it is not one. */
static int parse_shape(const char *s, PetscInt *chw)
{
  static const long max[3] = { 4096, 65536, 65536 };
  PetscInt          v[3];
  const char       *p = s;
  for (int i = 0; i < 3; i++) {
    char *end = NULL;
    if (*p < '0' || *p > '9') return 0;
    errno        = 0;
    const long x = strtol(p, &end, 10);
    if (errno || x <= 0 || x > max[i] || *end != (i < 2 ? 'x' : '\0')) return 0;
    v[i] = (PetscInt)x;
    p    = end + 1;
  }
  chw[0] = v[0], chw[1] = v[1], chw[2] = v[2];
  return 1;
}

static void set_default(PofConfig *cfg, const Option *o)
{
  void *v = value_of(cfg, o);
  switch (o->type) {
  case T_INT: *(PetscInt *)v = (PetscInt)strtol(o->def, NULL, 10); break;
  case T_REAL: *(PetscReal *)v = (PetscReal)strtod(o->def, NULL); break;
  case T_BOOL: *(PetscBool *)v = !strcmp(o->def, "true") ? PETSC_TRUE : PETSC_FALSE; break;
  case T_STRING:
  case T_CHOICE: snprintf((char *)v, o->size, "%s", o->def); break;
  case T_ENUM:
    for (int k = 0; k < enum_count(o); k++)
      if (!strcmp(o->values[k], o->def)) *(PetscEnum *)v = (PetscEnum)k;
    break;
  case T_INTS: {
    PetscInt   *a = (PetscInt *)v, n = 0;
    const char *p = o->def;
    for (char *e; *p && n < (PetscInt)(o->size / sizeof(PetscInt)); p = *e ? e + 1 : e)
      a[n++] = (PetscInt)strtol(p, &e, 10);
    *(PetscInt *)((char *)cfg + o->count) = n;
  } break;
  case T_SHAPE: (void)parse_shape(o->def, (PetscInt *)v); break;
  }
}

void pof_config_defaults(PofConfig *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  for (int i = 0; i < POF_NOPTIONS; i++) set_default(cfg, &table[i]);
}

/* ------------------------------------------------------------------ ranges */
/* "[lo,hi]", "(lo,)", ... : which ends exist, their values and texts, open or closed */
typedef struct {
  int    has_lo, has_hi, lo_open, hi_open;
  double lo, hi;
  char   lo_text[32], hi_text[32];
} Range;

static Range parse_range(const char *r)
{
  Range       g = { 0 };
  const char *comma;
  if (!r[0]) return g;
  comma     = strchr(r, ',');
  g.lo_open = r[0] == '(';
  g.hi_open = r[strlen(r) - 1] == ')';
  snprintf(g.lo_text, sizeof g.lo_text, "%.*s", (int)(comma - r - 1), r + 1);
  snprintf(g.hi_text, sizeof g.hi_text, "%.*s", (int)(strlen(comma) - 2), comma + 1);
  g.has_lo = g.lo_text[0] != '\0', g.has_hi = g.hi_text[0] != '\0';
  g.lo = strtod(g.lo_text, NULL), g.hi = strtod(g.hi_text, NULL);
  return g;
}

static int in_range(const Range *g, double x)
{
  if (g->has_lo && (g->lo_open ? !(x > g->lo) : !(x >= g->lo))) return 0;
  if (g->has_hi && (g->hi_open ? !(x < g->hi) : !(x <= g->hi))) return 0;
  return 1;
}

/* "in [0, 64]", "positive", ">= 0", ... (what "must be" is followed by) */
static void range_words(const Option *o, char *buf, size_t len)
{
  const Range g = parse_range(o->range);
  if (g.has_lo && g.has_hi)
    snprintf(buf, len, "in %c%s, %s%c", g.lo_open ? '(' : '[', g.lo_text, g.hi_text,
             g.hi_open ? ')' : ']');
  else if (g.has_lo && ((g.lo == 0 && g.lo_open) || (g.lo == 1 && !g.lo_open && o->type != T_REAL)))
    snprintf(buf, len, "positive");
  else if (g.has_lo)
    snprintf(buf, len, "%s %s", g.lo_open ? ">" : ">=", g.lo_text);
  else if (g.has_hi)
    snprintf(buf, len, "%s %s", g.hi_open ? "<" : "<=", g.hi_text);
  else
    buf[0] = '\0';
}

/* "a, b or c" */
static void choice_words(const Option *o, char *buf, size_t len)
{
  const int n    = enum_count(o);
  size_t    used = 0;
  buf[0]         = '\0';
  for (int k = 0; k < n && used < len; k++)
    used += (size_t)snprintf(buf + used, len - used, "%s%s",
                             k == 0       ? ""
                             : k == n - 1 ? " or "
                                          : ", ",
                             o->values[k]);
}

static PetscErrorCode check_value(MPI_Comm comm, const PofConfig *cfg, const Option *o)
{
  const Range g = parse_range(o->range);
  char        words[128];
  PetscFunctionBegin;
  range_words(o, words, sizeof words);
  switch (o->type) {
  case T_INT:
    PetscCheck(in_range(&g, (double)CINT_AT(cfg, o)), comm, PETSC_ERR_ARG_OUTOFRANGE,
               "%s must be %s, got %" PetscInt_FMT, o->name, words, CINT_AT(cfg, o));
    break;
  case T_REAL: {
    const double x = (double)*(const PetscReal *)cvalue_of(cfg, o);
    PetscCheck(isfinite(x), comm, PETSC_ERR_ARG_OUTOFRANGE, "%s must be a finite number, got %g",
               o->name, x);
    PetscCheck(in_range(&g, x), comm, PETSC_ERR_ARG_OUTOFRANGE, "%s must be %s, got %g", o->name,
               words, x);
  } break;
  case T_INTS: {
    const PetscInt *a = (const PetscInt *)cvalue_of(cfg, o),
                   n  = *(const PetscInt *)((const char *)cfg + o->count);
    for (PetscInt k = 0; k < n; k++)
      PetscCheck(in_range(&g, (double)a[k]), comm, PETSC_ERR_ARG_OUTOFRANGE,
                 "%s must be %s, got %" PetscInt_FMT, o->name, words, a[k]);
  } break;
  case T_CHOICE: {
    const char *s = (const char *)cvalue_of(cfg, o);
    int         ok =
        !s[0] && !o->def[0]; /* not given, and no default: the command says whether it is needed */
    for (int k = 0; !ok && o->values[k]; k++) ok = !strcmp(s, o->values[k]);
    choice_words(o, words, sizeof words);
    PetscCheck(ok, comm, PETSC_ERR_ARG_WRONG, "%s must be %s, got '%s'", o->name, words, s);
  } break;
  default: break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* What ranges cannot say: combinations of options and what each command needs. */
static PetscErrorCode check_combination(MPI_Comm comm, const PofConfig *cfg)
{
  const PofCommandId cmd = cfg->command;
  PetscFunctionBegin;
  if (cmd & POF_CMDS_RUN)
    PetscCheck(cfg->run.dir[0], comm, PETSC_ERR_ARG_WRONG, "-run_dir must not be empty");
  if (cmd & (POF_CMDS_TRAIN | POF_CMD_EVAL | POF_CMD_ANALYZE))
    PetscCheck(cfg->data.file[0], comm, PETSC_ERR_ARG_WRONG,
               "pof %s needs -data_file (an HDF5 file written by pof convert)",
               pof_command_name(cmd));
  if (cmd & POF_CMDS_MODEL) {
    const PetscInt d = cfg->model.depth;
    PetscCheck((d - 4) % 6 == 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-model_depth must be 6n+4 with n >= 1 (10, 16, 22, 28, ...), got %" PetscInt_FMT,
               d);
  }
  if (cmd & (POF_CMD_POSTTRAIN | POF_CMD_EVAL | POF_CMD_ANALYZE))
    PetscCheck(cfg->model.in[0], comm, PETSC_ERR_ARG_WRONG,
               "pof %s needs -model_in (a model file of pof pretrain or posttrain)",
               pof_command_name(cmd));
  if (cmd & POF_CMDS_OPT) {
    PetscCheck(!cfg->opt.nesterov || cfg->opt.momentum > 0, comm, PETSC_ERR_ARG_WRONG,
               "-opt_nesterov needs -opt_momentum > 0 (as torch.optim.SGD)");
    for (PetscInt i = 1; i < cfg->opt.nmilestones; i++)
      PetscCheck(cfg->opt.milestones[i] > cfg->opt.milestones[i - 1], comm, PETSC_ERR_ARG_WRONG,
                 "-opt_milestones must increase, got %" PetscInt_FMT " after %" PetscInt_FMT,
                 cfg->opt.milestones[i], cfg->opt.milestones[i - 1]);
  }
  if (cmd & POF_CMDS_POF) {
    PetscCheck(cfg->pof.eta_cap >= cfg->pof.eta_init, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-pof_eta_cap (%g) must be >= -pof_eta_init (%g)", (double)cfg->pof.eta_cap,
               (double)cfg->pof.eta_init);
    PetscCheck(cfg->pof.eta_cap / cfg->pof.eta_init <= 0x1p40, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-pof_eta_cap / -pof_eta_init must be <= 2^40 (at most 41 bracket trials)");
  }
  if (cmd & POF_CMD_CONVERT) {
    PetscCheck(cfg->convert.output[0], comm, PETSC_ERR_ARG_WRONG,
               "pof convert needs -convert_output F.h5");
    if (cfg->convert.format == POF_FMT_IDX) {
      PetscCheck(cfg->convert.train_images[0] && cfg->convert.train_labels[0] &&
                     cfg->convert.test_images[0] && cfg->convert.test_labels[0],
                 comm, PETSC_ERR_ARG_WRONG,
                 "-convert_format idx needs -convert_train_images, -convert_train_labels, "
                 "-convert_test_images and -convert_test_labels");
    } else {
      PetscCheck(cfg->convert.input_dir[0], comm, PETSC_ERR_ARG_WRONG,
                 "-convert_format %s needs -convert_input_dir",
                 PofConvertFormats[cfg->convert.format]);
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ registration */
/* The help line: the table's help, then the range or the values. */
static void help_text(const Option *o, char *buf, size_t len)
{
  char words[128];
  if (o->type == T_CHOICE)
    choice_words(o, words, sizeof words);
  else
    range_words(o, words, sizeof words);
  if (words[0])
    snprintf(buf, len, "%s [%s%s]", o->help, o->type == T_CHOICE ? "" : "must be ", words);
  else
    snprintf(buf, len, "%s", o->help);
}

/* An enum option's value, if given, is one of its names (case-insensitive, as PETSc compares).
   Checked before PetscOptionsEnum, which leaks its buffers when it refuses a value; the message
   is PETSc's. */
static PetscErrorCode check_enum(PetscOptionItems *PetscOptionsObject, MPI_Comm comm,
                                 const Option *o)
{
  char      given[256], avail[512] = "";
  PetscBool set = PETSC_FALSE;
  PetscFunctionBegin;
  PetscCall(PetscOptionsGetString(PetscOptionsObject->options, PetscOptionsObject->prefix, o->name,
                                  given, sizeof given, &set));
  if (!set) PetscFunctionReturn(PETSC_SUCCESS);
  for (int i = 0; i < enum_count(o); i++) {
    if (!strcasecmp(given, o->values[i])) PetscFunctionReturn(PETSC_SUCCESS);
    const size_t n = strlen(avail);
    snprintf(avail + n, sizeof avail - n, "%s%s", n ? " " : "", o->values[i]);
  }
  SETERRQ(comm, PETSC_ERR_USER, "Unknown option %s for %s. Available options: %s", given, o->name,
          avail);
}

/* One option through PETSc's public options API (inside PetscOptionsBegin/End: the macros
   PetscOptionsInt etc. use the variable PetscOptionsObject). */
static PetscErrorCode register_one(PetscOptionItems *PetscOptionsObject, MPI_Comm comm,
                                   const Option *o, PofConfig *cfg)
{
  void     *v   = value_of(cfg, o);
  PetscBool set = PETSC_FALSE;
  char      text[1024];
  PetscFunctionBegin;
  help_text(o, text, sizeof text);
  switch (o->type) {
  case T_INT:
    PetscCall(PetscOptionsInt(o->name, text, NULL, *(PetscInt *)v, (PetscInt *)v, &set));
    break;
  case T_REAL:
    PetscCall(PetscOptionsReal(o->name, text, NULL, *(PetscReal *)v, (PetscReal *)v, &set));
    break;
  case T_BOOL:
    PetscCall(PetscOptionsBool(o->name, text, NULL, *(PetscBool *)v, (PetscBool *)v, &set));
    break;
  case T_ENUM:
    PetscCall(check_enum(PetscOptionsObject, comm, o));
    PetscCall(
        PetscOptionsEnum(o->name, text, NULL, o->values, *(PetscEnum *)v, (PetscEnum *)v, &set));
    break;
  case T_STRING:
  case T_CHOICE:
    PetscCall(PetscOptionsString(o->name, text, NULL, (char *)v, (char *)v, o->size, &set));
    PetscCheck(strlen((char *)v) + 1 < o->size, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "%s is too long: at most %zu characters", o->name, o->size - 2);
    break;
  case T_INTS: {
    PetscInt n = (PetscInt)(o->size / sizeof(PetscInt));
    PetscCall(PetscOptionsIntArray(o->name, text, NULL, (PetscInt *)v, &n, &set));
    if (set) *(PetscInt *)((char *)cfg + o->count) = n;
  } break;
  case T_SHAPE: {
    PetscInt *chw = (PetscInt *)v;
    char      s[64];
    PetscCall(PetscSNPrintf(s, sizeof s, "%" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT,
                            chw[0], chw[1], chw[2]));
    PetscCall(PetscOptionsString(o->name, text, NULL, s, s, sizeof s, &set));
    PetscCheck(!set || parse_shape(s, chw), comm, PETSC_ERR_ARG_WRONG,
               "%s must be CxHxW with positive integers (e.g. 1x28x28), got '%s'", o->name, s);
  } break;
  }
  cfg->given[o - table] = set;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode register_all(MPI_Comm comm, PofCommandId cmd, PofConfig *cfg)
{
  char           title[64];
  PetscErrorCode ierr = PETSC_SUCCESS;
  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(title, sizeof title, "pof %s options", pof_command_name(cmd)));
  /* PetscOptionsEnd also after a refused option: it frees what PetscOptionsBegin allocated */
  PetscOptionsBegin(comm, NULL, title, NULL);
  for (int i = 0; i < POF_NOPTIONS && !ierr; i++)
    if (table[i].commands & cmd) ierr = register_one(PetscOptionsObject, comm, &table[i], cfg);
  PetscOptionsEnd();
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Defaults, then the options of cmd from opts (made the default database for the
   PetscOptionsBegin/End block), then the flags the rest of pof reads. */
static PetscErrorCode parse(PetscOptions opts, MPI_Comm comm, PofCommandId cmd, PofConfig *cfg)
{
  PetscErrorCode ierr;
  PetscFunctionBegin;
  pof_config_defaults(cfg);
  cfg->command = cmd;
  if (opts) PetscCall(PetscOptionsPush(opts));
  ierr = register_all(comm, cmd, cfg);
  if (opts) PetscCall(PetscOptionsPop());
  PetscCall(ierr);
  cfg->model.depth_set   = cfg->given[POF_O_model_depth];
  cfg->model.width_set   = cfg->given[POF_O_model_width];
  cfg->model.base_set    = cfg->given[POF_O_model_base];
  cfg->model.classes_set = cfg->given[POF_O_model_classes];
  cfg->opt.lr_set        = cfg->given[POF_O_opt_lr];
  cfg->opt.sched_set     = cfg->given[POF_O_opt_schedule] || cfg->given[POF_O_opt_milestones] ||
                       cfg->given[POF_O_opt_warmup];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* PETSc's own run-time options, which a pof command never reads but must accept. */
static PetscBool is_petsc_option(const char *name)
{
  static const char *const prefixes[] = { "log",
                                          "malloc",
                                          "options_",
                                          "help",
                                          "info",
                                          "on_error",
                                          "start_in_debugger",
                                          "debugger",
                                          "stop_for_debugger",
                                          "fp_trap",
                                          "no_signal_handler",
                                          "objects_dump",
                                          "memory_view",
                                          "checkstack",
                                          "check_pointer_intensity",
                                          "skip_petscrc",
                                          "petsc",
                                          "history",
                                          "get_total_flops",
                                          "use_gpu_aware_mpi",
                                          "viewer_",
                                          "display",
                                          "nox",
                                          "mpi_linear_solver_server",
                                          "saws",
                                          "v",
                                          NULL };
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

static PetscErrorCode reject_unused(PetscOptions opts, MPI_Comm comm)
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
    if (used + strlen(names[i]) + 4 < sizeof(list))
      used += (size_t)snprintf(list + used, sizeof(list) - used, "%s-%s", bad > 1 ? ", " : "",
                               names[i]);
  }
  PetscCall(PetscOptionsLeftRestore(opts, &n, &names, &values));
  PetscCheck(!bad, comm, PETSC_ERR_ARG_WRONG, "unknown option%s for this command: %s (see -help)",
             bad > 1 ? "s" : "", list);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Edit distance of two option names (for "did you mean"); names are short. */
static int edit_distance(const char *a, const char *b)
{
  int       prev[64], cur[64];
  const int na = (int)strlen(a), nb = (int)strlen(b);
  if (na >= 63 || nb >= 63) return 99;
  for (int j = 0; j <= nb; j++) prev[j] = j;
  for (int i = 1; i <= na; i++) {
    cur[0] = i;
    for (int j = 1; j <= nb; j++) {
      const int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      cur[j]        = PetscMin(PetscMin(prev[j] + 1, cur[j - 1] + 1), sub);
    }
    for (int j = 0; j <= nb; j++) prev[j] = cur[j];
  }
  return prev[nb];
}

/* An option this command does not take is named before anything else is checked: with the
   commands that take it, or the closest name this command takes ("did you mean -opt_lr?"). */
static PetscErrorCode reject_unknown(PetscOptions opts, MPI_Comm comm, PofCommandId cmd)
{
  PetscInt n     = 0;
  char   **names = NULL, **values = NULL;
  char     msg[1024] = "";
  PetscFunctionBegin;
  PetscCall(PetscOptionsLeftGet(opts, &n, &names, &values));
  for (PetscInt i = 0; i < n && !msg[0]; i++) {
    const Option *o = find_key(names[i]);
    if (is_petsc_option(names[i]) || (o && (o->commands & cmd))) continue;
    if (o) { /* an option of other commands */
      char   who[256] = "";
      size_t used     = 0;
      for (int c = 0; c < POF_NCOMMANDS; c++)
        if (o->commands & (1 << c))
          used += (size_t)snprintf(who + used, sizeof(who) - used, "%s%s", used ? ", " : "",
                                   command_names[c]);
      snprintf(msg, sizeof(msg), "-%s is not an option of this command (it is one of: %s)",
               names[i], who);
    } else {
      const Option *best = NULL;
      int           bd   = 99;
      for (int k = 0; k < POF_NOPTIONS; k++) {
        const int d = (table[k].commands & cmd) ? edit_distance(names[i], table[k].name + 1) : 99;
        if (d < bd) bd = d, best = &table[k];
      }
      if (best && bd <= PetscMax(2, (int)strlen(names[i]) / 3))
        snprintf(msg, sizeof(msg), "unknown option -%s: did you mean %s? (see -help)", names[i],
                 best->name);
      else
        snprintf(msg, sizeof(msg), "unknown option -%s for this command (see -help)", names[i]);
    }
  }
  PetscCall(PetscOptionsLeftRestore(opts, &n, &names, &values));
  PetscCheck(!msg[0], comm, PETSC_ERR_ARG_WRONG, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_config_read(PetscOptions opts, MPI_Comm comm, PofCommandId cmd, PofConfig *cfg,
                               PetscBool *help_only)
{
  PetscBool help = PETSC_FALSE;
  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(opts, &help));
  if (!help && !(cmd & (POF_CMD_SWEEP | POF_CMD_CONFIG)))
    PetscCall(reject_unknown(opts, comm, cmd));
  PetscCall(parse(opts, comm, cmd, cfg));
  if (help_only) *help_only = help;
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  for (int i = 0; i < POF_NOPTIONS; i++)
    if (table[i].commands & cmd) PetscCall(check_value(comm, cfg, &table[i]));
  PetscCall(check_combination(comm, cfg));
  /* the other options of sweep and config belong to the command they run or print */
  if (!(cmd & (POF_CMD_SWEEP | POF_CMD_CONFIG))) PetscCall(reject_unused(opts, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_config_read_text(MPI_Comm comm, PofCommandId cmd, const char *base,
                                    const char *line, const char *run_dir, PetscBool check_only,
                                    PofConfig *cfg)
{
  PetscOptions   o    = NULL;
  PetscBool      help = PETSC_FALSE;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCall(PetscOptionsCreate(&o));
  ierr = base ? PetscOptionsInsertString(o, base) : PETSC_SUCCESS;
  if (!ierr && line) ierr = PetscOptionsInsertString(o, line);
  if (!ierr && run_dir)
    ierr = PetscOptionsSetValue(o, "-run_dir", run_dir); /* wins over base and line */
  if (!ierr && !check_only) ierr = pof_config_read(o, comm, cmd, cfg, &help);
  if (!ierr && check_only) ierr = reject_unknown(o, comm, cmd);
  if (!ierr && check_only) ierr = parse(o, comm, cmd, cfg);
  if (!ierr && check_only) ierr = reject_unused(o, comm);
  PetscCall(PetscOptionsDestroy(&o));
  if (ierr) PetscFunctionReturn(ierr);
  PetscCheck(!help, comm, PETSC_ERR_ARG_WRONG,
             "-help in the options of a run (give it on the command line alone)");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_config_other_options(PetscOptions opts, PofCommandId cmd, char **text)
{
  char        *all = NULL;
  PetscOptions o   = NULL;
  PetscFunctionBegin;
  PetscCall(PetscOptionsGetAll(opts, &all));
  PetscCall(PetscOptionsCreate(&o));
  PetscCall(PetscOptionsInsertString(o, all));
  for (int i = 0; i < POF_NOPTIONS; i++)
    if (table[i].commands & cmd) PetscCall(PetscOptionsClearValue(o, table[i].name));
  PetscCall(PetscOptionsGetAll(o, text));
  PetscCall(PetscOptionsDestroy(&o));
  PetscCall(PetscFree(all));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_options_set_help(void)
{
  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-help", NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ config.json */
static json_t *option_json(const PofConfig *cfg, const Option *o)
{
  const void *v = cvalue_of(cfg, o);
  switch (o->type) {
  case T_INT: return json_integer((json_int_t) * (const PetscInt *)v);
  case T_REAL: return json_real((double)*(const PetscReal *)v); /* NULL for NaN/Inf: an error */
  case T_BOOL: return json_boolean(*(const PetscBool *)v);
  case T_STRING:
  case T_CHOICE: return pof_json_string((const char *)v); /* a byte that is not UTF-8: U+FFFD */
  case T_ENUM: return json_string(o->values[*(const PetscEnum *)v]);
  case T_INTS: {
    json_t         *a = json_array();
    const PetscInt *x = (const PetscInt *)v, n = *(const PetscInt *)((const char *)cfg + o->count);
    for (PetscInt k = 0; a && k < n; k++)
      if (json_array_append_new(a, json_integer((json_int_t)x[k]))) return json_decref(a), NULL;
    return a;
  }
  case T_SHAPE: {
    const PetscInt *chw = (const PetscInt *)v;
    char            s[64];
    snprintf(s, sizeof s, "%" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT, chw[0], chw[1],
             chw[2]);
    return json_string(s);
  }
  }
  return NULL;
}

static PetscErrorCode config_object(const PofConfig *cfg, json_t **obj)
{
  json_t *o = json_object();
  PetscFunctionBegin;
  PetscCheck(o, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory building the options object");
  for (int i = 0; i < POF_NOPTIONS; i++) {
    if (!(table[i].commands & cfg->command)) continue;
    json_t *v = option_json(cfg, &table[i]);
    if (!v || json_object_set_new(o, table[i].name + 1, v)) {
      json_decref(o);
      SETERRQ(
          PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
          "option %s: its value cannot be written as JSON (not a finite number, or out of memory)",
          table[i].name);
    }
  }
  *obj = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

#define JSON_FLAGS POF_JSON_FLAGS

PetscErrorCode pof_config_json(const PofConfig *cfg, char **json)
{
  json_t *o;
  PetscFunctionBegin;
  PetscCall(config_object(cfg, &o));
  *json = json_dumps(o, JSON_FLAGS);
  json_decref(o);
  PetscCheck(*json, PETSC_COMM_SELF, PETSC_ERR_MEM, "out of memory writing the options as JSON");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_config_write_json(const PofConfig *cfg, FILE *f)
{
  char *json = NULL;
  PetscFunctionBegin;
  PetscCall(pof_config_json(cfg, &json));
  const int bad = fputs(json, f) < 0;
  free(json);
  PetscCheck(!bad, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write the options as JSON");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ comparing option sets */
/* Numbers as numbers, arrays element by element, the rest as JSON values. */
static int same_value(const json_t *a, const json_t *b)
{
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  if (json_is_array(a) && json_is_array(b)) {
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t k = 0; k < json_array_size(a); k++)
      if (!same_value(json_array_get(a, k), json_array_get(b, k))) return 0;
    return 1;
  }
  return json_equal(a, b);
}

/* A number in the fewest digits that read back as the same double; other values as JSON. */
static void value_text(const json_t *v, char *buf, size_t len)
{
  if (!v) {
    snprintf(buf, len, "(none)");
  } else if (json_is_integer(v)) {
    snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  } else if (json_is_real(v)) {
    const double x = json_real_value(v);
    for (int p = 15; p <= 17; p++)
      if (snprintf(buf, len, "%.*g", p, x) > 0 && strtod(buf, NULL) == x) break;
  } else if (json_is_array(v)) {
    size_t used = (size_t)snprintf(buf, len, "[");
    for (size_t k = 0; k < json_array_size(v) && used < len; k++) {
      char item[64];
      value_text(json_array_get(v, k), item, sizeof item);
      used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? "," : "", item);
    }
    if (used < len) snprintf(buf + used, len - used, "]");
  } else {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, len, "%s", s ? s : "?");
    free(s);
  }
}

static int ignored(const char *const *ignore, const char *key)
{
  for (; ignore && *ignore; ignore++)
    if (!strcmp(*ignore, key)) return 1;
  return 0;
}

int pof_config_json_diff(const char *old_json, const char *new_json, const char *const *ignore,
                         char *buf, size_t len)
{
  json_t *a    = json_loads(old_json, JSON_DECODE_ANY, NULL),
         *b    = json_loads(new_json, JSON_DECODE_ANY, NULL);
  int    count = 0, cut = 0;
  size_t used = 0;
  if (len) buf[0] = '\0';
  if (!json_is_object(a) || !json_is_object(b)) {
    json_decref(a);
    json_decref(b);
    return -1;
  }
  for (int pass = 0; pass < 2;
       pass++) { /* keys of the new set in its order, then keys only in the old */
    json_t     *x = pass ? a : b, *y = pass ? b : a, *val;
    const char *key;
    json_object_foreach(x, key, val)
    {
      const json_t *other = json_object_get(y, key), *was = pass ? val : other,
                   *now = pass ? NULL : val;
      const Option *o   = find_key(key);
      if (ignored(ignore, key) || (pass && other)) continue;
      if (was && now && same_value(was, now)) continue;
      if (was && now && o && o->resume == RS_RESOLVED && json_is_number(was) &&
          json_number_value(was) == 0)
        continue; /* 0 = resolved at run time */
      char w[256], n[256], item[600];
      value_text(was, w, sizeof w);
      value_text(now, n, sizeof n);
      snprintf(item, sizeof item, "%s%s %s -> %s", count ? ", " : "", key, w, n);
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
  json_decref(a);
  json_decref(b);
  return count;
}

const char *const *pof_config_resume_free_keys(void)
{
  static const char *keys[POF_NOPTIONS + 1];
  int                n = 0;
  for (int i = 0; i < POF_NOPTIONS; i++)
    if (table[i].resume == RS_FREE) keys[n++] = table[i].name + 1;
  keys[n] = NULL;
  return keys;
}

/* ------------------------------------------------------------------ docs/options.md */
static const char *const type_names[]   = { "int",  "real",   "bool",     "string",
                                            "enum", "string", "int list", "CxHxW" };
static const char *const resume_names[] = { "no", "yes", "resolved" };

/* text into a Markdown table cell: '|' escaped */
static void md_cell(FILE *f, const char *s)
{
  for (; *s; s++) {
    if (*s == '|') fputc('\\', f);
    fputc(*s, f);
  }
}

static void md_commands(FILE *f, unsigned mask)
{
  int first = 1;
  for (int c = 0; c < POF_NCOMMANDS; c++)
    if (mask & (1u << c)) fprintf(f, "%s%s", first ? "" : ", ", command_names[c]), first = 0;
}

/* the concern of an option: its name up to the first '_' (-precision belongs to run) */
static void concern(const Option *o, char *buf, size_t len)
{
  const char *u = strchr(o->name + 1, '_');
  if (!u)
    snprintf(buf, len, "run");
  else
    snprintf(buf, len, "%.*s", (int)(u - o->name - 1), o->name + 1);
}

PetscErrorCode pof_options_write_markdown(FILE *f)
{
  char section[32] = "";
  PetscFunctionBegin;
  fprintf(
      f,
      "# Options\n\n"
      "<!-- Generated from the option table include/pof/options.def by tests/unit/options_doc.c:\n"
      "     do not edit; regenerate with `build/tests/options_doc markdown > docs/options.md`.\n"
      "     The test options_table checks that this page, each command's -help and the keys of\n"
      "     config.json match the table. -->\n\n"
      "Options come from the command line, from `-options_file F` and from the `PETSC_OPTIONS`\n"
      "environment variable (PETSc's options database). Every option is validated with a message "
      "naming\n"
      "the option and the value; an option the command does not know is an error naming it, so a "
      "typo\n"
      "never silently falls back to a default. PETSc's own run-time options (`-log_view`,\n"
      "`-malloc_debug`, ...) are accepted everywhere. `pof <command> -help` lists the options of "
      "a\n"
      "command with their defaults and ranges; `pof config -config_command C [options]` prints "
      "the\n"
      "options of C, defaults filled in, as the JSON object a run writes to `config.json` (keys: "
      "the\n"
      "option names without the dash).\n\n"
      "`pof sweep` takes its `-sweep_*` options and passes every other option to the command of "
      "its\n"
      "lines (see [sweeps.md](sweeps.md)); `pof config` takes `-config_command` and the options "
      "of\n"
      "that command. Post-training's learning rate is, unless `-opt_lr` is given, the pretraining\n"
      "schedule (stored in the model file) read at the global epoch where post-training starts "
      "(see\n"
      "[algorithm.md](algorithm.md#learning-rate-and-schedule)). See also\n"
      "[bf16 and memory](design.md#bf16-and-memory), [Winograd](design.md#winograd-convolutions),\n"
      "[analysis.md](analysis.md#analysis-pof-analyze) and [Datasets](../README.md#datasets).\n\n"
      "The column *resume* says whether a resumed run may change the option without a warning\n"
      "(*resolved*: a checkpoint's 0 means the value resolved at run time, which the run "
      "records).\n\n"
      "## Which command takes how many options\n\n| command | options |\n|---|---|\n");
  for (int c = 0; c < POF_NCOMMANDS; c++) {
    int n = 0;
    for (int i = 0; i < POF_NOPTIONS; i++) n += (table[i].commands & (1u << c)) != 0;
    fprintf(f, "| `pof %s` | %d |\n", command_names[c], n);
  }
  for (int i = 0; i < POF_NOPTIONS; i++) {
    const Option *o = &table[i];
    char          c[32], words[128];
    concern(o, c, sizeof c);
    if (strcmp(c, section) != 0) {
      snprintf(section, sizeof section, "%s", c);
      fprintf(f,
              "\n## %s\n\n| option | type | default | range or values | commands | resume | "
              "meaning |\n|---|---|---|---|---|---|---|\n",
              section);
    }
    if (o->type == T_ENUM || o->type == T_CHOICE)
      choice_words(o, words, sizeof words);
    else
      range_words(o, words, sizeof words);
    fprintf(f, "| `%s` | %s | %s%s%s | ", o->name, type_names[o->type], o->def[0] ? "`" : "",
            o->def, o->def[0] ? "`" : "");
    md_cell(f, words);
    fprintf(f, " | ");
    md_commands(f, o->commands);
    fprintf(f, " | %s | ", resume_names[o->resume]);
    md_cell(f, o->help);
    fprintf(f, " |\n");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_options_write_names(FILE *f, PofCommandId cmd)
{
  PetscFunctionBegin;
  for (int i = 0; i < POF_NOPTIONS; i++)
    if (table[i].commands & cmd) fprintf(f, "%s\n", table[i].name);
  PetscFunctionReturn(PETSC_SUCCESS);
}
