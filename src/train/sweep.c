/* pof sweep: grid lines through rank groups. See include/pof/sweep.h. */
#include "pof/comm_exchange.h"
#include "pof/sweep.h"
#include "pof/progress.h"
#include "pof/ckpt.h"
#include "pof/rundir.h"
#include "pof/fsutil.h"
#include "pof/group.h"
#include "pof/image.h"
#include "pof/json.h"
#include "pof/signal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SWEEP_MSG_LEN 1024

static PofSweepStopFn stop_check = NULL;
void                  pof_sweep_set_stop_check(PofSweepStopFn fn) { stop_check = fn; }

/* ------------------------------------------------------------------ the grid */
typedef struct {
  PetscInt  n;
  char    **opts;      /* each run's option string (comment stripped, trimmed) */
  PetscInt *file_line; /* 1-based line of the grid file */
} Grid;

static PetscErrorCode grid_parse(const char *text, size_t len, Grid *g)
{
  PetscInt cap = 16, lineno = 0;
  size_t   pos = 0;
  PetscFunctionBegin;
  g->n = 0;
  PetscCall(PetscMalloc2(cap, &g->opts, cap, &g->file_line));
  while (pos < len) {
    size_t end = pos, a, b;
    while (end < len && text[end] != '\n') end++;
    lineno++;
    a = pos, b = end;
    for (size_t i = a; i < b; i++)
      if (text[i] == '#') {
        b = i;
        break;
      }
    while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
    if (b > a) {
      if (g->n == cap) {
        char    **o;
        PetscInt *l;
        PetscCall(PetscMalloc2(2 * cap, &o, 2 * cap, &l));
        PetscCall(PetscArraycpy(o, g->opts, g->n));
        PetscCall(PetscArraycpy(l, g->file_line, g->n));
        PetscCall(PetscFree2(g->opts, g->file_line));
        g->opts = o, g->file_line = l, cap *= 2;
      }
      PetscCall(PetscMalloc1(b - a + 1, &g->opts[g->n]));
      memcpy(g->opts[g->n], text + a, b - a);
      g->opts[g->n][b - a] = '\0';
      g->file_line[g->n++] = lineno;
    }
    pos = end + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode grid_free(Grid *g)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < g->n; i++) PetscCall(PetscFree(g->opts[i]));
  PetscCall(PetscFree2(g->opts, g->file_line));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ small helpers */
static int mkdir_p(const char *path)
{
  char tmp[POF_PATH_MAX];
  if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) return ENAMETOOLONG;
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return errno;
      *p = '/';
    }
  if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return errno;
  return 0;
}

static void csv_str(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s == '\n' ? ' ' : *s, f);
  }
  fputc('"', f);
}

typedef struct {
  PetscInt      line, file_line;
  const char   *opts;
  PetscBool     ok;
  PetscBool     storage; /* the line failed on a storage error (every rank of its group agreed) */
  PofRunSummary s;
  double        seconds;
  char          run_dir[POF_PATH_MAX + 16];
  char          msg[SWEEP_MSG_LEN];
} LineResult;

