/**
 * @file nn.h
 * @brief The oneDNN engine: layers, the WRN model, parameter arenas (src/nn only calls oneDNN).
 */
#ifndef POF_NN_H
#define POF_NN_H

#include "pof/core.h"

/** oneDNN version and CPU ISA it runs, e.g. "2.6.3 (cpu: avx512_core_bf16)". Not collective. */
void pof_nn_version(char *buf, size_t n);

#endif
