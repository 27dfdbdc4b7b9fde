/* Registry of in-memory file images: see include/pof/image.h. */
#include "pof/image.h"
#include "pof/config.h"

#include <string.h>

#define POF_MAX_IMAGES 8

static struct {
  char        path[POF_PATH_MAX];
  const void *buf;
  size_t      len;
} images[POF_MAX_IMAGES];

PetscErrorCode pof_file_image_register(const char *path, const void *buf, size_t len)
{
  int slot = -1;
  PetscFunctionBegin;
  PetscCheck(path && path[0] && buf && len > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG,
             "file image: empty path or buffer");
  PetscCheck(strlen(path) < POF_PATH_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "file image: path '%s' is too long", path);
  for (int i = 0; i < POF_MAX_IMAGES && slot < 0; i++)
    if (images[i].buf && !strcmp(images[i].path, path)) slot = i;
  for (int i = 0; i < POF_MAX_IMAGES && slot < 0; i++)
    if (!images[i].buf) slot = i;
  PetscCheck(slot >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ,
             "file image: more than %d images registered", POF_MAX_IMAGES);
  memcpy(images[slot].path, path, strlen(path) + 1);
  images[slot].buf = buf;
  images[slot].len = len;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pof_file_image_unregister(const char *path)
{
  PetscFunctionBegin;
  for (int i = 0; i < POF_MAX_IMAGES; i++)
    if (images[i].buf && path && !strcmp(images[i].path, path))
      images[i].buf = NULL, images[i].len = 0, images[i].path[0] = '\0';
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pof_file_image_lookup(const char *path, const void **buf, size_t *len)
{
  *buf = NULL;
  *len = 0;
  if (!path) return;
  for (int i = 0; i < POF_MAX_IMAGES; i++)
    if (images[i].buf && !strcmp(images[i].path, path)) {
      *buf = images[i].buf;
      *len = images[i].len;
      return;
    }
}
