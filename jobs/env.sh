# Shared environment of the sbatch scripts (source it; also usable in an interactive shell).
#
# Sets, from the Slurm allocation (or the variables below outside Slurm):
#   POF             the pof binary: $POF, else <repo>/build/pof, else `pof` on PATH (never built here)
#   POF_RANKS       MPI ranks: $SLURM_NTASKS (sbatch --ntasks), else $POF_RANKS, else 1
#   OMP_NUM_THREADS threads per rank = $SLURM_CPUS_PER_TASK (sbatch --cpus-per-task), else
#                   $POF_THREADS, else 1
#   OMP_PROC_BIND=close OMP_PLACES=cores (unless already set): each rank's threads stay on the
#                   cores bound to that rank
#   HDF5_USE_FILE_LOCKING=FALSE (parallel HDF5 on cluster file systems); as root, Open MPI's
#                   OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)
# Launcher (POF_LAUNCHER):
#   mpirun (default)  mpirun -n R --map-by slot:PE=T --bind-to core -x OMP_* -x HDF5_* ...
#                     binding from POF_MPIRUN_BIND (default as shown; "none" = --bind-to none)
#   srun              srun --mpi=pmix -n R -c T --cpu-bind=cores (pmi2 and none do not work with
#                     Debian's Open MPI and Slurm packages)
# Functions:
#   pof_launch ARGS...       run `$POF ARGS...` on POF_RANKS ranks with the launcher (foreground)
#   pof_run_requeue ARGS...  the same in the background, SIGUSR1 (Slurm's --signal=B:USR1@N) and
#                            SIGTERM forwarded to the launcher; when pof exits 75 (stopped on a
#                            signal after writing a checkpoint) the job is requeued with
#                            `scontrol requeue` and resumes from that checkpoint when it restarts.
#   pof_job_root             the repository the running job script belongs to

pof_job_log() { echo "pof-job[$(date -u +%H:%M:%S)]: $*" >&2; }

# The repository root: the parent of this file's directory.
pof_job_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export HDF5_USE_FILE_LOCKING=FALSE

if [ -z "${POF:-}" ]; then
  POF="$(pof_job_root)/build/pof"
  if [ ! -x "$POF" ] && command -v pof > /dev/null 2>&1; then POF="$(command -v pof)"; fi
fi
if [ ! -x "$POF" ]; then
  pof_job_log "error: the pof binary '$POF' does not exist or is not executable (job scripts never build: run jobs/build.sh first, or set POF=/path/to/pof)"
  exit 1
fi
export POF

POF_RANKS="${SLURM_NTASKS:-${POF_RANKS:-1}}"
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-${POF_THREADS:-${OMP_NUM_THREADS:-1}}}"
export OMP_PROC_BIND="${OMP_PROC_BIND:-close}" OMP_PLACES="${OMP_PLACES:-cores}"
POF_LAUNCHER="${POF_LAUNCHER:-mpirun}"

# pof_launch_cmd NRANKS : prints nothing, fills the array POF_LAUNCH_CMD.
pof_launch_cmd() {
  local n="$1" t="$OMP_NUM_THREADS"
  case "$POF_LAUNCHER" in
    mpirun)
      local bind
      if [ -n "${POF_MPIRUN_BIND:-}" ]; then
        if [ "$POF_MPIRUN_BIND" = none ]; then bind=(--bind-to none); else read -r -a bind <<< "$POF_MPIRUN_BIND"; fi
      elif [ "$t" -gt 1 ]; then
        bind=(--map-by "slot:PE=$t" --bind-to core)
      else
        bind=(--bind-to core)
      fi
      POF_LAUNCH_CMD=(mpirun -n "$n" "${bind[@]}" ${POF_MPIRUN_FLAGS:-}
        -x OMP_NUM_THREADS -x OMP_PROC_BIND -x OMP_PLACES -x HDF5_USE_FILE_LOCKING)
      if [ -n "${PETSC_OPTIONS:-}" ]; then POF_LAUNCH_CMD+=(-x PETSC_OPTIONS); fi
      ;;
    srun)
      POF_LAUNCH_CMD=(srun --mpi=pmix -n "$n" -c "$t" --cpu-bind="${POF_SRUN_BIND:-cores}" ${POF_SRUN_FLAGS:-})
      ;;
    *)
      pof_job_log "error: POF_LAUNCHER='$POF_LAUNCHER' (use mpirun or srun)"
      return 1
      ;;
  esac
}

