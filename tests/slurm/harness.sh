# A one-node Slurm on localhost for the tests, everything under a temporary directory.
# Source it, then call slurm_start; slurm_stop runs from an EXIT trap, so the daemons it started
# (munged, slurmctld, slurmd) are stopped also when a test fails or is interrupted.
#
#   source tests/slurm/harness.sh; slurm_start      # exports SLURM_CONF, SLURM_TMP
#   sbatch ...; slurm_wait_job ID [TIMEOUT]         # wait until job ID leaves the queue
#
# slurm.conf: proctrack/linuxproc, task/none, SlurmUser=root, one node (this host, CPUs=2,
# RealMemory from `slurmd -C`), free TCP ports, state/spool/log in the temp dir, its own munge
# key and socket (AuthInfo=socket=...). Needs root (slurmd) and Debian's slurm-wlm and munge.

SLURM_TMP=""
_slurm_pids=()
_slurm_watch=""

slurm_log() { echo "slurm-harness: $*" >&2; }

# The daemons' logs, for a failing test.
slurm_dump_logs() {
  [ -n "$SLURM_TMP" ] || return 0
  for f in "$SLURM_TMP"/log/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 30 lines)" >&2
    tail -30 "$f" >&2
  done
}

# _slurm_cancel_all: cancel every job of this cluster and wait (10 s at most) until none is left,
# so no job (slurmstepd and pof, which survive slurmd) outlives the daemons.
_slurm_cancel_all() {
  timeout 10 scancel --quiet --user="$(id -un)" 2> /dev/null || return 0
  for _ in $(seq 50); do
    [ -z "$(timeout 5 squeue -h -o %i 2> /dev/null)" ] && return 0
    sleep 0.2
  done
}

