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
#   POF_STEP_TIMEOUT  -run_step_timeout of pof_job_main (default 600 s; 0 = not given)
# Launcher (POF_LAUNCHER):
#   mpirun (default)  mpirun -n R --map-by slot:PE=T --bind-to core -x OMP_* -x HDF5_* ...
#                     binding from POF_MPIRUN_BIND (default as shown; "none" = --bind-to none)
#   srun              srun --mpi=pmix -n R -c T --cpu-bind=cores (pmi2 and none do not work with
#                     Debian's Open MPI and Slurm packages)
# Functions:
#   pof_launch ARGS...       run `$POF ARGS...` on POF_RANKS ranks with the launcher (foreground)
#   pof_run_requeue ARGS...  the same in the background, SIGUSR1 (Slurm's --signal=B:USR1@N) and
#                            SIGTERM forwarded to the launcher, then by pof's status:
#                            75 (stopped on a signal after writing a checkpoint): the job is
#                               requeued with `scontrol requeue` and resumes from that checkpoint
#                               when it restarts; never counted against POF_MAX_RESTARTS.
#                            69 (a peer was lost): pof's own 69, mpirun's 205 ("lost communication
#                               with a remote daemon"), a launcher ended POF_ABORT_GRACE s (30)
#                               after pof's -run_step_timeout watchdog gave up (it cannot reach a
#                               silent node to finish the abort), or any other failure while a node of the
#                               allocation no longer runs a job step (each node is probed with
#                               `srun --overlap -w NODE true`, POF_PROBE_TIMEOUT s, default 20).
#                               The job is requeued with the nodes that did not answer added to its
#                               ExcNodeList (POF_EXCLUDE_LOST_NODES=0: not excluded), at most
#                               POF_MAX_RESTARTS times (default 3) per job id; after that the job
#                               ends with 69 (resubmitting continues from the newest checkpoint).
#                            After a SIGTERM from Slurm (scancel, node failure: Slurm ends the job
#                               and, for --requeue jobs on a failed node, requeues it itself) the
#                               script decides nothing; a requeued run counts such an ending (and
#                               one whose batch shell died with its node) as a lost-peer restart.
#                            Any other status is the job's status (1: error, 74: storage, ...).
#                            Every run and its end are recorded in <run dir>/job-restarts.log.
#   pof_job_root             the repository the running job script belongs to
# Many nodes: the same scripts with sbatch --nodes=N --ntasks=R (give --ntasks too: the scripts'
# own #SBATCH --ntasks=2 otherwise caps the rank count); both launchers work across nodes;
# docs/many-nodes.md says what to submit and what happens when a node fails.

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

# ---- Restarts after a lost peer ----------------------------------------------------------------
# POF_RESTART_LOG (set by pof_job_main: <run dir>/job-restarts.log) records every run of the job:
#   <UTC time> job=<id> restart=<n> event=start nodes=<list> launcher=<l>
#   <UTC time> job=<id> restart=<n> event=end status=<launcher's> mapped=<pof's> action=<...> [lost=<nodes>] [lost_peer=1]
# Lines with lost_peer=1 are the restarts after a lost peer; those of the current job id are
# counted against POF_MAX_RESTARTS (a new submission starts from 0; 75 never counts).
POF_MAX_RESTARTS="${POF_MAX_RESTARTS:-3}"

_pof_rlog() { # FIELDS... : one line in POF_RESTART_LOG
  [ -n "${POF_RESTART_LOG:-}" ] || return 0
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) job=${SLURM_JOB_ID:-none} restart=${SLURM_RESTART_COUNT:-0} $*" >> "$POF_RESTART_LOG"
}

# _pof_lost_count : restarts of this job after a lost peer so far
_pof_lost_count() {
  [ -n "${POF_RESTART_LOG:-}" ] && [ -f "$POF_RESTART_LOG" ] || { echo 0; return; }
  grep -c " job=${SLURM_JOB_ID:-none} .* lost_peer=1" "$POF_RESTART_LOG"
}

# _pof_account_unrecorded : at the start of a requeued run, a previous run of this job that ended
# without the script acting on pof's status (its batch node died, or Slurm ended the job on a node
# failure: the shell was killed or got SIGTERM) was requeued by Slurm: count it as a lost peer.
_pof_account_unrecorded() {
  local last
  [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${POF_RESTART_LOG:-}" ] && [ -f "$POF_RESTART_LOG" ] || return 0
  last=$(grep " job=$SLURM_JOB_ID " "$POF_RESTART_LOG" | tail -1)
  case "$last" in
    *" event=start "* | *" action=ended-by-slurm"*)
      pof_job_log "the previous run of job $SLURM_JOB_ID was ended from outside (node failure): Slurm requeued it; counted as a restart after a lost peer"
      _pof_rlog "event=requeued-by-slurm mapped=69 lost_peer=1"
      ;;
  esac
}