/* the JSON line and the CSV row of a result (no newline at the end of either) */
static PetscErrorCode result_format(const LineResult *r, char **json, char **csv)
{
  size_t n;
  FILE  *f;
  PetscFunctionBegin;
  json_t *o = json_object();
  pof_json_set(&o, "line", json_integer((json_int_t)r->line));
  pof_json_set(&o, "grid_line", json_integer((json_int_t)r->file_line));
  pof_json_set(&o, "status", json_string(r->ok ? "ok" : "failed"));
  pof_json_set(&o, "options", pof_json_string(r->opts));
  pof_json_set(&o, "run_dir", pof_json_string(r->run_dir));
  pof_json_set(&o, "test_error", r->ok ? pof_json_real_or_null(r->s.test_error) : json_null());
  pof_json_set(&o, "test_loss", r->ok ? pof_json_real_or_null(r->s.test_loss) : json_null());
  pof_json_set(&o, "train_loss", r->ok ? pof_json_real_or_null(r->s.train_loss) : json_null());
  pof_json_set(&o, "train_error", r->ok ? pof_json_real_or_null(r->s.train_error) : json_null());
  pof_json_set(&o, "epochs", r->ok ? json_integer((json_int_t)r->s.epochs_done) : json_null());
  pof_json_set(&o, "global_step", r->ok ? json_integer((json_int_t)r->s.global_step) : json_null());
  pof_json_set(&o, "seconds", pof_json_real_or_null(r->seconds));
  pof_json_set(&o, "message", pof_json_string(r->msg));
  *json = pof_json_line(o);
  json_decref(o);
  PetscCheck(*json, PETSC_COMM_SELF, PETSC_ERR_MEM,
             "cannot build the JSON result of line %" PetscInt_FMT " (out of memory)", r->line);
  f = open_memstream(csv, &n);
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_MEM, "open_memstream failed");
  fprintf(f, "%" PetscInt_FMT ",%" PetscInt_FMT ",%s,", r->line, r->file_line,
          r->ok ? "ok" : "failed");
  csv_str(f, r->opts);
  if (r->ok)
    fprintf(f, ",%.9g,%.9g,%.9g,%.9g,%" PetscInt_FMT ",%" PetscInt_FMT, r->s.test_error,
            r->s.test_loss, r->s.train_loss, r->s.train_error, r->s.epochs_done, r->s.global_step);
  else
    fprintf(f, ",,,,,,");
  fprintf(f, ",%.3f,", r->seconds);
  csv_str(f, r->run_dir);
  fputc(',', f);
  csv_str(f, r->msg);
  fclose(f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static const char csv_header[] = "line,grid_line,status,options,test_error,test_loss,train_loss,"
                                 "train_error,epochs,global_step,seconds,run_dir,message";

/* One line of text as the whole content of a file, for pof_fs_write_atomic. */
static int write_text_line(FILE *f, void *text)
{
  return fputs((const char *)text, f) < 0 || fputc('\n', f) == EOF ? (errno ? errno : EIO) : 0;
}

/* path := text + newline, atomically (fsutil.h). 0 or errno. */
static int write_atomic(const char *path, const char *text)
{
  char msg[2 * POF_PATH_MAX + 128];
  return pof_fs_write_atomic(path, write_text_line, (void *)text, msg, sizeof msg);
}

/* ------------------------------------------------------------------ one line */
typedef struct {
  char      msg[SWEEP_MSG_LEN];
  PetscBool have;
} ErrCapture;

/* Records the first message of a line's error and prints it like pof's handler (once per group). */
static PetscErrorCode capture_handler(MPI_Comm comm, int line, const char *func, const char *file,
                                      PetscErrorCode n, PetscErrorType p, const char *mess,
                                      void *ctx)
{
  ErrCapture *e = (ErrCapture *)ctx;
  (void)line, (void)func, (void)file;
  if (p != PETSC_ERROR_INITIAL) return n;
  const char *text = mess;
  if (!text || !*text) PetscErrorMessage(n, &text, NULL);
  if (!e->have) {
    snprintf(e->msg, sizeof(e->msg), "%s", text ? text : "unknown error");
    e->have = PETSC_TRUE;
  }
  int print = 1;
  if (comm != PETSC_COMM_SELF && comm != MPI_COMM_NULL) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    print = rank == 0;
  }
  if (print) {
    fprintf(stderr, "pof: error: %s\n", text ? text : "unknown error");
    fflush(stderr);
  }
  return n;
}

/* the command of a sweep's lines */
static PofCommandId run_command(PofRunKind kind)
{
  return kind == POF_RUN_PRETRAIN ? POF_CMD_PRETRAIN : POF_CMD_POSTTRAIN;
}

/* The base options (the command line) alone, parsed into *cfg: an unknown or malformed one would
   fail every line, so it stops the sweep before any line runs. Collective on world. */
