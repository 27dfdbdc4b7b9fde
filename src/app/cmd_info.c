/* pof info PATH...: what a pof file or directory is (docs/file-formats.md, "pof info"). Every
   rank looks (all local reads); rank 0 prints, for each path, a few lines of text and one JSON
   line. A path that is not pof's is an error (exit 1) naming it. */
#include "commands.h"
#include "pof/ckpt.h"
#include "pof/data.h"
#include "pof/info.h"
#include "pof/json.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int    pof_app_argc = 0;
char **pof_app_argv = NULL;
int    pof_app_help = 0;

/* rank-0 text output */
static PetscErrorCode say(MPI_Comm comm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static PetscErrorCode say(MPI_Comm comm, const char *fmt, ...)
{
  PetscMPIInt rank;
  va_list     ap;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int is_file(const char *path, const char *name)
{
  char        p[POF_PATH_MAX + 300];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", path, name);
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The options of a checkpoint's options_json that differ from their defaults, as an object. */
static json_t *options_changed(const char *options_json)
{
  PofConfig cfg;
  char     *djson = NULL;
  json_t   *o = json_object(), *have = pof_json_parse(options_json, strlen(options_json)), *def;
  pof_config_defaults(&cfg);
  cfg.command = (PofCommandId)POF_CMDS_TRAIN; /* every option a checkpoint's writer records */
  if (pof_config_json(&cfg, &djson)) djson = NULL;
  def = djson ? pof_json_parse(djson, strlen(djson)) : NULL;
  free(djson);
  const char *k;
  json_t     *v;
  json_object_foreach(have, k, v)
  {
    json_t *d = json_object_get(def, k);
    if (!d || !json_equal(d, v)) pof_json_set(&o, k, json_incref(v));
  }
  json_decref(have);
  json_decref(def);
  return o;
}

static PetscErrorCode print_options(MPI_Comm comm, json_t *opts)
{
  const char *k;
  json_t     *v;
  int         n = 0;
  PetscFunctionBegin;
  PetscCall(say(comm, "  options other than the defaults:"));
  json_object_foreach(opts, k, v)
  {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    PetscCall(say(comm, "%s %s %s", n++ ? "," : "", k, s ? s : "?"));
    free(s);
  }
  PetscCall(say(comm, "%s\n", n ? "" : " none"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A checkpoint or model file: its metadata, options and checksum verdict. */
static PetscErrorCode info_checkpoint(MPI_Comm comm, const char *path, PetscBool is_ckpt,
                                      json_t **out)
{
  PofCkptMeta *m;
  PetscBool    have, tensors;
  char         reason[1024];
  PetscFunctionBegin;
  PetscCall(PetscNew(&m));
  const PetscBool ok = pof_ckpt_inspect_local(path, m, &have, reason, sizeof reason);
  if (!have) PetscCall(PetscFree(m));
  PetscCheck(have, comm, PETSC_ERR_FILE_UNEXPECTED, "%s is not a readable pof checkpoint: %s", path,
             reason);
  PetscCall(pof_file_has_group(path, "tensors", &tensors));
  json_t *o = json_object(), *opts = options_changed(m->options_json);
  pof_json_set(&o, "kind", json_string(is_ckpt ? "checkpoint" : "model"));
  pof_json_set(&o, "path", pof_json_string(path));
  pof_json_set(&o, "checksums_ok", json_boolean(ok));
  if (!ok) pof_json_set(&o, "checksum_error", pof_json_string(reason));
  char arch[64];
  PetscCall(
      PetscSNPrintf(arch, sizeof arch, "WRN-%" PetscInt_FMT "-%" PetscInt_FMT, m->depth, m->width));
  pof_json_set(&o, "architecture", json_string(arch));
  pof_json_set(&o, "depth", json_integer(m->depth));
  pof_json_set(&o, "width", json_integer(m->width));
  pof_json_set(&o, "base", json_integer(m->base));
  pof_json_set(&o, "input",
               json_pack("[I,I,I]", (json_int_t)m->in_c, (json_int_t)m->in_h, (json_int_t)m->in_w));
  pof_json_set(&o, "classes", json_integer(m->classes));
  pof_json_set(&o, "dataset", pof_json_string(m->dataset));
  pof_json_set(&o, "n_params", json_integer(m->n_params));
  pof_json_set(&o, "run_kind", pof_json_string(m->kind));
  pof_json_set(&o, "epochs_done", json_integer(m->epochs_done));
  pof_json_set(&o, "step_in_epoch", json_integer(m->step_in_epoch));
  pof_json_set(&o, "global_step", json_integer(m->global_step));
  pof_json_set(&o, "ranks", json_integer(m->ranks));
  pof_json_set(&o, "have_momentum", json_boolean(m->have_momentum));
  pof_json_set(&o, "have_theta0", json_boolean(m->have_theta0));
  pof_json_set(&o, "tensors", json_boolean(tensors));
  json_t *sch = json_object();
  pof_json_set(&sch, "kind",
               json_string(m->schedule >= 0 && m->schedule <= 2 ? PofScheduleKinds[m->schedule]
                                                                : "unknown"));
  pof_json_set(&sch, "lr_base", pof_json_real_or_null(m->lr_base));
  pof_json_set(&sch, "factor", pof_json_real_or_null(m->lr_factor));
  json_t *ms = json_array();
  for (PetscInt i = 0; i < m->nmilestones && i < POF_MAX_MILESTONES; i++)
    json_array_append_new(ms, json_integer(m->milestones[i]));
  pof_json_set(&sch, "milestones", ms);
  pof_json_set(&sch, "warmup_epochs", json_integer(m->warmup_epochs));
  pof_json_set(&sch, "epochs", json_integer(m->schedule_epochs));
  if (m->post_lr > 0) pof_json_set(&sch, "post_lr", pof_json_real_or_null(m->post_lr));
  pof_json_set(&o, "schedule", sch);
  pof_json_set(&o, "options", opts);

  PetscCall(say(
      comm,
      "%s: %s of pof %s, %s (base %" PetscInt_FMT ", %" PetscInt_FMT " parameters), %" PetscInt_FMT
      "x%" PetscInt_FMT "x%" PetscInt_FMT " input, %" PetscInt_FMT " classes%s%s\n",
      path, is_ckpt ? "checkpoint" : "model", m->kind, arch, m->base, m->n_params, m->in_c, m->in_h,
      m->in_w, m->classes, m->dataset[0] ? ", dataset " : "", m->dataset));
  PetscCall(say(comm,
                "  epochs done %" PetscInt_FMT ", step %" PetscInt_FMT " of the next epoch, global "
                "step %" PetscInt_FMT "; written at %" PetscInt_FMT " rank(s)%s%s\n",
                m->epochs_done, m->step_in_epoch, m->global_step, m->ranks,
                m->have_momentum ? ", with optimizer state" : "",
                m->have_theta0 ? ", with PoF's theta0" : ""));
  PetscCall(say(comm,
                "  schedule: %s from lr %g (factor %g, %" PetscInt_FMT " milestones, "
                "warm-up %" PetscInt_FMT ", %" PetscInt_FMT " epochs)%s\n",
                json_string_value(json_object_get(sch, "kind")), m->lr_base, m->lr_factor,
                m->nmilestones, m->warmup_epochs, m->schedule_epochs,
                m->post_lr > 0 ? "; post-training at a fixed rate" : ""));
  PetscCall(print_options(comm, opts));
  PetscCall(say(comm, "  /tensors (PyTorch state_dict names): %s\n", tensors ? "yes" : "no"));
  PetscCall(say(comm, "  checksums: %s%s\n", ok ? "ok" : "FAILED: ", ok ? "" : reason));
  PetscCall(PetscFree(m));
  *out = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode info_dataset(MPI_Comm comm, const char *path, json_t **out)
{
  PofConfig      cfg;
  PofDataset     ds = NULL;
  PofDatasetInfo in;
  PetscFunctionBegin;
  pof_config_defaults(&cfg);
  PetscCall(pof_dataset_open(comm, path, &cfg.data, 1, &ds));
  PetscCall(pof_dataset_get_info(ds, &in));
  PetscCall(pof_dataset_destroy(&ds));
  json_t *o = json_object();
  pof_json_set(&o, "kind", json_string("dataset"));
  pof_json_set(&o, "path", pof_json_string(path));
  pof_json_set(&o, "checksums_ok", json_null()); /* dataset files carry no checksums */
  pof_json_set(&o, "name", pof_json_string(in.name));
  pof_json_set(&o, "shape",
               json_pack("[I,I,I]", (json_int_t)in.c, (json_int_t)in.h, (json_int_t)in.w));
  pof_json_set(&o, "classes", json_integer(in.classes));
  pof_json_set(&o, "n_train", json_integer(in.n_train));
  pof_json_set(&o, "n_test", json_integer(in.n_test));
  pof_json_set(&o, "mean", pof_json_reals(in.mean, (size_t)in.c));
  pof_json_set(&o, "std", pof_json_reals(in.std, (size_t)in.c));
  PetscCall(say(comm,
                "%s: dataset %s, %" PetscInt_FMT " training and %" PetscInt_FMT
                " test images of %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT
                ", %" PetscInt_FMT " classes\n  read and checked as a run reads it (labels in "
                "range); dataset files carry no checksums\n",
                path, in.name[0] ? in.name : "(unnamed)", in.n_train, in.n_test, in.c, in.h, in.w,
                in.classes));
  *out = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The newest "ckpt-<10 digits>.h5" of dir into name ("" if none). */
static void newest_ckpt(const char *dir, char *name, size_t len)
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  name[0] = 0;
  if (!d) return;
  while ((e = readdir(d))) {
    const size_t n = strlen(e->d_name);
    if (n == 18 && !strncmp(e->d_name, "ckpt-", 5) && !strcmp(e->d_name + 15, ".h5") &&
        strspn(e->d_name + 5, "0123456789") == 10 && strcmp(e->d_name, name) > 0)
      snprintf(name, len, "%s", e->d_name);
  }
  closedir(d);
}

/* The last line of a JSON-lines file and the number of lines (0, NULL if none). */
static json_t *last_row(const char *path, int *rows)
{
  FILE   *f    = fopen(path, "r");
  char   *line = NULL, *last = NULL;
  size_t  cap = 0;
  json_t *o   = NULL;
  *rows       = 0;
  if (!f) return NULL;
  while (getline(&line, &cap, f) > 0) {
    (*rows)++;
    free(last);
    last = strdup(line);
  }
  fclose(f);
  free(line);
  if (last) o = pof_json_parse(last, strlen(last));
  free(last);
  return o;
}

/* The string v holds, or dflt if v is no string (a progress.json written by someone else). */
static const char *str_or(const json_t *v, const char *dflt)
{
  return json_is_string(v) ? json_string_value(v) : dflt;
}

static PetscErrorCode info_run(MPI_Comm comm, const char *dir, json_t **out)
{
  char    name[64], p[POF_PATH_MAX + 80];
  int     rows = 0;
  json_t *ck   = NULL, *o;
  PetscFunctionBegin;
  newest_ckpt(dir, name, sizeof name);
  const int   finished = is_file(dir, "model.h5");
  const char *status   = finished ? "finished" : name[0] ? "incomplete" : "not started";
  PetscCall(say(comm, "%s: run directory, %s\n", dir, status));
  if (name[0]) { /* before o exists: an unreadable checkpoint returns here */
    PetscCall(PetscSNPrintf(p, sizeof p, "%s/%s", dir, name));
    PetscCall(say(comm, "  newest checkpoint:\n"));
    PetscCall(info_checkpoint(comm, p, PETSC_TRUE, &ck));
  }
  o = json_object();
  pof_json_set(&o, "kind", json_string("run"));
  pof_json_set(&o, "path", pof_json_string(dir));
  pof_json_set(&o, "run_status", json_string(status));
  pof_json_set(&o, "checksums_ok",
               ck ? json_incref(json_object_get(ck, "checksums_ok")) : json_null());
  pof_json_set(&o, "newest_checkpoint", ck ? ck : json_null());
  PetscCall(PetscSNPrintf(p, sizeof p, "%s/metrics.jsonl", dir));
  json_t *row = last_row(p, &rows);
  pof_json_set(&o, "metrics_rows", json_integer(rows));
  pof_json_set(&o, "last_metrics", row ? row : json_null());
  if (row)
    PetscCall(say(comm, "  metrics.jsonl: %d epoch row(s), the last: epoch %d, test error %.2f%%\n",
                  rows, (int)json_integer_value(json_object_get(row, "epoch")),
                  json_number_value(json_object_get(row, "test_error"))));
  PetscCall(PetscSNPrintf(p, sizeof p, "%s/progress.json", dir));
  json_t *pr = last_row(p, &rows);
  pof_json_set(&o, "progress", pr ? pr : json_null());
  if (pr)
    PetscCall(say(comm, "  progress.json: %s, epoch %d/%d, step %d/%d\n",
                  str_or(json_object_get(pr, "phase"), "?"),
                  (int)json_integer_value(json_object_get(pr, "epoch")),
                  (int)json_integer_value(json_object_get(pr, "epochs")),
                  (int)json_integer_value(json_object_get(pr, "step")),
                  (int)json_integer_value(json_object_get(pr, "steps"))));
  *out = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode info_sweep(MPI_Comm comm, const char *dir, json_t **out)
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  int            lines = 0, ok = 0, failed = 0, rows = 0;
  char           p[POF_PATH_MAX + 300];
  PetscFunctionBegin;
  PetscCheck(d, comm, PETSC_ERR_FILE_OPEN, "cannot list %s: %s", dir, strerror(errno));
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "line-", 5) != 0 || strspn(e->d_name + 5, "0123456789") < 3) continue;
    lines++;
    snprintf(p, sizeof p, "%s/%s/result.json", dir, e->d_name);
    json_t     *r = last_row(p, &rows);
    const char *s = json_string_value(json_object_get(r, "status"));
    if (s && !strcmp(s, "ok")) ok++;
    if (s && !strcmp(s, "failed")) failed++;
    json_decref(r);
  }
  closedir(d);
  snprintf(p, sizeof p, "%s/summary.jsonl", dir);
  json_decref(last_row(p, &rows));
  json_t *o = json_object();
  pof_json_set(&o, "kind", json_string("sweep"));
  pof_json_set(&o, "path", pof_json_string(dir));
  pof_json_set(&o, "checksums_ok", json_null()); /* see each line with pof info DIR/line-NNN */
  pof_json_set(&o, "lines", json_integer(lines));
  pof_json_set(&o, "lines_ok", json_integer(ok));
  pof_json_set(&o, "lines_failed", json_integer(failed));
  pof_json_set(&o, "lines_pending", json_integer(lines - ok - failed));
  pof_json_set(&o, "summary_rows", json_integer(rows));
  PetscCall(say(comm,
                "%s: sweep directory, %d line(s): %d ok, %d failed, %d not finished; "
                "summary.jsonl %d row(s)\n  (checksums: see each line with pof info %s/line-NNN)\n",
                dir, lines, ok, failed, lines - ok - failed, rows, dir));
  *out = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode info_path(MPI_Comm comm, const char *path, json_t **out)
{
  struct stat st;
  PofFileKind kind;
  char        why[256];
  PetscFunctionBegin;
  *out = NULL;
  PetscCheck(stat(path, &st) == 0, comm, PETSC_ERR_FILE_OPEN, "cannot read %s: %s", path,
             strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    char sub[POF_PATH_MAX + 32];
    PetscCall(PetscSNPrintf(sub, sizeof sub, "%s/line-001", path));
    if (is_file(path, "summary.jsonl") || access(sub, F_OK) == 0)
      PetscCall(info_sweep(comm, path, out));
    else {
      char name[64];
      newest_ckpt(path, name, sizeof name);
      PetscCheck(is_file(path, "config.json") || name[0], comm, PETSC_ERR_ARG_WRONG,
                 "%s is not a pof run or sweep directory (no config.json, checkpoint, "
                 "summary.jsonl or line-001)",
                 path);
      PetscCall(info_run(comm, path, out));
    }
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(pof_file_probe(path, &kind, why, sizeof why));
  PetscCheck(kind != POF_FILE_OTHER, comm, PETSC_ERR_ARG_WRONG,
             "%s is not a pof file (dataset, model, checkpoint, run or sweep directory): %s", path,
             why);
  if (kind == POF_FILE_DATASET)
    PetscCall(info_dataset(comm, path, out));
  else {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    PetscCall(info_checkpoint(comm, path, (PetscBool)!strncmp(base, "ckpt-", 5), out));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_cmd_info(PetscOptions opts, MPI_Comm comm)
{
  int n = 0;
  PetscFunctionBegin;
  (void)opts;
  if (pof_app_help) {
    PetscCall(say(comm, "usage: pof info PATH...\n  What each PATH is: a dataset, model or "
                        "checkpoint file, or a run or sweep directory; a few lines of text, then "
                        "one JSON line per path (schema: docs/file-formats.md, \"pof info\").\n"));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (int i = 2; i < pof_app_argc; i++) {
    json_t *o = NULL;
    PetscCheck(pof_app_argv[i][0] != '-', comm, PETSC_ERR_ARG_WRONG,
               "pof info takes paths only, got option %s", pof_app_argv[i]);
    PetscCall(info_path(comm, pof_app_argv[i], &o));
    pof_json_set(&o, "command", json_string("info"));
    pof_json_set(&o, "status", json_string("finished"));
    PetscCall(pof_json_print_line(comm, o));
    n++;
  }
  PetscCheck(n > 0, comm, PETSC_ERR_ARG_WRONG, "pof info needs at least one PATH");
  PetscFunctionReturn(PETSC_SUCCESS);
}