# pof_lost_nodes : the nodes of this allocation that do not run a trivial job step within
# POF_PROBE_TIMEOUT seconds (default 20), space-separated; empty outside Slurm or when all answer
pof_lost_nodes() {
  local n pids=() names=() i
  [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${SLURM_JOB_NODELIST:-}" ] || return 0
  for n in $(scontrol show hostnames "$SLURM_JOB_NODELIST" 2> /dev/null); do
    timeout -s KILL "${POF_PROBE_TIMEOUT:-20}" srun --overlap --nodes=1 --ntasks=1 --cpus-per-task=1 --nodelist="$n" --quiet true > /dev/null 2>&1 &
    pids+=($!)
    names+=("$n")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[i]}" || printf '%s ' "${names[i]}"
  done
}

# pof_map_status RC : pof's status for the launcher's RC, in POF_STATUS. 69 when pof said so, when
# mpirun lost a daemon (205: "ORTE has lost communication with a remote daemon") or a rank died of a
# signal (129..159), or when any other
# failure coincides with a node of the allocation that no longer runs a job step (the lost nodes
# go to POF_LOST_NODES), or when pof's -run_step_timeout watchdog gave up (its line in
# POF_LOST_PEER_FILE, kept in _pof_lost_mark). Everything else is passed through.
pof_map_status() {
  local rc="$1"
  POF_LOST_NODES=""
  POF_STATUS="$rc"
  case "$rc" in 0 | 75) return ;; esac
  if [ -n "${SLURM_JOB_ID:-}" ]; then
    pof_job_log "launcher exited with status $rc: checking the allocation's nodes ($SLURM_JOB_NODELIST)"
    POF_LOST_NODES=$(pof_lost_nodes)
    POF_LOST_NODES="${POF_LOST_NODES% }"
    [ -n "$POF_LOST_NODES" ] && pof_job_log "node(s) not answering: $POF_LOST_NODES"
  fi
  # 129..159: the launcher's status for a rank that died of a signal (mpirun: 128 + the signal,
  # e.g. 137 for SIGKILL of one rank): a peer was lost
  if [ "$rc" -eq 69 ] || [ -n "$POF_LOST_NODES" ] || { [ "$POF_LAUNCHER" = mpirun ] && { [ "$rc" -eq 205 ] || { [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; }; }; } \
    || [ -n "${_pof_lost_mark:-}" ]; then
    POF_STATUS=69
  fi
}

# _pof_scontrol ARGS... : scontrol that survives the SIGTERM Slurm sends to the job's processes as
# soon as a requeue is accepted (an ignored signal stays ignored across exec)
_pof_scontrol() { bash -c 'trap "" TERM; exec scontrol "$@"' scontrol "$@"; }

# _pof_requeue_lost : requeue this job after a lost peer, the lost nodes added to its ExcNodeList
_pof_requeue_lost() {
  local exc n
  trap '' TERM
  if ! _pof_scontrol requeue "$SLURM_JOB_ID"; then
    pof_job_log "error: scontrol requeue $SLURM_JOB_ID failed; resubmit the same script and options to continue"
    return 1
  fi
  if [ -n "$POF_LOST_NODES" ] && [ "${POF_EXCLUDE_LOST_NODES:-1}" = 1 ]; then
    exc=$(scontrol -o show job "$SLURM_JOB_ID" 2> /dev/null | tr ' ' '\n' | sed -n 's/^ExcNodeList=//p' | head -1)
    [ "$exc" = "(null)" ] && exc=""
    for n in $POF_LOST_NODES; do exc="${exc:+$exc,}$n"; done
    if _pof_scontrol update JobId="$SLURM_JOB_ID" ExcNodeList="$exc"; then
      pof_job_log "job $SLURM_JOB_ID requeued with ExcNodeList=$exc (once the node is back: scontrol update JobId=$SLURM_JOB_ID ExcNodeList=)"
    else
      pof_job_log "warning: could not exclude $POF_LOST_NODES from job $SLURM_JOB_ID; Slurm avoids them once it marks them down"
    fi
  fi
  return 0
}

