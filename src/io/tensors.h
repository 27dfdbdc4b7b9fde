/* The /tensors group (io internal): one dataset per PyTorch state_dict entry of the WRN a
   checkpoint holds, named as pof_torch.WRN names it (conv1.weight, layer1.0.bn1.running_mean,
   layer1.0.bn1.num_batches_tracked, linear.bias, ...) and shaped as PyTorch shapes it. Parameter
   and BN-statistic entries are HDF5 virtual datasets mapping their slice of /params (float64) and
   /bn_running (float32) in the same file, so they add no data and always equal the arenas; the
   num_batches_tracked entries are int64 scalars holding the global step (as a fill value). */
#ifndef POF_IO_TENSORS_H
#define POF_IO_TENSORS_H

#include <hdf5.h>

#include "pof/ckpt.h"

/** Create /tensors in the open file fid for the WRN of m (collective in a parallel file: every
    rank calls it with the same m; no data transfer). Nothing is written when m does not describe
    a WRN whose state_dict adds up to its n_params and n_bn_state (checkpoints of arbitrary
    arrays, as tests write). */
PetscErrorCode pof_tensors_write(hid_t fid, const PofCkptMeta *m);

#endif