static PetscErrorCode check_base(MPI_Comm world, PofRunKind kind, const char *base, PofConfig *cfg)
{
  PetscFunctionBegin;
  PetscCall(pof_config_read_text(world, run_command(kind), base, NULL, NULL, PETSC_TRUE, cfg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The run of one line on the group: options, trainer. Errors are returned. */
static PetscErrorCode line_body(MPI_Comm comm, PofRunKind kind, const char *base, const char *line,
                                const char *run_dir, PofRunSummary *s)
{
  PofConfig      cfg;
  PofTrainer     t = NULL;
  PetscErrorCode ierr;
  PetscFunctionBegin;
  /* tests: a failure on one rank alone (POF_TEST_FAULT=line@K:FAIL, include/pof/signal.h) */
  PetscCheck(!pof_fault_point("line"), PETSC_COMM_SELF, PETSC_ERR_LIB,
             "a failure on this rank alone, injected by POF_TEST_FAULT");
  /* one run directory per line, always */
  ierr = pof_config_read_text(comm, run_command(kind), base, line, run_dir, PETSC_FALSE, &cfg);
  /* a stop request (signal) finishes the step, checkpoints and ends this line (status
     POF_RUN_STOPPED); the sweep then takes no new line and the rerun resumes this one */
  if (!ierr) cfg.stop_requested = stop_check;
  if (!ierr) ierr = pof_trainer_create(comm, &cfg, kind, &t);
  if (!ierr) ierr = pof_trainer_run(t, s);
  if (t) PetscCall(pof_trainer_destroy(&t));
  if (!ierr && s->status == POF_RUN_STOPPED) PetscFunctionReturn(PETSC_SUCCESS);
  if (!ierr && (!isfinite(s->test_loss) ||
                (s->status != POF_RUN_ALREADY_FINISHED && !isfinite(s->train_loss)))) {
    char a[32], b[32];
    snprintf(a, sizeof(a), "%g", s->train_loss);
    snprintf(b, sizeof(b), "%g", s->test_loss);
    SETERRQ(comm, PETSC_ERR_FP, "diverged: non-finite loss (train %s, test %s)", a, b);
  }
  PetscFunctionReturn(ierr);
}

/* Run one line on the group; every rank of the group returns the same verdict in r. The verdict
   is agreed on g->agree without blocking a rank that failed: when the others do not come (they
   are inside a collective of the line, the failure is this rank's alone) it cannot be recovered
   in place (no ULFM): this rank prints its error with its rank and host and aborts the job
   (status 1; a rank that died instead is the launcher's status, mapped to 69 by the job scripts).
 */
/* Progress lines of a line's run are prefixed "sweep line n/N: " (progress.h); the phases a
   failed line left open are left. */
static int progress_line_begin(const LineResult *r, PetscInt n)
{
  char      ctx[64];
  const int depth = pof_progress_depth();
  snprintf(ctx, sizeof ctx, "sweep line %" PetscInt_FMT "/%" PetscInt_FMT ": ", r->line, n);
  pof_progress_set_context(ctx);
  pof_progress_begin(POF_PHASE_SWEEP, n);
  pof_progress_advance(r->line - 1);
  return depth;
}

static void progress_line_end(int depth)
{
  pof_progress_unwind(depth);
  pof_progress_set_context(NULL);
}

static PetscErrorCode run_line(const PofGroups *g, PofRunKind kind, const char *base,
                               PetscInt nlines, LineResult *r)
{
  ErrCapture     cap;
  PetscErrorCode ierr;
  double         t0 = pof_now();
  PetscBool      failed, reached;
  int            code = 0;
  PetscFunctionBegin;
  memset(&cap, 0, sizeof(cap));
  memset(&r->s, 0, sizeof(r->s));
  PetscCall(PetscPushErrorHandler(capture_handler, &cap));
  const int depth = progress_line_begin(r, nlines);
  ierr            = line_body(g->comm, kind, base, r->opts, r->run_dir, &r->s);
  progress_line_end(depth);
  PetscCall(PetscPopErrorHandler());
  /* agree on the verdict: the lowest group rank that failed sends its message and code */
  if (ierr && !cap.have) snprintf(cap.msg, sizeof(cap.msg), "error code %d", (int)ierr);
  PetscCall(pof_comm_agree_failure_bounded(g->agree, ierr ? PETSC_TRUE : PETSC_FALSE, (int)ierr,
                                           cap.msg, sizeof(cap.msg), &failed, &code, &reached));
  if (!reached) {
    char host[256] = "?";
    (void)gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    fprintf(stderr,
            "pof: error: [rank %d on %s] line %" PetscInt_FMT " failed on this rank alone (the "
            "other ranks of its group are still inside the run): %s; the sweep job is aborted, "
            "rerun it to resume the line from its checkpoint\n",
            (int)g->rank, host, r->line, cap.msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, POF_EXIT_ERROR);
  }
  r->ok      = failed ? PETSC_FALSE : PETSC_TRUE;
  r->storage = failed && code == (int)POF_ERR_STORAGE ? PETSC_TRUE : PETSC_FALSE;
  if (!r->ok)
    snprintf(r->msg, sizeof(r->msg), "%s", cap.msg);
  else
    r->msg[0] = '\0';
  r->seconds = pof_now() - t0;
  PetscCall(pof_comm_bcast_bytes(g->comm, &r->seconds, sizeof(r->seconds), 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------------------ the sweep */
static PetscErrorCode result_path(const char *run_dir, char *path, size_t len)
{
  PetscFunctionBegin;
  PetscCheck(snprintf(path, len, "%s/result.json", run_dir) < (int)len, PETSC_COMM_SELF,
             PETSC_ERR_ARG_SIZ, "path %s/result.json is too long", run_dir);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The JSON object on the first line of the result.json at path, or NULL when the file is missing
   or that line is not a JSON object (such a line counts as not run: it runs again and its
   result.json is rewritten). When second is not NULL it receives the second line, or NULL: a sweep
   directory of pof before 2026-12-03 kept the summary's CSV row there (free() it). Leader only. */
static json_t *result_read(const char *path, char **second)
{
  FILE   *f    = fopen(path, "r");
  char   *line = NULL;
  size_t  cap  = 0;
  ssize_t n;
  json_t *j = NULL;
  if (second) *second = NULL;
  if (!f) return NULL;
  if ((n = getline(&line, &cap, f)) > 0) j = pof_json_parse(line, (size_t)n);
  if (j && !json_is_object(j)) {
    json_decref(j);
    j = NULL;
  }
  if (j && second && getline(&line, &cap, f) > 0) {
    *second = line;
    line    = NULL;
  }
  free(line);
  fclose(f);
  return j;
}

/* result.json with status ok in run_dir? (leader only) */
static PetscBool finished_earlier(const char *run_dir)
{
  char path[POF_PATH_MAX + 32];
  if (snprintf(path, sizeof(path), "%s/result.json", run_dir) >= (int)sizeof(path))
    return PETSC_FALSE;
  json_t     *res    = result_read(path, NULL);
  const char *status = json_string_value(json_object_get(res, "status"));
  PetscBool   ok     = status && !strcmp(status, "ok") ? PETSC_TRUE : PETSC_FALSE;
  json_decref(res);
  return ok;
}

/* path of file `name` in the run directory of line `line` (1-based) of the sweep directory dir */
static void line_file(char *path, size_t len, const char *dir, PetscInt line, const char *name)
{
  snprintf(path, len, "%s/line-%03" PetscInt_FMT "/%s", dir, line, name);
}

/* What line `line` (1-based) of the sweep directory dir ran, as a new string (free()), or NULL when
   the line has no directory; "" when it has one without a record (a line that a pof before
   line.txt started and did not finish). The record is line.txt (written when the line starts),
   else the options of its result.json. Leader only. */
static char *line_recorded(const char *dir, PetscInt line)
{
  char        path[POF_PATH_MAX + 64], *text = NULL;
  size_t      cap = 0;
  struct stat st;
  FILE       *f;
  snprintf(path, sizeof(path), "%s/line-%03" PetscInt_FMT, dir, line);
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  line_file(path, sizeof(path), dir, line, "line.txt");
  if ((f = fopen(path, "r"))) {
    const ssize_t n = getline(&text, &cap, f);
    fclose(f);
    if (n > 0 && text[n - 1] == '\n') text[n - 1] = '\0';
    if (n > 0) return text;
  }
  free(text);
  line_file(path, sizeof(path), dir, line, "result.json");
  json_t     *res = result_read(path, NULL);
  const char *ran = json_string_value(json_object_get(res, "options"));
  text            = strdup(ran ? ran : "");
  json_decref(res);
  return text;
}

/* Do the line directories already in dir belong to this grid? A line that has a directory and
   ran other options than the grid's line of that number now (the grid was edited: a line changed,
   inserted or removed before it) would be skipped, or resumed, under the wrong options; lines may
   only be added at the end. 0, or EINVAL with the message naming the first such line (world rank
   0). */
static int grid_matches_results(const char *dir, const Grid *grid, char *msg, size_t len)
{
  for (PetscInt i = 0;; i++) {
    char *ran = line_recorded(dir, i + 1);
    if (!ran && i >= grid->n) return 0;
    const int same = !ran || !ran[0] || (i < grid->n && !strcmp(ran, grid->opts[i]));
    int       n    = 0;
    if (!same && i < grid->n)
      n = snprintf(msg, len,
                   "the grid changed since the sweep directory %s was written: line %" PetscInt_FMT
                   " (%s/line-%03" PetscInt_FMT ") ran '%s', the grid's line %" PetscInt_FMT
                   " now says '%s'; use a new -sweep_dir, or restore the grid (lines may only be "
                   "added at its end)",
                   dir, i + 1, dir, i + 1, ran, i + 1, grid->opts[i]);
    else if (!same)
      n = snprintf(msg, len,
                   "the grid changed since the sweep directory %s was written: line %" PetscInt_FMT
                   " (%s/line-%03" PetscInt_FMT ") ran '%s', but the grid now has %" PetscInt_FMT
                   " lines; use a new -sweep_dir, or restore the grid",
                   dir, i + 1, dir, i + 1, ran, grid->n);
    free(ran);
    if (same) continue;
    if (n >= (int)len && len > 4) memcpy(msg + len - 4, "...", 4); /* the start names it */
    return EINVAL;
  }
}

/* line.txt in a line's directory: the grid line it runs (leader; a failure only warns: the grid
   check then falls back on result.json). */
static void line_mark(const char *run_dir, const char *opts)
{
  char path[POF_PATH_MAX + 32];
  int  e = mkdir_p(run_dir);
  if (!e)
    e = snprintf(path, sizeof(path), "%s/line.txt", run_dir) < (int)sizeof(path)
            ? write_atomic(path, opts)
            : ENAMETOOLONG;
  if (e) fprintf(stderr, "pof: warning: cannot write %s/line.txt: %s\n", run_dir, strerror(e));
}

/* Resident memory of this process in MB (/proc/self/statm), 0 if unknown. */
static double rss_mb(void)
{
  char  line[256];
  long  resident = 0;
  FILE *f        = fopen("/proc/self/statm", "r");
  if (f) { /* "size resident shared ..." in pages */
    if (fgets(line, sizeof(line), f)) {
      char *end = NULL, *rend = NULL;
      errno = 0;
      (void)strtol(line, &end, 10);
      resident = strtol(end, &rend, 10);
      if (end == line || rend == end || errno != 0 || resident < 0) resident = 0;
    }
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

static PetscErrorCode share_file(MPI_Comm world, const char *path, void **img)
{
  size_t len;
  PetscFunctionBegin;
  PetscCall(pof_bcast_file(world, 0, path, img, &len));
  PetscCall(pof_file_image_register(path, *img, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A group leader records a line that ran: its result.csv, then result.json (which marks it done),
   one appended row of the summary, and two lines on stdout. Local (the leader). */
static PetscErrorCode record_line(LineResult *r, const char *rpath, const char *summary)
{
  PetscFunctionBegin;
  char *json = NULL, *csv = NULL, cpath[POF_PATH_MAX + 32];
  int   e = mkdir_p(r->run_dir);
  PetscCall(result_format(r, &json, &csv));
  /* result.csv (the summary's row) first: a result.json, which marks the line done, always has it
   */
  if (!e)
    e = snprintf(cpath, sizeof(cpath), "%s/result.csv", r->run_dir) < (int)sizeof(cpath)
            ? write_atomic(cpath, csv)
            : ENAMETOOLONG;
  if (!e) e = write_atomic(rpath, json);
  if (e)
    fprintf(stderr, "pof: warning: cannot write %s: %s\n", rpath, strerror(e));
  else {
    char jpath[POF_PATH_MAX + 16];
    snprintf(jpath, sizeof(jpath), "%s.jsonl", summary);
    int fd = open(jpath, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) { /* one write per line: appends of several leaders do not interleave */
      size_t n   = strlen(json);
      json[n]    = '\n';
      ssize_t wr = write(fd, json, n + 1);
      json[n]    = '\0';
      if (wr != (ssize_t)(n + 1)) fprintf(stderr, "pof: warning: cannot append to %s\n", jpath);
      close(fd);
    }
  }
  printf("sweep: line %" PetscInt_FMT " %s after %.1f s%s%s (leader's memory %.0f MB)\n", r->line,
         r->ok ? "finished" : "FAILED", r->seconds, r->ok ? "" : ": ", r->msg, rss_mb());
  if (r->ok)
    printf("sweep: line %" PetscInt_FMT ": test error %.2f%%, test loss %.4f\n", r->line,
           r->s.test_error, r->s.test_loss);
  fflush(stdout);
  free(json);
  free(csv);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Text as the whole content of a file, for pof_fs_write_atomic. */
static int write_text(FILE *f, void *text)
{
  return fputs((const char *)text, f) < 0 ? (errno ? errno : EIO) : 0;
}

/* Rank 0 merges every line's result, in line order, into <summary>.jsonl and .csv (each through
   pof_fs_write_atomic); lines without a result are counted in *not_run. Returns errno (msg says
   what failed). */
static int merge_summary(const char *dir, const Grid *grid, const char *summary, PetscInt *not_run,
                         char *msg, size_t len)
{
  int    err = 0;
  char  *js = NULL, *cs = NULL, path[POF_PATH_MAX + 16];
  size_t jn = 0, cn = 0;
  FILE  *fj = open_memstream(&js, &jn), *fc = open_memstream(&cs, &cn);
  if (!fj || !fc) err = ENOMEM;
  if (!err) fprintf(fc, "%s\n", csv_header);
  for (PetscInt i = 0; !err && i < grid->n; i++) {
    char    rd[POF_PATH_MAX + 64], *row = NULL, *csv = NULL;
    size_t  cap = 0;
    json_t *res;
    FILE   *fr;
    line_file(rd, sizeof(rd), dir, i + 1, "result.json");
    res = result_read(rd, &csv); /* csv: the row in result.json of a sweep before 2026-12-03 */
    line_file(rd, sizeof(rd), dir, i + 1, "result.csv");
    if (res && (fr = fopen(rd, "r"))) {
      free(csv);
      csv = NULL;
      if (getline(&csv, &cap, fr) <= 0) {
        free(csv);
        csv = NULL;
      }
      fclose(fr);
    }
    row = pof_json_line(res);
    if (row && csv) {
      if (fprintf(fj, "%s\n", row) < 0 || fputs(csv, fc) < 0) err = ENOMEM;
    } else
      (*not_run)++;
    free(row);
    free(csv);
    json_decref(res);
  }
  if (fj && fclose(fj) != 0 && !err) err = ENOMEM;
  if (fc && fclose(fc) != 0 && !err) err = ENOMEM;
  if (err) snprintf(msg, len, "cannot build the sweep summary %s (out of memory)", summary);
  snprintf(path, sizeof(path), "%s.jsonl", summary);
  if (!err) err = pof_fs_write_atomic(path, write_text, js, msg, len);
  snprintf(path, sizeof(path), "%s.csv", summary);
  if (!err) err = pof_fs_write_atomic(path, write_text, cs, msg, len);
  free(js);
  free(cs);
  return err;
}

/* Before any line runs: the base options checked, the grid read (rank 0, broadcast) and parsed,
   the sweep directory made and locked, the grid checked against its lines' results, the summary
   path. Collective on world. */
static PetscErrorCode sweep_prepare(MPI_Comm world, const PofSweepConfig *sc, const char *base,
                                    PofConfig *basecfg, Grid *grid, int *lock, char *summary,
                                    size_t len)
{
  void       *text = NULL;
  size_t      text_len;
  PetscMPIInt wrank;
  int64_t     err = 0;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(world, &wrank));
  PetscCheck(sc->grid[0], world, PETSC_ERR_ARG_WRONG,
             "pof sweep needs -sweep_grid FILE (one run's options per line)");
  PetscCheck(sc->dir[0], world, PETSC_ERR_ARG_WRONG,
             "pof sweep needs -sweep_dir DIR (one run directory per line goes there)");
  PetscCall(check_base(world, sc->kind, base, basecfg));
  PetscCall(pof_bcast_file(world, 0, sc->grid, &text, &text_len));
  PetscCall(grid_parse((const char *)text, text_len, grid));
  PetscCall(PetscFree(text));
  PetscCheck(grid->n > 0, world, PETSC_ERR_ARG_WRONG,
             "grid file '%s' holds no run (only comments and blank lines)", sc->grid);
  PetscCheck(grid->n <= 99999, world, PETSC_ERR_ARG_OUTOFRANGE,
             "grid file '%s' holds %" PetscInt_FMT " runs, at most 99999", sc->grid, grid->n);
  {
    char msg[POF_PATH_MAX + 128] = "";
    if (wrank == 0 && (err = mkdir_p(sc->dir)))
      snprintf(msg, sizeof(msg), "cannot create the sweep directory '%s': %s", sc->dir,
               strerror((int)err));
    PetscCall(pof_comm_rank0_verdict(world, err ? PETSC_ERR_FILE_WRITE : 0, msg, sizeof(msg)));
  }
  PetscCall(pof_rundir_lock(world, sc->dir, lock)); /* one sweep per sweep directory */
  {
    char msg[1024] = "";
    if (wrank == 0) err = grid_matches_results(sc->dir, grid, msg, sizeof(msg));
    PetscCall(pof_comm_rank0_verdict(world, err ? PETSC_ERR_ARG_WRONG : 0, msg, sizeof(msg)));
  }
  if (sc->summary[0])
    PetscCall(PetscStrncpy(summary, sc->summary, len));
  else
    PetscCheck(snprintf(summary, len, "%s/summary", sc->dir) < (int)len, world, PETSC_ERR_ARG_SIZ,
               "-sweep_dir is too long");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* After every group is done: the totals over the groups (each line counted by its leader), and
   rank 0 merges the per-line results in line order into the summary. Collective on world. */
static PetscErrorCode sweep_totals(MPI_Comm world, const PofGroups *g, const PofSweepConfig *sc,
                                   const Grid *grid, const char *summary, PetscInt counts[4],
                                   PofSweepTotals *tot)
{
  PetscMPIInt wrank;
  int64_t     err = 0;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(world, &wrank));
  PetscCall(pof_comm_barrier(world));
  if (g->rank != 0) counts[0] = counts[1] = counts[2] = 0; /* count each line once (its leader) */
  {
    int64_t c64[3] = { counts[0], counts[1], counts[2] };
    PetscCall(pof_comm_allreduce_i64(world, c64, 3, POF_COMM_SUM));
    tot->lines = grid->n, tot->ok = (PetscInt)c64[0], tot->failed = (PetscInt)c64[1],
    tot->skipped = (PetscInt)c64[2];
  }
  PetscCall(pof_comm_any(world, tot->stopped, &tot->stopped));
  char msg[2 * POF_PATH_MAX + 128] = "";
  if (wrank == 0 &&
      (err = merge_summary(sc->dir, grid, summary, &tot->not_run, msg, sizeof(msg)))) {
    char why[sizeof(msg)];
    memcpy(why, msg, sizeof(why));
    snprintf(msg, sizeof(msg), "cannot write the sweep summary: %.*s", (int)sizeof(msg) - 40, why);
  }
  PetscCall(pof_comm_rank0_verdict(world, err ? pof_error_of_write_errno((int)err) : 0, msg,
                                   sizeof(msg)));
  PetscCall(pof_comm_bcast_bytes(world, &tot->not_run, sizeof(tot->not_run), 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_sweep_run(MPI_Comm world, const PofSweepConfig *sc, const char *base,
                             PofSweepTotals *tot)
{
  PofGroups  g;
  PofConfig  basecfg; /* the base options alone */
  PofCounter ctr = NULL;
  Grid       grid;
  void      *data_img = NULL, *model_img = NULL;
  char       data_file[POF_PATH_MAX], model_in[POF_PATH_MAX], summary[POF_PATH_MAX];
  int        lock      = -1;
  PetscInt   counts[4] = { 0, 0, 0, 0 }; /* ok, failed, skipped, run by this group leader */
  char       storage_msg[SWEEP_MSG_LEN] = "";
  PetscFunctionBegin;
  memset(tot, 0, sizeof(*tot));
  PetscCall(sweep_prepare(world, sc, base, &basecfg, &grid, &lock, summary, sizeof(summary)));
  PetscCall(pof_group_split(world, sc->group_size, &g));

  /* the dataset and the starting model: read once, shared as file images */
  PetscCall(PetscStrncpy(data_file, basecfg.data.file, sizeof(data_file)));
  PetscCall(PetscStrncpy(model_in, basecfg.model.in, sizeof(model_in)));
  if (data_file[0]) PetscCall(share_file(world, data_file, &data_img));
  if (model_in[0]) PetscCall(share_file(world, model_in, &model_img));
  PetscCall(pof_print(
      world,
      "sweep: %" PetscInt_FMT
      " runs of %s from %s, %d group(s) of %d rank(s), run directories %s/line-NNN%s%s%s%s\n",
      grid.n, sc->kind == POF_RUN_PRETRAIN ? "pretrain" : "posttrain", sc->grid, (int)g.ngroups,
      (int)g.size, sc->dir, data_file[0] ? ", data " : "", data_file, model_in[0] ? ", model " : "",
      model_in));

  PetscCall(pof_counter_create(world, &ctr));
  for (;;) {
    int64_t    item;
    LineResult r;
    PetscBool  stop = PETSC_FALSE, skip = PETSC_FALSE;
    char       rpath[POF_PATH_MAX + 32];
    /* a stop request (signal branch) is honoured between lines: the group takes no new line */
    if (g.rank == 0 && stop_check && stop_check()) stop = PETSC_TRUE;
    PetscCall(pof_comm_bcast_bytes(g.comm, &stop, sizeof(stop), 0));
    if (stop) {
      tot->stopped = PETSC_TRUE;
      break;
    }
    PetscCall(pof_group_next_item(&g, ctr, &item));
    if (item >= grid.n) break;
    memset(&r, 0, sizeof(r));
    r.line      = (PetscInt)item + 1;
    r.file_line = grid.file_line[item];
    r.opts      = grid.opts[item];
    PetscCheck(snprintf(r.run_dir, sizeof(r.run_dir), "%s/line-%03" PetscInt_FMT, sc->dir, r.line) <
                   (int)sizeof(r.run_dir),
               g.comm, PETSC_ERR_ARG_SIZ, "-sweep_dir is too long");
    PetscCall(result_path(r.run_dir, rpath, sizeof(rpath)));
    if (g.rank == 0) skip = finished_earlier(r.run_dir);
    PetscCall(pof_comm_bcast_bytes(g.comm, &skip, sizeof(skip), 0));
    if (skip) {
      PetscCall(pof_print(g.comm,
                          "sweep: line %" PetscInt_FMT " (%s): finished earlier (%s), skipped\n",
                          r.line, r.opts, rpath));
      counts[2]++;
      continue;
    }
    PetscCall(pof_print(g.comm, "sweep: line %" PetscInt_FMT " on group %d: %s\n", r.line,
                        (int)g.group, r.opts));
    if (g.rank == 0) line_mark(r.run_dir, r.opts); /* line.txt: the grid check of later reruns */
    PetscCall(run_line(&g, sc->kind, base, grid.n, &r));
    if (r.ok && r.s.status ==
                    POF_RUN_STOPPED) { /* checkpointed, not finished: no result, rerun resumes it */
      PetscCall(pof_print(g.comm,
                          "sweep: line %" PetscInt_FMT
                          " stopped on request after a checkpoint; rerun the sweep to resume it\n",
                          r.line));
      tot->stopped = PETSC_TRUE;
      break;
    }
    if (r.storage) { /* disk full (or failing): no result, no new line; the sweep ends with 74
                        after the totals, and a rerun with room resumes this line */
      tot->storage = PETSC_TRUE;
      snprintf(storage_msg, sizeof(storage_msg), "line %" PetscInt_FMT ": %.900s", r.line, r.msg);
      break;
    }
    counts[r.ok ? 0 : 1]++;
    if (g.rank == 0) PetscCall(record_line(&r, rpath, summary));
  }
  /* every group is done: merge the per-line results in line order */
  PetscCall(pof_counter_destroy(&ctr));
  PetscCall(sweep_totals(world, &g, sc, &grid, summary, counts, tot));
  PetscCall(pof_comm_agree_failure(world, tot->storage, storage_msg, sizeof(storage_msg),
                                   &tot->storage)); /* in any group: every rank ends with 74 */
  if (data_file[0]) PetscCall(pof_file_image_unregister(data_file));
  if (model_in[0]) PetscCall(pof_file_image_unregister(model_in));
  PetscCall(PetscFree(data_img));
  PetscCall(PetscFree(model_img));
  PetscCall(pof_group_destroy(&g));
  PetscCall(grid_free(&grid));
  pof_rundir_unlock(&lock);
  PetscCheck(
      !tot->storage, world, POF_ERR_STORAGE,
      "the sweep stopped on a storage failure: %s (rerun the sweep with room: the line resumes "
      "from its newest checkpoint)",
      storage_msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}