_pof_got_term=0
_pof_child=""
_pof_forward() { # SIGNAL
  pof_job_log "SIG$1 received, forwarding it to the launcher (pid $_pof_child)"
  [ "$1" = TERM ] && _pof_got_term=1
  [ -n "$_pof_child" ] && kill -"$1" "$_pof_child" 2> /dev/null
}

# _pof_abort_watch PID : end launcher PID (TERM, then KILL 5 s later) when it is still running
# POF_ABORT_GRACE s after pof's watchdog wrote $POF_LOST_PEER_FILE
_pof_abort_watch() {
  local pid="$1" t
  trap 'exit 0' TERM
  while kill -0 "$pid" 2> /dev/null; do
    if [ -s "$POF_LOST_PEER_FILE" ]; then
      for ((t = 0; t < ${POF_ABORT_GRACE:-30}; t++)); do kill -0 "$pid" 2> /dev/null || exit 0; sleep 1; done
      pof_job_log "the launcher has not ended ${POF_ABORT_GRACE:-30} s after pof's watchdog gave up ($(head -1 "$POF_LOST_PEER_FILE")): ending it"
      kill -TERM "$pid" 2> /dev/null; sleep 5; kill -KILL "$pid" 2> /dev/null
      exit 0
    fi
    sleep 1
  done
}

