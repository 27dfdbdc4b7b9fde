/* Temporary names, the atomic rename and its fsyncs: see include/pof/fsutil.h. */
#include "pof/fsutil.h"
#include "pof/comm_exchange.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int pof_fs_tmp_name(const char *path, char *buf, size_t len)
{
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
    r ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)buf;
  const int n =
      snprintf(buf, len, "%s.tmp.%ld.%016llx", path, (long)getpid(), (unsigned long long)r);
  return n < 0 || (size_t)n >= len ? ENAMETOOLONG : 0;
}

void pof_fs_sync_dir_of(const char *path)
{
  char        dir[4096];
  const char *slash = strrchr(path, '/');
  int         fd;
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

int pof_fs_commit(const char *tmp, const char *path, char *msg, size_t len)
{
  int fd, e;
  if ((fd = open(tmp, O_RDONLY | O_NOFOLLOW)) < 0 || fsync(fd) != 0) {
    e = errno;
    snprintf(msg, len, "cannot sync %s: %s", tmp, strerror(e));
    if (fd >= 0) close(fd);
    return e;
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    e = errno;
    snprintf(msg, len, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    return e;
  }
  pof_fs_sync_dir_of(path);
  return 0;
}

int pof_fs_write_atomic(const char *path, PofFsWriteFn fn, void *ctx, char *msg, size_t len)
{
  char  tmp[4096 + 64];
  FILE *f;
  int   fd, e;
  if ((e = pof_fs_tmp_name(path, tmp, sizeof tmp))) {
    snprintf(msg, len, "path %s is too long", path);
    return e;
  }
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0 ||
      !(f = fdopen(fd, "w"))) {
    e = errno;
    if (fd >= 0) close(fd);
    (void)unlink(tmp);
    snprintf(msg, len, "cannot create %s: %s", tmp, strerror(e));
    return e;
  }
  e = fn(f, ctx);
  if (!e && (fflush(f) != 0 || ferror(f))) e = errno ? errno : EIO;
  if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
  if (e) {
    (void)unlink(tmp);
    snprintf(msg, len, "cannot write %s: %s", path, strerror(e));
    return e;
  }
  if ((e = pof_fs_commit(tmp, path, msg, len))) (void)unlink(tmp);
  return e;
}

static int write_text(FILE *f, void *ctx)
{
  const char *text = (const char *)ctx;
  return fputs(text, f) < 0 || fputc('\n', f) == EOF ? (errno ? errno : EIO) : 0;
}

int pof_fs_write_text_atomic(const char *path, const char *text, char *msg, size_t len)
{
  return pof_fs_write_atomic(path, write_text, (void *)(uintptr_t)text, msg, len);
}

uint64_t pof_fs_digest_bytes(uint64_t h, const void *p, size_t n)
{
  return (h << 32) ^ (h >> 32) ^ (uint64_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

void pof_fs_file_digest(const char *path, uint64_t *digest, char *here, size_t len)
{
  unsigned char buf[65536];
  const int     fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat   st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(here, len, "cannot read it (%s)", strerror(errno));
    *digest = 1;
  } else {
    const off_t   size = st.st_size;
    const ssize_t a    = pread(fd, buf, sizeof buf, 0);
    uint64_t      h    = pof_fs_digest_bytes((uint64_t)size, buf, a > 0 ? (size_t)a : 0);
    const ssize_t b =
        pread(fd, buf, sizeof buf, size > (off_t)sizeof buf ? size - (off_t)sizeof buf : 0);
    h = pof_fs_digest_bytes(h, buf, b > 0 ? (size_t)b : 0);
    snprintf(here, len, "%lld bytes, digest %016llx", (long long)size, (unsigned long long)h);
    *digest = h;
  }
  if (fd >= 0) close(fd);
}

PetscErrorCode pof_fs_same_file(MPI_Comm comm, const char *path, const char *what)
{
  char      here[256], msg[1024];
  uint64_t  h;
  PetscBool same;
  PetscFunctionBegin;
  pof_fs_file_digest(path, &h, here, sizeof here);
  PetscCall(pof_comm_same_digest(comm, h, here, msg, sizeof msg, &same));
  PetscCheck(same, comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s '%s' differs between nodes (%s): every node must see the same file (a node-local "
             "copy must be identical)",
             what, path, msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}
