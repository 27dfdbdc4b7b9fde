/* The run directory: checkpoint names, listing, the start point, pruning, the directory check
   and the lock. See include/pof/rundir.h; one checkpoint's file format is src/io/ckpt.c. */
#include "pof/ckpt.h"
#include "pof/comm_exchange.h"
#include "pof/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CKPT_MSG_LEN (2 * POF_PATH_MAX + 512) /* reasons and messages broadcast from rank 0 */

PetscErrorCode pof_rundir_ckpt_name(const char *dir, PetscInt global_step, char *path, size_t len)
{
  int n;
  PetscFunctionBegin;
  PetscCheck(global_step >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "checkpoint step must be >= 0, got %" PetscInt_FMT, global_step);
  n = snprintf(path, len, "%s/ckpt-%010" PetscInt_FMT ".h5", dir, global_step);
  PetscCheck(n >= 0 && (size_t)n < len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "checkpoint name in %s is longer than %zu bytes", dir, len);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* "ckpt-<10 digits>.h5" exactly (tmp = PETSC_FALSE) or "ckpt-<10 digits>.h5.tmp.*" (tmp =
 * PETSC_TRUE). */
static PetscBool ckpt_is_name(const char *s, PetscBool tmp)
{
  if (strncmp(s, "ckpt-", 5) != 0) return PETSC_FALSE;
  for (int i = 5; i < 15; i++)
    if (s[i] < '0' || s[i] > '9') return PETSC_FALSE;
  if (strncmp(s + 15, ".h5", 3) != 0) return PETSC_FALSE;
  return tmp ? (PetscBool)!strncmp(s + 18, ".tmp.", 5) : (PetscBool)(s[18] == '\0');
}

static int ckpt_cmp_desc(const void *a, const void *b)
{
  return strcmp(*(char *const *)b, *(char *const *)a);
}

typedef struct {
  char **names;
  int    n, cap;
} CkptList;

static PetscErrorCode ckpt_list_free(CkptList *l)
{
  PetscFunctionBegin;
  for (int i = 0; i < l->n; i++) PetscCall(PetscFree(l->names[i]));
  PetscCall(PetscFree(l->names));
  l->n = l->cap = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Names in dir matching the checkpoint (or temporary) pattern, newest first. *err = errno of
   opendir (ENOENT: no such directory, l is empty). Local. */
static PetscErrorCode ckpt_list(const char *dir, PetscBool tmp, CkptList *l, int *err)
{
  DIR           *d;
  struct dirent *e;
  PetscFunctionBegin;
  l->names = NULL;
  l->n = l->cap = 0;
  *err          = 0;
  if (!(d = opendir(dir))) {
    *err = errno;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  while ((e = readdir(d))) {
    if (!ckpt_is_name(e->d_name, tmp)) continue;
    if (l->n == l->cap) {
      char **bigger;
      l->cap = l->cap ? 2 * l->cap : 16;
      PetscCall(PetscMalloc1((size_t)l->cap, &bigger));
      if (l->n) PetscCall(PetscArraycpy(bigger, l->names, l->n));
      PetscCall(PetscFree(l->names));
      l->names = bigger;
    }
    PetscCall(PetscStrallocpy(e->d_name, &l->names[l->n]));
    l->n++;
  }
  closedir(d);
  if (l->n) qsort(l->names, (size_t)l->n, sizeof(char *), ckpt_cmp_desc);
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  int  status; /* 1 found, 0 none, -1 error */
  char path[POF_PATH_MAX];
  char msg[CKPT_MSG_LEN];
} CkptFound;

/* Rename the checkpoint `path` that failed verification to "<path>.corrupt" (or ".corrupt.<k>"
   if that name is taken): it is kept for inspection and no longer a candidate. Local. */
static void ckpt_set_aside(const char *path, char *to, size_t len)
{
  struct stat st;
  snprintf(to, len, "%s.corrupt", path);
  for (int k = 2; k < 100 && lstat(to, &st) == 0; k++) snprintf(to, len, "%s.corrupt.%d", path, k);
  if (lstat(to, &st) == 0 || rename(path, to) != 0) to[0] = '\0';
}

/* Newest first: the first candidate whose metadata and checksums hold wins. The newer ones that
   failed are set aside (renamed) with one warning each. When none holds, nothing is renamed and
   res->msg lists every candidate with its reason (status -1). */
static PetscErrorCode ckpt_find_latest_rank0(const char *dir, size_t len, CkptFound *res)
{
  CkptList l;
  int      err, nbad = 0;
  char(*why)[CKPT_MSG_LEN] = NULL;
  PetscFunctionBegin;
  PetscCall(ckpt_list(dir, PETSC_FALSE, &l, &err));
  if (err && err != ENOENT) {
    res->status = -1;
    snprintf(res->msg, sizeof(res->msg), "cannot list checkpoint directory %s: %s", dir,
             strerror(err));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (l.n) PetscCall(PetscCalloc1((size_t)l.n, &why));
  for (int i = 0; i < l.n && res->status == 0; i++) {
    char path[POF_PATH_MAX];
    int  n = snprintf(path, sizeof(path), "%s/%s", dir, l.names[i]);
    if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(path)) {
      res->status = -1;
      snprintf(res->msg, sizeof(res->msg), "checkpoint path %s/%s does not fit in %zu bytes", dir,
               l.names[i], len);
      break;
    }
    if (pof_ckpt_verify_local(path, why[nbad], CKPT_MSG_LEN)) {
      res->status = 1;
      memcpy(res->path, path, (size_t)n + 1);
    } else
      nbad++;
  }
  if (res->status == 1) {
    for (int i = 0; i < nbad; i++) {
      char path[POF_PATH_MAX], to[POF_PATH_MAX + 32];
      snprintf(path, sizeof(path), "%s/%s", dir, l.names[i]);
      ckpt_set_aside(path, to, sizeof(to));
      if (to[0])
        PetscCall(PetscFPrintf(PETSC_COMM_SELF, PETSC_STDERR,
                               "pof: warning: checkpoint %s failed verification (%s): renamed to "
                               "%s; resuming from %s\n",
                               path, why[i], to, res->path));
      else
        PetscCall(PetscFPrintf(PETSC_COMM_SELF, PETSC_STDERR,
                               "pof: warning: checkpoint %s failed verification (%s) and could not "
                               "be renamed: %s; resuming from %s\n",
                               path, why[i], strerror(errno), res->path));
    }
  } else if (res->status == 0 && nbad > 0) {
    size_t off;
    res->status = -1;
    if (nbad == 1)
      off = (size_t)snprintf(res->msg, sizeof(res->msg),
                             "no usable checkpoint in %s: its only one failed verification (it is "
                             "left as it is; move it away to start the run anew):",
                             dir);
    else
      off = (size_t)snprintf(res->msg, sizeof(res->msg),
                             "no usable checkpoint in %s: all %d failed verification (they are "
                             "left as they are; move them away to start the run anew):",
                             dir, nbad);
    for (int i = 0; i < nbad && off < sizeof(res->msg); i++)
      off += (size_t)snprintf(res->msg + off, sizeof(res->msg) - off, " [%s]", why[i]);
  }
  PetscCall(PetscFree(why));
  PetscCall(ckpt_list_free(&l));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rundir_find_latest(MPI_Comm comm, const char *dir, char *path, size_t len,
                                      PetscBool *found)
{
  PetscMPIInt rank;
  CkptFound  *res;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscNew(&res));
  if (rank == 0) PetscCall(ckpt_find_latest_rank0(dir, len, res));
  PetscCall(pof_comm_bcast_bytes(comm, res, sizeof(*res), 0));
  PetscCheck(res->status >= 0, comm, PETSC_ERR_FILE_OPEN, "%s", res->msg);
  *found = res->status == 1 ? PETSC_TRUE : PETSC_FALSE;
  if (*found)
    PetscCall(PetscStrncpy(path, res->path, len));
  else if (len)
    path[0] = '\0';
  PetscCall(PetscFree(res));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_remove(const char *dir, const char *name)
{
  char path[POF_PATH_MAX];
  PetscFunctionBegin;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (unlink(path) != 0 && errno != ENOENT)
    PetscCall(PetscFPrintf(PETSC_COMM_SELF, PETSC_STDERR,
                           "pof: warning: cannot delete old checkpoint %s: %s\n", path,
                           strerror(errno)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rundir_prune(MPI_Comm comm, const char *dir, PetscInt keep)
{
  PetscMPIInt    rank;
  PetscErrorCode code = 0;
  char           msg[CKPT_MSG_LEN];
  PetscFunctionBegin;
  PetscCheck(keep >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "checkpoints to keep must be >= 1, got %" PetscInt_FMT, keep);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    CkptList l;
    int      err;
    PetscCall(ckpt_list(dir, PETSC_FALSE, &l, &err));
    for (int i = (int)keep; i < l.n; i++) PetscCall(ckpt_remove(dir, l.names[i]));
    PetscCall(ckpt_list_free(&l));
    if (!err) {
      PetscCall(ckpt_list(dir, PETSC_TRUE, &l, &err));
      for (int i = 0; i < l.n; i++) PetscCall(ckpt_remove(dir, l.names[i]));
      PetscCall(ckpt_list_free(&l));
    }
    if (err && err != ENOENT) {
      code = PETSC_ERR_FILE_OPEN;
      snprintf(msg, sizeof(msg), "cannot list checkpoint directory %s: %s", dir, strerror(err));
    }
  }
  PetscCall(pof_comm_rank0_verdict(comm, code, msg, sizeof(msg)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* mkdir -p dir, then create and remove a probe file in it. 0 or errno with msg. Local. */
static int ckpt_prepare_dir(const char *dir, char *msg, size_t len)
{
  char        buf[POF_PATH_MAX];
  struct stat st;
  int         fd;
  size_t      n = strlen(dir);
  if (n == 0 || n + 40 >= sizeof(buf)) {
    snprintf(msg, len, "checkpoint directory '%s' is empty or too long", dir);
    return EINVAL;
  }
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    const char c = buf[i];
    buf[i]       = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
      const int e = errno;
      if (strcmp(buf, dir) != 0)
        snprintf(msg, len, "cannot create checkpoint directory %s: %s (at %s)", dir, strerror(e),
                 buf);
      else
        snprintf(msg, len, "cannot create checkpoint directory %s: %s", dir, strerror(e));
      return e;
    }
    buf[i] = c;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    const int e = errno ? errno : ENOTDIR;
    snprintf(msg, len, "checkpoint directory %s is not a directory", dir);
    return e;
  }
  snprintf(buf, sizeof(buf), "%s/.pof-write-test.%ld", dir, (long)getpid());
  if ((fd = open(buf, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 || write(fd, "x", 1) != 1) {
    const int e = errno;
    if (fd >= 0) {
      close(fd);
      (void)unlink(buf);
    }
    snprintf(msg, len, "checkpoint directory %s is not writable: cannot create a file in it (%s)",
             dir, strerror(e));
    return e;
  }
  if (close(fd) != 0) {
    const int e = errno;
    (void)unlink(buf);
    snprintf(msg, len, "checkpoint directory %s is not writable: %s", dir, strerror(e));
    return e;
  }
  (void)unlink(buf);
  return 0;
}

PetscErrorCode pof_rundir_check(MPI_Comm comm, const char *dir)
{
  PetscMPIInt rank;
  struct stat st;
  char        here[256], msg[CKPT_MSG_LEN];
  PetscBool   same;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(pof_comm_rank0_verdict(
      comm, rank == 0 && ckpt_prepare_dir(dir, msg, sizeof(msg)) ? PETSC_ERR_FILE_WRITE : 0, msg,
      sizeof(msg)));
  /* rank 0 made it: a rank that cannot see it is on a node with another file system there */
  const int seen = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
  if (seen)
    snprintf(here, sizeof here, "sees it");
  else
    snprintf(here, sizeof here, "cannot see it (%s)", strerror(errno ? errno : ENOTDIR));
  PetscCall(pof_comm_same_digest(comm, seen ? 0 : 1, here, msg, sizeof msg, &same));
  PetscCheck(same, comm, PETSC_ERR_FILE_OPEN,
             "run directory %s is not visible on every node (%s): it must be on a file system "
             "every node sees",
             dir, msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: lock "<dir>/.pof-lock". 0 = locked (*fd set), EAGAIN = held by another process (msg
   names it), ENOLCK = no locks on this file system (msg is the warning), other errno = error. */
static int ckpt_lock_local(const char *dir, int *fd, char *msg, size_t len, char *line,
                           size_t line_len)
{
  char         path[POF_PATH_MAX], holder[256] = "";
  struct flock fl;
  ssize_t      n;
  *fd = -1;
  if (snprintf(path, sizeof(path), "%s/.pof-lock", dir) >= (int)sizeof(path)) {
    snprintf(msg, len, "run directory '%s' is too long", dir);
    return ENAMETOOLONG;
  }
  const int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (f < 0) {
    const int e = errno;
    if (e == ELOOP)
      snprintf(msg, len,
               "the lock file %s is a symbolic link: refused (pof does not write through links in "
               "a run directory; remove it)",
               path);
    else
      snprintf(msg, len, "cannot create the lock file %s: %s", path, strerror(e));
    return e;
  }
  memset(&fl, 0, sizeof(fl));
  fl.l_type   = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(f, F_SETLK, &fl) != 0) {
    const int e = errno;
    if (e == EAGAIN || e == EACCES) {
      struct flock q                = fl;
      n                             = pread(f, holder, sizeof(holder) - 1, 0);
      holder[n > 0 ? n : 0]         = '\0';
      holder[strcspn(holder, "\n")] = '\0';
      if (fcntl(f, F_GETLK, &q) == 0 && q.l_type != F_UNLCK && !holder[0])
        snprintf(holder, sizeof(holder), "pid %ld", (long)q.l_pid);
      snprintf(msg, len,
               "run directory %s is in use by another pof job (%s): wait for it to end or stop it "
               "(ranks of a killed mpirun may still run), or use another directory",
               dir, holder[0] ? holder : "holder unknown");
      close(f);
      return EAGAIN;
    }
    close(f);
    snprintf(msg, len,
             "pof: warning: cannot lock %s (%s): the file system has no fcntl locks; nothing stops "
             "a second job from writing into %s\n",
             path, strerror(e), dir);
    return ENOLCK;
  }
  char host[128] = "?";
  (void)gethostname(host, sizeof(host) - 1);
  host[sizeof(host) - 1] = '\0';
  uint64_t token         = 0;
  if (getrandom(&token, sizeof token, 0) != (ssize_t)sizeof token) token ^= (uint64_t)time(NULL);
  n = snprintf(holder, sizeof(holder), "pid %ld host %s token %016llx\n", (long)getpid(), host,
               (unsigned long long)token);
  /* the text helps the message of a second job, and the other ranks check that they see it (the
     run directory is shared); synced so that another node's client reads it */
  const int wrote = ftruncate(f, 0) == 0 && pwrite(f, holder, (size_t)n, 0) == n && !fsync(f);
  if (wrote) snprintf(line, line_len, "%s", holder);
  *fd = f;
  return 0;
}

/* Nodes that disagree (issue 32): every rank must see the run directory rank 0 locked, i.e. read
   the line rank 0 wrote into its lock file (pid, host, a random token); a node with its own local
   directory of that name, or none, would write checkpoints nobody resumes from. Collective. */
static PetscErrorCode rundir_check_shared(MPI_Comm comm, const char *dir, const char *line)
{
  char        path[POF_PATH_MAX + 16], seen[256] = "", here[400], msg[1024];
  PetscBool   same;
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  snprintf(path, sizeof path, "%s/.pof-lock", dir);
  /* not on rank 0, which holds the fcntl lock: closing any descriptor of the file would release
     it (POSIX record locks belong to the process), and it wrote the line itself */
  const int fd = rank == 0 ? -2 : open(path, O_RDONLY | O_CLOEXEC);
  if (fd == -2) {
    snprintf(seen, sizeof seen, "%s", line);
    seen[strcspn(seen, "\n")] = '\0';
    snprintf(here, sizeof here, "%.200s holds '%.180s'", path, seen);
  } else if (fd < 0)
    snprintf(here, sizeof here, "no %.300s (%s)", path, strerror(errno));
  else {
    const ssize_t n     = pread(fd, seen, sizeof seen - 1, 0);
    seen[n > 0 ? n : 0] = '\0';
    close(fd);
    seen[strcspn(seen, "\n")] = '\0';
    snprintf(here, sizeof here, "%.200s holds '%.180s'", path, seen);
  }
  const PetscBool mine = seen[0] && strncmp(seen, line, strcspn(line, "\n")) == 0;
  PetscCall(pof_comm_same_digest(comm, mine ? 0 : 1, here, msg, sizeof msg, &same));
  PetscCheck(same, comm, PETSC_ERR_FILE_OPEN,
             "run directory %s is not the same directory on every node (%s): it must be on a file "
             "system every node sees",
             dir, msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rundir_lock(MPI_Comm comm, const char *dir, int *lock)
{
  PetscMPIInt rank;
  struct {
    int  err;
    char msg[CKPT_MSG_LEN];
    char line[256]; /* what rank 0 wrote into the lock file ("" if nothing) */
  } res;
  PetscFunctionBegin;
  *lock = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  memset(&res, 0, sizeof(res));
  if (rank == 0) {
    res.err = ckpt_lock_local(dir, lock, res.msg, sizeof(res.msg), res.line, sizeof(res.line));
    if (res.err == ENOLCK) {
      PetscCall(PetscFPrintf(PETSC_COMM_SELF, PETSC_STDERR, "%s", res.msg));
      res.err = 0;
    }
  }
  PetscCall(
      pof_comm_rank0_verdict(comm, res.err ? PETSC_ERR_FILE_OPEN : 0, res.msg, sizeof(res.msg)));
  PetscCall(pof_comm_bcast_bytes(comm, res.line, sizeof(res.line), 0));
  if (res.line[0]) PetscCall(rundir_check_shared(comm, dir, res.line));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_rundir_unlock(int *lock)
{
  if (*lock >= 0) (void)close(*lock); /* closing the descriptor drops the fcntl lock */
  *lock = -1;
}

/* The names pof writes in a run directory (besides the checkpoints and their temporaries). */
static const char *const rundir_outputs[] = { "config.json", "metrics.jsonl", "steps.jsonl",
                                              "model.h5",    "result.json",   "result.csv" };

/* The first output name in dir that is a symbolic link, into msg. 0 or ELOOP. Local. */
static int rundir_find_link(const char *dir, char *msg, size_t len)
{
  DIR           *d = opendir(dir);
  struct dirent *e;
  int            found = 0;
  if (!d) return 0;
  while (!found && (e = readdir(d))) {
    PetscBool ours = ckpt_is_name(e->d_name, PETSC_FALSE);
    for (size_t i = 0; !ours && i < sizeof(rundir_outputs) / sizeof(rundir_outputs[0]); i++)
      ours = (PetscBool)!strcmp(e->d_name, rundir_outputs[i]);
    char        path[POF_PATH_MAX], target[POF_PATH_MAX] = "?";
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (!ours || lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    const ssize_t n       = readlink(path, target, sizeof(target) - 1);
    target[n > 0 ? n : 1] = '\0';
    snprintf(msg, len,
             "%s is a symbolic link (to %s): refused, pof does not write through links in a run "
             "directory (remove it; its target is untouched)",
             path, target);
    found = 1;
  }
  closedir(d);
  return found ? ELOOP : 0;
}

PetscErrorCode pof_rundir_refuse_links(MPI_Comm comm, const char *dir)
{
  PetscMPIInt rank;
  char        msg[CKPT_MSG_LEN];
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(pof_comm_rank0_verdict(
      comm, rank == 0 && rundir_find_link(dir, msg, sizeof(msg)) ? PETSC_ERR_FILE_OPEN : 0, msg,
      sizeof(msg)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rundir_any_checkpoint(MPI_Comm comm, const char *dir, char name[256])
{
  PetscMPIInt rank;
  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  name[0] = 0;
  if (rank == 0) {
    CkptList l;
    int      err;
    PetscCall(ckpt_list(dir, PETSC_FALSE, &l, &err));
    if (l.n) PetscCall(PetscStrncpy(name, l.names[0], 256)); /* newest first */
    PetscCall(ckpt_list_free(&l));
  }
  PetscCall(pof_comm_bcast_bytes(comm, name, 256, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode rundir_start_body(MPI_Comm comm, const char *dir, PetscBool resume_auto,
                                        const char *model_in, PofModelCheck check, void *ctx,
                                        PofRunStart *out)
{
  char own[256] = "";
  PetscFunctionBegin;
  /* 1. a -model_in that cannot serve stops a new run before its directory is made; a run that
        resumes from its own checkpoints does not read -model_in (it may be gone by then) */
  if (resume_auto) PetscCall(pof_rundir_any_checkpoint(comm, dir, own));
  if (model_in && model_in[0] && !own[0]) {
    PetscCall(pof_ckpt_read_meta(comm, model_in, &out->meta));
    if (check) PetscCall(check(comm, model_in, &out->meta, ctx));
    out->from_model = PETSC_TRUE;
    PetscCall(PetscStrncpy(out->path, model_in, sizeof(out->path)));
  }
  /* 2. the directory must be usable before any work is done; one job per run directory */
  PetscCall(pof_rundir_check(comm, dir));
  PetscCall(pof_rundir_lock(comm, dir, &out->lock));
  PetscCall(pof_rundir_refuse_links(comm, dir));
  /* 3. never overwrite the checkpoints of another run silently */
  if (!resume_auto) {
    char name[256];
    PetscCall(pof_rundir_any_checkpoint(comm, dir, name));
    PetscCheck(!name[0], comm, PETSC_ERR_ARG_WRONG,
               "-ckpt_resume no, but the run directory '%s' already holds checkpoints (%s): use "
               "another -run_dir, remove them, or resume with -ckpt_resume auto",
               dir, name);
  }
  /* 4. the newest good checkpoint of this run */
  if (resume_auto) {
    char path[POF_PATH_MAX];
    PetscCall(pof_rundir_find_latest(comm, dir, path, sizeof(path), &out->resumed));
    if (out->resumed) {
      out->from_model = PETSC_FALSE;
      PetscCall(PetscStrncpy(out->path, path, sizeof(out->path)));
      PetscCall(pof_ckpt_read_meta(comm, path, &out->meta));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_rundir_start(MPI_Comm comm, const char *dir, PetscBool resume_auto,
                                const char *model_in, PofModelCheck check, void *ctx,
                                PofRunStart *out)
{
  PetscErrorCode ierr;
  PetscFunctionBegin;
  PetscCall(PetscMemzero(out, sizeof(*out)));
  out->lock = -1;
  ierr      = rundir_start_body(comm, dir, resume_auto, model_in, check, ctx, out);
  if (ierr) pof_rundir_unlock(&out->lock);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
