#!/bin/bash
# CPUs without AVX-512 (oneDNN held back with ONEDNN_MAX_CPU_ISA): pof picks the nChw8c layout
# that oneDNN 2.6's AVX2 kernels take, so every convolution is JIT (no ref:), a 2-rank pretraining
# run trains like the native one, -precision bf16 is refused with a clear error on every rank, and
# where oneDNN has only reference kernels (SSE4.1) pof warns instead of running silently slow.
. "$(dirname "$0")/common.sh"
convert_fmnist fm.h5 || bad "convert"
isa_mpi() { local isa="$1" n="$2"; shift 2; timeout 600 "$MPIEXEC" --oversubscribe -n "$n" -x OMP_NUM_THREADS=1 -x ONEDNN_MAX_CPU_ISA="$isa" "$pof" "$@"; }
TINY="-model_depth 10 -model_width 1 -bench_input 1x8x8 -opt_batch 4 -bench_step train -bench_steps 2 -bench_warmup 1"

expect_rc 0 "AVX2: bench" env ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 POF_BENCH_IMPLS=1 "$pof" bench $TINY -run_dir b_avx2
expect_out "block  0 conv1 \(16->16\): fwd jit:avx2 \| bwd-data jit:avx2 \| bwd-weights jit:avx2" "AVX2: convolutions run jit:avx2"
grep -q "ref:" "$T_OUT" && bad "AVX2: a reference kernel is listed" || ok "AVX2: no reference kernel"
grep -q "warning" "$T_OUT" && bad "AVX2: warning printed" || ok "AVX2: no warning"

expect_rc 0 "SSE4.1: bench" env ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1 "$pof" bench $TINY -run_dir b_sse41
expect_out "^bench: warning: oneDNN [^ ]+ .*runs reference \(ref:\) convolution kernels on this CPU" "SSE4.1: reference kernels are warned about"
expect_rc 0 "SSE4.1: bench without warm-up" env ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1 "$pof" bench $TINY -bench_warmup 0 -run_dir b_sse41_w0
expect_out "^bench: warning: oneDNN [^ ]+ .*runs reference \(ref:\) convolution kernels on this CPU" "SSE4.1: warned about without warm-up too"

expect_rc nonzero "AVX2: -precision bf16 refused on 2 ranks" isa_mpi AVX2 2 bench $TINY -precision bf16 -run_dir b_bf16
expect_out "precision bf16 needs a CPU with AVX-512" "AVX2: bf16 error names the CPU requirement"

COMMON="-data_file fm.h5 -data_train_subset 1024 -opt_batch 64 -data_augment 0 -model_depth 10 -model_width 1 -run_epochs 2 -opt_lr 0.05"
isa_mpi AVX2 2 pretrain $COMMON -run_dir pre_avx2 > pre_avx2.log 2>&1 && ok "AVX2: 2-rank pretrain" || { bad "AVX2: pretrain"; tail pre_avx2.log; }
grep -q "warning" pre_avx2.log && { bad "AVX2: pretrain warned"; grep warning pre_avx2.log; } || ok "AVX2: pretrain without warning"
mpi 2 pretrain $COMMON -run_dir pre_native > pre_native.log 2>&1 && ok "native: 2-rank pretrain" || { bad "native: pretrain"; tail pre_native.log; }
/usr/bin/python3 - <<'PY' && ok "AVX2 trains like native (loss within 0.02 + 5 %, test error within 3 points)" || bad "AVX2 vs native training"
import json
r = {k: [json.loads(l) for l in open(f"pre_{k}/metrics.jsonl")] for k in ("native", "avx2")}
for k in r: print(k, [(round(e["train_loss"], 5), round(e["test_error"], 2)) for e in r[k]])
a, b = r["native"][-1], r["avx2"][-1]
assert b["train_loss"] < r["avx2"][0]["train_loss"], "AVX2 loss did not decrease"
assert abs(b["train_loss"] - a["train_loss"]) <= 0.02 + 0.05 * a["train_loss"], (a["train_loss"], b["train_loss"])
assert abs(b["test_error"] - a["test_error"]) <= 3, (a["test_error"], b["test_error"])
PY
finish
