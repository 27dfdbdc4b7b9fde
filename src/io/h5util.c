/* The file PofCallH5's errors name: see h5util.h. */
#include "h5util.h"

#include "pof/config.h"

#include <stdio.h>

char pof_h5_file[POF_PATH_MAX];

void pof_h5_file_set(const char *path)
{
  snprintf(pof_h5_file, sizeof pof_h5_file, "%s", path ? path : "");
}