slurm_stop() {
  local pid i
  rm -f "${T_OUT:-}"
  if [ -n "$_slurm_watch" ]; then kill -KILL "$_slurm_watch" 2> /dev/null; wait "$_slurm_watch" 2> /dev/null; _slurm_watch=""; fi
  if [ -n "$SLURM_TMP" ] && [ -n "${SLURM_CONF:-}" ] && [ ${#_slurm_pids[@]} -gt 0 ]; then _slurm_cancel_all; fi
  for ((i = ${#_slurm_pids[@]} - 1; i >= 0; i--)); do
    pid=${_slurm_pids[i]}
    kill -TERM "$pid" 2> /dev/null || continue
  done
  for pid in "${_slurm_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  _slurm_pids=()
  if [ -n "$SLURM_TMP" ] && [ -d "$SLURM_TMP" ] && [ "${SLURM_KEEP_TMP:-0}" != 1 ]; then rm -rf "$SLURM_TMP"; fi
}

_slurm_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# slurm_start: start munged, slurmctld and slurmd, wait until the node is idle (60 s at most).
slurm_start() {
  local host mem p1 p2 t
  [ "$(id -u)" -eq 0 ] || { slurm_log "needs root (slurmd runs jobs as their user)"; return 1; }
  for t in munged slurmctld slurmd sbatch scontrol sinfo; do
    command -v "$t" > /dev/null || [ -x "/usr/sbin/$t" ] || { slurm_log "$t not installed (Debian: slurm-wlm munge)"; return 1; }
  done
  SLURM_TMP=$(mktemp -d /tmp/pof-slurm.XXXXXX)
  chmod 755 "$SLURM_TMP"
  trap 'slurm_stop' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$SLURM_TMP"/{munge,state,spool,log,run}
  chmod 700 "$SLURM_TMP/munge"
  head -c 1024 /dev/urandom > "$SLURM_TMP/munge/munge.key"
  chmod 400 "$SLURM_TMP/munge/munge.key"
  /usr/sbin/munged --foreground --force --socket="$SLURM_TMP/munge/munge.socket" \
    --key-file="$SLURM_TMP/munge/munge.key" --pid-file="$SLURM_TMP/munge/munged.pid" \
    --seed-file="$SLURM_TMP/munge/munged.seed" --log-file="$SLURM_TMP/log/munged.log" \
    > "$SLURM_TMP/log/munged.out" 2>&1 &
  _slurm_pids+=($!)
  for _ in $(seq 50); do [ -S "$SLURM_TMP/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$SLURM_TMP/munge/munge.socket" ] || { slurm_log "munged did not start"; cat "$SLURM_TMP/log/munged.out" >&2; slurm_dump_logs; return 1; }

  host=$(hostname -s)
  mem=$(/usr/sbin/slurmd -C 2> /dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mem=$((${mem:-2048} * 9 / 10))
  p1=$(_slurm_free_port); p2=$(_slurm_free_port)
  while [ "$p2" = "$p1" ]; do p2=$(_slurm_free_port); done
  : > "$SLURM_TMP/plugstack.conf"
  cat > "$SLURM_TMP/slurm.conf" << CONF
ClusterName=poftest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SLURM_TMP/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
KillWait=10
StateSaveLocation=$SLURM_TMP/state
SlurmdSpoolDir=$SLURM_TMP/spool
SlurmctldPidFile=$SLURM_TMP/run/slurmctld.pid
SlurmdPidFile=$SLURM_TMP/run/slurmd.pid
SlurmctldLogFile=$SLURM_TMP/log/slurmctld.log
SlurmdLogFile=$SLURM_TMP/log/slurmd.log
PlugStackConfig=$SLURM_TMP/plugstack.conf
MailProg=/bin/true
SchedulerParameters=kill_invalid_depend
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$SLURM_TMP/slurm.conf"
  /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" > "$SLURM_TMP/log/slurmctld.out" 2>&1 &
  _slurm_pids+=($!)
  /usr/sbin/slurmd -D -f "$SLURM_CONF" -N "$host" > "$SLURM_TMP/log/slurmd.out" 2>&1 &
  _slurm_pids+=($!)
  local state=""
  for _ in $(seq 120); do
    state=$(sinfo -h -N -o %T 2> /dev/null | head -1)
    [ "$state" = idle ] && break
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    slurm_log "node not idle after 60 s (state '$state')"
    cat "$SLURM_TMP"/log/*.out >&2
    slurm_dump_logs
    return 1
  fi
  # watchdog: if this shell is killed without running its EXIT trap (SIGKILL, e.g. a test
  # timeout), stop the jobs and daemons anyway
  (
    trap '' INT TERM
    while kill -0 $$ 2> /dev/null; do sleep 1; done
    _slurm_cancel_all
    kill -TERM "${_slurm_pids[@]}" 2> /dev/null; sleep 2; kill -KILL "${_slurm_pids[@]}" 2> /dev/null
    rm -rf "$SLURM_TMP"
  ) > /dev/null 2>&1 &
  _slurm_watch=$!
  slurm_log "one-node Slurm up in $SLURM_TMP (node $host idle, ports $p1/$p2)"
}

# slurm_job_field ID FIELD : a field of `scontrol show job` (e.g. JobState, Restarts, ExitCode).
slurm_job_field() {
  scontrol -o show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# slurm_wait_job ID [TIMEOUT=120] : wait until job ID (all tasks of an array) is no longer
# pending or running; returns 1 on timeout.
slurm_wait_job() {
  local id="$1" tmo="${2:-120}" t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$tmo" ]; do
    [ -z "$(squeue -h -j "$id" -o %i 2> /dev/null)" ] && return 0
    sleep 0.5
  done
  slurm_log "job $id still queued after $tmo s:"; squeue >&2; return 1
}

# slurm_wait_state ID STATE [TIMEOUT=60] : wait until job ID is in STATE.
slurm_wait_state() {
  local id="$1" want="$2" tmo="${3:-60}" t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$tmo" ]; do
    [ "$(slurm_job_field "$id" JobState)" = "$want" ] && return 0
    sleep 0.3
  done
  slurm_log "job $id not $want after $tmo s (state $(slurm_job_field "$id" JobState))"; return 1
}