# pof_launch ARGS... : pof on POF_RANKS ranks, in the foreground; returns pof's exit status.
pof_launch() {
  pof_launch_cmd "$POF_RANKS" || return 1
  pof_job_log "${POF_LAUNCH_CMD[*]} $POF $*"
  "${POF_LAUNCH_CMD[@]}" "$POF" "$@"
}

_pof_child=""
_pof_forward() { # SIGNAL
  pof_job_log "SIG$1 received, forwarding it to the launcher (pid $_pof_child)"
  [ -n "$_pof_child" ] && kill -"$1" "$_pof_child" 2> /dev/null
}

# pof_run_requeue ARGS... : see the header. Returns pof's status (0 after a successful requeue).
pof_run_requeue() {
  local rc r2
  pof_launch_cmd "$POF_RANKS" || return 1
  pof_job_log "start (job ${SLURM_JOB_ID:-none}, restart ${SLURM_RESTART_COUNT:-0}): ${POF_LAUNCH_CMD[*]} $POF $*"
  "${POF_LAUNCH_CMD[@]}" "$POF" "$@" &
  _pof_child=$!
  trap '_pof_forward USR1' USR1
  trap '_pof_forward TERM' TERM
  while :; do
    wait "$_pof_child"
    rc=$?
    # wait returns early (status > 128) when a trapped signal arrives: keep waiting
    if [ $rc -gt 128 ] && kill -0 "$_pof_child" 2> /dev/null; then continue; fi
    if [ $rc -gt 128 ]; then # the child ended right after the signal: collect its real status
      wait "$_pof_child" 2> /dev/null
      r2=$?
      [ $r2 -ne 127 ] && rc=$r2
    fi
    break
  done
  trap - USR1 TERM
  _pof_child=""
  if [ $rc -eq 75 ]; then
    if [ -n "${SLURM_JOB_ID:-}" ]; then
      pof_job_log "pof stopped after writing a checkpoint (exit 75): requeueing job $SLURM_JOB_ID"
      if scontrol requeue "$SLURM_JOB_ID"; then return 0; fi
      pof_job_log "error: scontrol requeue $SLURM_JOB_ID failed; resubmit the same script and options to continue"
    else
      pof_job_log "pof stopped after writing a checkpoint (exit 75): rerun the same command to continue"
    fi
    return 75
  fi
  pof_job_log "pof exited with status $rc"
  return $rc
}

# pof_job_main COMMAND DEFAULT_RUN_DIR ARGS... : the body of pretrain.sbatch and posttrain.sbatch.
# Options, in this order (a later one wins): -options_file $POF_OPTIONS_FILE, -data_file $POF_DATA,
# -model_in $POF_MODEL_IN, -run_dir $POF_RUN_DIR (else DEFAULT_RUN_DIR unless ARGS give -run_dir),
# the words of $POF_ARGS, then ARGS (the arguments after the script name on the sbatch line).
pof_job_main() {
  local cmd="$1" dir="$2" a extra=()
  shift 2
  local args=()
  [ -n "${POF_OPTIONS_FILE:-}" ] && args+=(-options_file "$POF_OPTIONS_FILE")
  [ -n "${POF_DATA:-}" ] && args+=(-data_file "$POF_DATA")
  [ -n "${POF_MODEL_IN:-}" ] && args+=(-model_in "$POF_MODEL_IN")
  read -r -a extra <<< "${POF_ARGS:-}"
  local has_dir=0
  for a in "${extra[@]}" "$@"; do [ "$a" = -run_dir ] && has_dir=1; done
  [ $has_dir = 1 ] || args+=(-run_dir "${POF_RUN_DIR:-$dir}")
  pof_run_requeue "$cmd" "${args[@]}" "${extra[@]}" "$@"
}