# pof_run_requeue ARGS... : see the header. Returns pof's status (0 after a successful requeue).
pof_run_requeue() {
  local rc r2 st n
  pof_launch_cmd "$POF_RANKS" || return 1
  if [ -n "${SLURM_JOB_ID:-}" ] && [ -n "${POF_RESTART_LOG:-}" ]; then
    mkdir -p "$(dirname "$POF_RESTART_LOG")" || return 1
    _pof_account_unrecorded
    n=$(_pof_lost_count)
    if [ "$n" -gt "$POF_MAX_RESTARTS" ]; then
      pof_job_log "error: job $SLURM_JOB_ID lost a peer $n times, more than POF_MAX_RESTARTS=$POF_MAX_RESTARTS: not restarting (see $POF_RESTART_LOG; resubmit to continue from the newest checkpoint)"
      _pof_rlog "event=end status=none mapped=69 action=give-up"
      return 69
    fi
    _pof_rlog "event=start nodes=${SLURM_JOB_NODELIST:-} launcher=$POF_LAUNCHER"
  fi
  pof_job_log "start (job ${SLURM_JOB_ID:-none}, restart ${SLURM_RESTART_COUNT:-0}): ${POF_LAUNCH_CMD[*]} $POF $*"
  _pof_got_term=0
  # pof's -run_step_timeout watchdog appends its error to this file before MPI_Abort; a launcher
  # that cannot reach a silent node never finishes that abort, so it is ended POF_ABORT_GRACE s
  # (default 30) after the file appears, and the status is a lost peer
  # (in the run directory, which every node sees; else TMPDIR)
  local mdir="${TMPDIR:-/tmp}"
  [ -n "${POF_RESTART_LOG:-}" ] && mdir="$(dirname "$POF_RESTART_LOG")"
  export POF_LOST_PEER_FILE="$mdir/.pof-lost-peer.${SLURM_JOB_ID:-local}.$$"
  rm -f "$POF_LOST_PEER_FILE"
  _pof_lost_mark=""
  [ "$POF_LAUNCHER" = mpirun ] && POF_LAUNCH_CMD+=(-x POF_LOST_PEER_FILE)
  "${POF_LAUNCH_CMD[@]}" "$POF" "$@" &
  _pof_child=$!
  _pof_abort_watch "$_pof_child" &
  local watcher=$!
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
  trap - USR1
  _pof_child=""
  kill "$watcher" 2> /dev/null
  wait "$watcher" 2> /dev/null
  [ -s "$POF_LOST_PEER_FILE" ] && _pof_lost_mark=$(head -1 "$POF_LOST_PEER_FILE")
  rm -f "$POF_LOST_PEER_FILE"
  if [ $rc -eq 75 ]; then
    trap - TERM
    _pof_rlog "event=end status=75 mapped=75 action=requeue"
    if [ -n "${SLURM_JOB_ID:-}" ]; then
      pof_job_log "pof stopped after writing a checkpoint (exit 75): requeueing job $SLURM_JOB_ID"
      if scontrol requeue "$SLURM_JOB_ID"; then return 0; fi
      pof_job_log "error: scontrol requeue $SLURM_JOB_ID failed; resubmit the same script and options to continue"
    else
      pof_job_log "pof stopped after writing a checkpoint (exit 75): rerun the same command to continue"
    fi
    return 75
  fi
  if [ $_pof_got_term = 1 ] && [ $rc -ne 0 ]; then
    # Slurm is ending the job (scancel, time limit, node failure): nothing to decide here; if Slurm
    # requeues it, the next run counts this one (_pof_account_unrecorded)
    trap - TERM
    _pof_rlog "event=end status=$rc mapped=$rc action=ended-by-slurm"
    pof_job_log "pof exited with status $rc after SIGTERM: the job is being ended by Slurm"
    return $rc
  fi
  pof_map_status "$rc"
  st=$POF_STATUS
  trap - TERM
  if [ "$st" -eq 69 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    n=$(_pof_lost_count)
    if [ "$n" -ge "$POF_MAX_RESTARTS" ]; then
      _pof_rlog "event=end status=$rc mapped=69 action=give-up lost=${POF_LOST_NODES// /,}"
      pof_job_log "error: a peer was lost (launcher status $rc, mapped to 69) and job $SLURM_JOB_ID already restarted $n times after a lost peer (POF_MAX_RESTARTS=$POF_MAX_RESTARTS): giving up; the newest complete checkpoint is intact, resubmit to continue"
      return 69
    fi
    _pof_rlog "event=end status=$rc mapped=69 action=requeue lost=${POF_LOST_NODES// /,} lost_peer=1"
    pof_job_log "a peer was lost (launcher status $rc, mapped to 69${POF_LOST_NODES:+; lost node(s): $POF_LOST_NODES}): requeueing job $SLURM_JOB_ID, restart $((n + 1)) of at most $POF_MAX_RESTARTS"
    if _pof_requeue_lost; then return 0; fi
    return 69
  fi
  _pof_rlog "event=end status=$rc mapped=$st action=$([ "$st" -eq 0 ] && echo done || echo fail)"
  if [ "$st" -ne "$rc" ]; then
    pof_job_log "pof exited with status $rc, mapped to $st"
  else
    pof_job_log "pof exited with status $rc"
  fi
  return "$st"
}

# pof_job_main COMMAND DEFAULT_RUN_DIR ARGS... : the body of pretrain.sbatch and posttrain.sbatch.
# Options, in this order (a later one wins): -run_step_timeout $POF_STEP_TIMEOUT (default 600;
# 0 = not given, so off), -options_file $POF_OPTIONS_FILE, -data_file $POF_DATA,
# -model_in $POF_MODEL_IN, -run_dir $POF_RUN_DIR (else DEFAULT_RUN_DIR unless ARGS give -run_dir),
# the words of $POF_ARGS, then ARGS (the arguments after the script name on the sbatch line).
pof_job_main() {
  local cmd="$1" dir="$2" a extra=()
  shift 2
  local args=()
  # the hung-rank watchdog (README "Running on many nodes"): first, so a -run_step_timeout in the
  # options file or the arguments wins
  [ "${POF_STEP_TIMEOUT:-600}" != 0 ] && args+=(-run_step_timeout "${POF_STEP_TIMEOUT:-600}")
  [ -n "${POF_OPTIONS_FILE:-}" ] && args+=(-options_file "$POF_OPTIONS_FILE")
  [ -n "${POF_DATA:-}" ] && args+=(-data_file "$POF_DATA")
  [ -n "${POF_MODEL_IN:-}" ] && args+=(-model_in "$POF_MODEL_IN")
  read -r -a extra <<< "${POF_ARGS:-}"
  local has_dir=0
  local run_dir="${POF_RUN_DIR:-$dir}" prev=""
  for a in "${extra[@]}" "$@"; do
    [ "$prev" = -run_dir ] && run_dir="$a" # pof takes the last -run_dir given
    [ "$a" = -run_dir ] && has_dir=1
    prev="$a"
  done
  [ $has_dir = 1 ] || args+=(-run_dir "$run_dir")
  # the lead time of the scripts' "#SBATCH --signal=B:USR1@300": pof warns when a checkpoint write
  # takes more than a third of it (POF_SIGNAL_LEAD for a script submitted with another --signal)
  args+=(-run_signal_lead "${POF_SIGNAL_LEAD:-300}")
  POF_RESTART_LOG="$run_dir/job-restarts.log"
  pof_run_requeue "$cmd" "${args[@]}" "${extra[@]}" "$@"
}
