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
SLURM_NODE_LOCAL=""
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
  _slurm_net_teardown
  if [ -n "$SLURM_TMP" ] && [ -d "$SLURM_TMP" ] && [ "${SLURM_KEEP_TMP:-0}" != 1 ]; then rm -rf "$SLURM_TMP"; fi
}

# _slurm_track PID : a daemon slurm_stop (and the watchdog, through a file) must stop
_slurm_track() {
  _slurm_pids+=("$1")
  echo "$1" >> "$SLURM_TMP/run/harness.pids"
}

_slurm_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _slurm_prepare: checks, the temporary directory, the EXIT trap and munged (shared by the
# one-node Slurm and the cluster).
_slurm_prepare() {
  local t
  [ "$(id -u)" -eq 0 ] || { slurm_log "needs root (slurmd runs jobs as their user)"; return 1; }
  for t in munged slurmctld slurmd sbatch scontrol sinfo; do
    command -v "$t" > /dev/null || [ -x "/usr/sbin/$t" ] || { slurm_log "$t not installed (Debian: slurm-wlm munge)"; return 1; }
  done
  SLURM_TMP=$(mktemp -d /tmp/pof-slurm.XXXXXX)
  chmod 755 "$SLURM_TMP"
  SLURM_NODE_LOCAL="$SLURM_TMP/local" # multi-node: each node's own directory there (slurm_node_start)
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
  _slurm_track $!
  for _ in $(seq 50); do [ -S "$SLURM_TMP/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$SLURM_TMP/munge/munge.socket" ] || { slurm_log "munged did not start"; cat "$SLURM_TMP/log/munged.out" >&2; slurm_dump_logs; return 1; }
}

# _slurm_write_conf CTLD_ADDR : slurm.conf without nodes and partition (the caller appends them);
# SLURMD_CONF_EXTRA (lines) overrides the per-node paths and timeouts of the one-node Slurm.
_slurm_write_conf() {
  local p1 p2
  p1=$(_slurm_free_port); p2=$(_slurm_free_port)
  while [ "$p2" = "$p1" ]; do p2=$(_slurm_free_port); done
  _slurm_ports="$p1/$p2"
  : > "$SLURM_TMP/plugstack.conf"
  cat > "$SLURM_TMP/slurm.conf" << CONF
ClusterName=poftest
SlurmctldHost=$(hostname -s)($1)
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
SlurmctldPidFile=$SLURM_TMP/run/slurmctld.pid
SlurmctldLogFile=$SLURM_TMP/log/slurmctld.log
PlugStackConfig=$SLURM_TMP/plugstack.conf
MailProg=/bin/true
SchedulerParameters=kill_invalid_depend
${SLURMD_CONF_EXTRA:-SlurmdSpoolDir=$SLURM_TMP/spool
SlurmdPidFile=$SLURM_TMP/run/slurmd.pid
SlurmdLogFile=$SLURM_TMP/log/slurmd.log}
CONF
  export SLURM_CONF="$SLURM_TMP/slurm.conf"
}

# _slurm_mem : RealMemory for one node of N (90% of this host's, split over N nodes)
_slurm_mem() {
  local mem
  mem=$(/usr/sbin/slurmd -C 2> /dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  echo $((${mem:-2048} * 9 / 10 / ${1:-1}))
}

# _slurm_wait_idle N : wait until N nodes are idle (60 s at most)
_slurm_wait_idle() {
  local n="$1" idle=0
  for _ in $(seq 120); do
    idle=$(sinfo -h -N -o %T 2> /dev/null | grep -cx idle)
    [ "$idle" -ge "$n" ] && return 0
    sleep 0.5
  done
  slurm_log "$idle of $n nodes idle after 60 s:"
  sinfo -N >&2
  cat "$SLURM_TMP"/log/*.out >&2
  slurm_dump_logs
  return 1
}

# _slurm_start_watchdog: if this shell is killed without running its EXIT trap (SIGKILL, e.g. a
# test timeout), stop the jobs, the daemons and (cluster) the nodes' namespaces and links anyway
_slurm_start_watchdog() {
  (
    trap '' INT TERM
    while kill -0 $$ 2> /dev/null; do sleep 1; done
    export SLURM_CONF="$SLURM_TMP/slurm.conf"
    [ -f "$SLURM_CONF" ] && _slurm_cancel_all
    pids=$(cat "$SLURM_TMP/run/harness.pids" 2> /dev/null)
    kill -TERM $pids 2> /dev/null; sleep 2; kill -KILL $pids 2> /dev/null
    _slurm_net_teardown
    rm -rf "$SLURM_TMP"
  ) > /dev/null 2>&1 &
  _slurm_watch=$!
}

# slurm_start: start munged, slurmctld and slurmd, wait until the node is idle (60 s at most).
slurm_start() {
  local host
  _slurm_prepare || return 1
  host=$(hostname -s)
  _slurm_write_conf 127.0.0.1
  cat >> "$SLURM_CONF" << CONF
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$(_slurm_mem 1) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" > "$SLURM_TMP/log/slurmctld.out" 2>&1 &
  _slurm_track $!
  /usr/sbin/slurmd -D -f "$SLURM_CONF" -N "$host" > "$SLURM_TMP/log/slurmd.out" 2>&1 &
  _slurm_track $!
  _slurm_wait_idle 1 || return 1
  _slurm_start_watchdog
  slurm_log "one-node Slurm up in $SLURM_TMP (node $host idle, ports $_slurm_ports)"
}

# ---- A Slurm cluster of N nodes on this machine ------------------------------------------------
# slurm_start_cluster N : N "nodes" pofn1..pofnN, each a network namespace (its own hostname in
# its own UTS namespace, its own address on a veth link to a bridge this function creates) running
# its own slurmd (SlurmdSpoolDir and TmpFS per node, so srun --mpi=pmix works across nodes);
# slurmctld (SlurmctldHost = this host, on the bridge's address) and munged are shared. The file
# system is shared, as on a cluster with a shared home. Exports SLURM_CONF, SLURM_TMP,
# SLURM_SUBNET (a.b.c.0/24), and sets SLURM_NODE_NAMES (array) and SLURM_NODE_ADDR[name].
# Returns 77 (skip) when this kernel or container cannot make network namespaces, 1 on any other
# failure. Everything is removed by slurm_stop (EXIT trap) or by the watchdog.
# Timeouts (seconds, environment): SLURM_CLUSTER_SLURMD_TIMEOUT (SlurmdTimeout, default 10: a
# node that does not answer for that long is set DOWN and its jobs are requeued by Slurm).
SLURM_NODE_NAMES=()
declare -A SLURM_NODE_ADDR=() _slurm_node_ns=() _slurm_node_link=() _slurm_node_pid=()
_slurm_bridge=""

# _slurm_net_teardown: kill every process left in the nodes' namespaces, delete the namespaces
# (their veth ends go with them) and the bridge.
_slurm_net_teardown() {
  local n ns pids
  for n in "${SLURM_NODE_NAMES[@]}"; do
    ns=${_slurm_node_ns[$n]}
    [ -e "/run/netns/$ns" ] || continue
    for _ in 1 2 3; do
      pids=$(ip netns pids "$ns" 2> /dev/null)
      [ -z "$pids" ] && break
      kill -KILL $pids 2> /dev/null
      sleep 0.2
    done
    ip netns del "$ns" 2> /dev/null
    ip link del "${_slurm_node_link[$n]}" 2> /dev/null
  done
  [ -n "$_slurm_bridge" ] && ip link del "$_slurm_bridge" 2> /dev/null
  return 0
}

# _slurm_pick_subnet : a 10.223.X.0/24 (X from this shell's pid) no address or route here uses
_slurm_pick_subnet() {
  local x i used
  used=$(ip -o -4 addr show; ip -4 route show table all)
  for i in $(seq 0 199); do
    x=$(((($$ + i) % 200) + 20))
    grep -q "10\.223\.$x\." <<< "$used" || { echo "10.223.$x"; return 0; }
  done
  return 1
}

# slurm_node_start NAME : start (or restart, after slurm_node_kill) the slurmd of node NAME in its
# namespaces: nsenter into its network namespace, unshare a UTS namespace with the node's hostname
# (not `ip netns exec`: it remounts /sys, and slurmd then fails on cgroups) and a mount namespace
# in which $SLURM_NODE_LOCAL is the node's own directory: a node-local path (as /scratch or /tmp on
# a real cluster) that the same path shows other contents on each node. The test fills node N's
# copy at $SLURM_TMP/nodelocal/N from this host.
slurm_node_start() {
  local n="$1"
  mkdir -p "$SLURM_TMP/spool/$n" "$SLURM_TMP/tmp/$n" "$SLURM_TMP/nodelocal/$n" "$SLURM_NODE_LOCAL"
  nsenter --net="/run/netns/${_slurm_node_ns[$n]}" unshare --uts --mount --propagation private \
    /bin/sh -c 'hostname "$1" && mount --bind "$3" "$4" && exec /usr/sbin/slurmd -D -f "$2" -N "$1"' \
    sh "$n" "$SLURM_CONF" "$SLURM_TMP/nodelocal/$n" "$SLURM_NODE_LOCAL" \
    >> "$SLURM_TMP/log/slurmd-$n.out" 2>&1 &
  _slurm_node_pid[$n]=$!
  _slurm_track $!
  disown $! # no "Killed" notice from this shell when the node is killed
}

# slurm_node_kill NAME : the node dies: SIGKILL to every process in its network namespace (slurmd,
# slurmstepd, the batch shell, orted, the ranks), in one pass so none can react to another's
# death. Prints how many processes were killed.
slurm_node_kill() {
  local ns=${_slurm_node_ns[$1]} pids k=0
  for _ in 1 2 3; do
    pids=$(ip netns pids "$ns" 2> /dev/null)
    [ -z "$pids" ] && break
    kill -KILL $pids 2> /dev/null
    k=$((k + $(wc -w <<< "$pids")))
    sleep 0.1
  done
  echo "$k"
}

# slurm_node_silence NAME / slurm_node_unsilence NAME : the node's link goes down (up again): its
# processes keep running, no socket is closed, no packet gets through.
slurm_node_silence() { ip link set "${_slurm_node_link[$1]}" down; }
slurm_node_unsilence() { ip link set "${_slurm_node_link[$1]}" up; }

# slurm_node_pids NAME : the processes in node NAME's network namespace, one a line
slurm_node_pids() { ip netns pids "${_slurm_node_ns[$1]}" 2> /dev/null; }

# slurm_node_exec NAME CMD... : run CMD in node NAME's network namespace
slurm_node_exec() { local n="$1"; shift; nsenter --net="/run/netns/${_slurm_node_ns[$n]}" "$@"; }

# slurm_node_state NAME : the node's state as Slurm sees it (idle, allocated, down*, ...)
slurm_node_state() { sinfo -h -n "$1" -N -o %T 2> /dev/null | head -1; }

slurm_start_cluster() {
  local nn="${1:-2}" i n pre id tmo="${SLURM_CLUSTER_SLURMD_TIMEOUT:-10}"
  if ! unshare -n true 2> /dev/null; then
    slurm_log "skip: this system cannot make network namespaces (unshare -n true failed)"
    return 77
  fi
  for t in ip nsenter unshare; do command -v $t > /dev/null || { slurm_log "$t not installed (iproute2, util-linux)"; return 1; }; done
  _slurm_prepare || return 1
  pre=$(_slurm_pick_subnet) || { slurm_log "no free 10.223.X.0/24 subnet"; return 1; }
  export SLURM_SUBNET="$pre.0/24"
  id=$(printf '%05d' $(($$ % 100000)))
  _slurm_bridge="pofb$id"
  for i in $(seq "$nn"); do
    n="pofn$i"
    SLURM_NODE_NAMES+=("$n")
    SLURM_NODE_ADDR[$n]="$pre.$((10 + i))"
    _slurm_node_ns[$n]="pof$id-$n"
    _slurm_node_link[$n]="pofv${id}n$i"
  done
  # the watchdog must know the names before anything exists: start it now, it only acts once this
  # shell is gone
  _slurm_start_watchdog
  ip link add "$_slurm_bridge" type bridge && ip addr add "$pre.1/24" dev "$_slurm_bridge" && ip link set "$_slurm_bridge" up \
    || { slurm_log "could not create bridge $_slurm_bridge"; return 1; }
  for n in "${SLURM_NODE_NAMES[@]}"; do
    ip netns add "${_slurm_node_ns[$n]}" \
      && ip link add "${_slurm_node_link[$n]}" type veth peer name eth0 netns "${_slurm_node_ns[$n]}" \
      && ip link set "${_slurm_node_link[$n]}" master "$_slurm_bridge" up \
      && ip -n "${_slurm_node_ns[$n]}" addr add "${SLURM_NODE_ADDR[$n]}/24" dev eth0 \
      && ip -n "${_slurm_node_ns[$n]}" link set eth0 up \
      && ip -n "${_slurm_node_ns[$n]}" link set lo up \
      || { slurm_log "could not create namespace and link of node $n"; return 1; }
  done
  SLURMD_CONF_EXTRA="SlurmdSpoolDir=$SLURM_TMP/spool/%n
TmpFS=$SLURM_TMP/tmp/%n
SlurmdPidFile=$SLURM_TMP/run/slurmd-%n.pid
SlurmdLogFile=$SLURM_TMP/log/slurmd-%n.log
SlurmdTimeout=$tmo" _slurm_write_conf "$pre.1"
  cat >> "$SLURM_CONF" << CONF
NodeName=pofn[1-$nn] NodeAddr=$pre.[11-$((10 + nn))] CPUs=2 RealMemory=$(_slurm_mem "$nn") State=UNKNOWN
PartitionName=debug Nodes=pofn[1-$nn] Default=YES MaxTime=INFINITE State=UP
CONF
  /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" > "$SLURM_TMP/log/slurmctld.out" 2>&1 &
  _slurm_track $!
  for n in "${SLURM_NODE_NAMES[@]}"; do slurm_node_start "$n"; done
  _slurm_wait_idle "$nn" || return 1
  slurm_log "$nn-node Slurm up in $SLURM_TMP (nodes ${SLURM_NODE_NAMES[*]} idle on $SLURM_SUBNET, bridge $_slurm_bridge, slurmctld $pre.1, ports $_slurm_ports)"
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

# Helpers of the job tests (one-node and cluster), for a test that defines $src and sources
# tests/shell/lib.sh (ok, bad):
# tiny DATASET C H W CLASSES NTRAIN NTEST : a small pof dataset file
tiny() { /usr/bin/python3 "$src/tests/slurm/make_data.py" "$@" > /dev/null; }
# submit ARGS... : sbatch --parsable, job id in $JOB
submit() { JOB=$(sbatch --parsable "$@") && [ -n "$JOB" ]; }
# job_done ID DESC : the job completed with exit code 0:0 (else show the daemons' logs)
job_done() {
  local st ec
  st=$(slurm_job_field "$1" JobState); ec=$(slurm_job_field "$1" ExitCode)
  if [ "$st" = COMPLETED ] && [ "$ec" = 0:0 ]; then ok "$2 (job $1 COMPLETED, exit 0:0)"; return 0; fi
  bad "$2: job $1 state $st exit $ec"; slurm_dump_logs; return 1
}
