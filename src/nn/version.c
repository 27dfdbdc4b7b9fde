/* oneDNN version and status strings. */
#include "dnnl_util.h"
#include "pof/nn.h"

#include <stdio.h>

const char *pof_dnnl_status_str(dnnl_status_t s)
{
  switch (s) {
  case dnnl_success: return "success";
  case dnnl_out_of_memory: return "out of memory";
  case dnnl_invalid_arguments: return "invalid arguments";
  case dnnl_unimplemented: return "unimplemented (no implementation for these shapes/layouts)";
  case dnnl_iterator_ends: return "iterator ends";
  case dnnl_runtime_error: return "runtime error";
  case dnnl_not_required: return "not required";
  default: return "unknown status";
  }
}

void pof_nn_version(char *buf, size_t n)
{
  const dnnl_version_t *v   = dnnl_version();
  const char           *isa = pof_nn_isa_name();
  snprintf(buf, n, "%d.%d.%d (cpu isa: %s)", v->major, v->minor, v->patch, isa);
}
