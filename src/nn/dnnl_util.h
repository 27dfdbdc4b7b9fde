/* oneDNN error checking for src/nn: PofCallDNNL names the failed call. */
#ifndef POF_NN_DNNL_UTIL_H
#define POF_NN_DNNL_UTIL_H

#include "pof/core.h"

#include <dnnl.h>

const char *pof_dnnl_status_str(dnnl_status_t s);

#define PofCallDNNL(call)                                                               \
  do {                                                                                  \
    dnnl_status_t pof_dnnl_st_ = (call);                                                \
    PetscCheck(pof_dnnl_st_ == dnnl_success, PETSC_COMM_SELF, POF_ERR_LIB,              \
               "oneDNN call failed: %s: %s", #call, pof_dnnl_status_str(pof_dnnl_st_)); \
  } while (0)

#endif
