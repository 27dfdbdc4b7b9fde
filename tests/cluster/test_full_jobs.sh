#!/bin/bash
# cluster-full (a): jobs/pretrain.sbatch, then jobs/posttrain.sbatch (afterok) on a 4-node Slurm
# (tests/slurm/harness.sh, slurm_start_cluster) in three shapes -- 2 nodes x 1 rank, 2 nodes x 2
# ranks, 4 nodes x 1 rank -- with both launchers (mpirun; srun --mpi=pmix). Checks: every job
# completes on the nodes asked for, and both models (pretrained, post-trained) are bitwise equal
# to those of the same rank count on one node (mpiexec on this host, outside Slurm).
. "$(dirname "$0")/common.sh" "$1" "$2" 4
tiny d.h5 1 16 16 10 64 32
M=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_seed 3)
for r in 2 4; do
  mkdir -p ref$r
  { ref_run ref$r/pre $r "${M[@]}" -run_epochs 2 \
    && timeout 300 mpiexec --oversubscribe -n $r -x OMP_NUM_THREADS=1 "$pof" posttrain "${M[@]}" -model_in ref$r/pre/model.h5 -run_epochs 1 -run_dir ref$r/post -run_quiet > ref$r/post.log 2>&1; } \
    && ok "reference: pretrain + posttrain with $r ranks on one node" || { bad "reference $r ranks"; tail ref$r/*.log; }
done
# --ntasks as well: the scripts' own #SBATCH --ntasks=2 would otherwise cap the rank count
declare -A shape=([n2x1]="--nodes=2 --ntasks=2 --ntasks-per-node=1" [n2x2]="--nodes=2 --ntasks=4 --ntasks-per-node=2" [n4x1]="--nodes=4 --ntasks=4 --ntasks-per-node=1")
declare -A ranks=([n2x1]=2 [n2x2]=4 [n4x1]=4) nodes=([n2x1]="pofn[1-2]" [n2x2]="pofn[1-2]" [n4x1]="pofn[1-4]")
jobs=()
for l in mpirun srun; do
  for s in n2x1 n2x2 n4x1; do
    c=$l-$s
    POF_LAUNCHER=$l submit ${shape[$s]} -o $c-pre-%j.out "$src/jobs/pretrain.sbatch" "${M[@]}" -run_epochs 2 -run_dir $c/pre || bad "sbatch pretrain $c"
    pre=$JOB
    POF_LAUNCHER=$l POF_MODEL_IN=$c/pre/model.h5 submit ${shape[$s]} --dependency=afterok:$pre -o $c-post-%j.out "$src/jobs/posttrain.sbatch" "${M[@]}" -run_epochs 1 -run_dir $c/post || bad "sbatch posttrain $c"
    jobs+=("$c:$pre:$JOB")
  done
done
ok "submitted ${#jobs[@]} pretrain -> posttrain (afterok) pairs"
for j in "${jobs[@]}"; do IFS=: read -r c pre post <<< "$j"; slurm_wait_job "$post" 600 || bad "$c: jobs not finished in 600 s"; done
for j in "${jobs[@]}"; do
  IFS=: read -r c pre post <<< "$j"
  s=${c#*-}; l=${c%%-*}
  for k in pre post; do
    id=$([ $k = pre ] && echo $pre || echo $post)
    job_done "$id" "$c $k" || tail -30 $c-$k-$id.out
    nl=$(slurm_job_field "$id" NodeList); nn=$(slurm_job_field "$id" NumNodes)
    [ "$nn" = "$(echo "${shape[$s]}" | sed 's/--nodes=\([0-9]\).*/\1/')" ] && ok "$c $k ran on $nn nodes ($nl), ${ranks[$s]} ranks" || bad "$c $k: NumNodes $nn ($nl)"
    grep -q "start (job $id, restart 0): $([ $l = mpirun ] && echo "mpirun -n ${ranks[$s]}" || echo "srun --mpi=pmix -n ${ranks[$s]}")" $c-$k-$id.out || bad "$c $k: launcher line"
    same_model $c/$k/model.h5 ref${ranks[$s]}/$k/model.h5 "$c $k vs ${ranks[$s]} ranks on one node"
  done
done
cluster_finish
