# Shared setup of the cluster tests: the pof binary, an N-node Slurm made of network namespaces on
# this machine (tests/slurm/harness.sh, slurm_start_cluster), a work directory (removed when every
# check passed), a tiny dataset.  Usage: . common.sh POF SRC NODES
# Exits 77 (CTest: skipped) when this system cannot make network namespaces; when it can
# (`unshare -n true` works), any failure to build the cluster is a test failure.
pof="$1"; src="$2"; nodes="${3:-2}"
. "$src/tests/shell/lib.sh"
. "$src/tests/slurm/harness.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
export POF="$pof" POF_ROOT="$src"
W=$(mktemp -d /tmp/pof-cluster-test.XXXXXX)
cd "$W" || exit 1
echo "work dir: $W"
slurm_start_cluster "$nodes"
case $? in
  0) ok "$nodes-node Slurm started: nodes ${SLURM_NODE_NAMES[*]} (network + UTS namespaces, own slurmd each) on $SLURM_SUBNET" ;;
  77) echo "SKIP: network namespaces cannot be made here (unshare -n true fails)"; cd /; rm -rf "$W"; exit 77 ;;
  *) bad "$nodes-node Slurm did not start"; finish; exit 1 ;;
esac
# now_ms : wall clock in milliseconds
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# secs MS : milliseconds as seconds with one decimal
secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
# wait_until TIMEOUT CMD... : poll CMD every 0.2 s, at most TIMEOUT s; the seconds it took in $WAITED
wait_until() {
  local tmo="$1" t0
  shift
  t0=$(now_ms)
  until "$@"; do
    [ $(($(now_ms) - t0)) -gt $((tmo * 1000)) ] && { WAITED=""; return 1; }
    sleep 0.2
  done
  WAITED=$(secs $(($(now_ms) - t0)))
}
# ckpt_step DIR : the newest checkpoint's global step (empty if none)
ckpt_step() { ls "$1"/ckpt-*.h5 2> /dev/null | sed -n 's/.*ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -1; }
# ref_run DIR RANKS OPTS... : the uninterrupted reference run outside Slurm, on this host
ref_run() {
  local d="$1" r="$2"
  shift 2
  timeout 300 mpiexec --oversubscribe -n "$r" -x OMP_NUM_THREADS=1 "$pof" pretrain "$@" -run_dir "$d" -run_quiet > "$d.log" 2>&1
}
# same_model A B DESC : parameters, momentum and BN statistics bitwise equal
same_model() {
  if /usr/bin/python3 "$src/tests/resume/compare_models.py" "$1" "$2" > "cmp-$$.txt" 2>&1; then
    ok "$3: bitwise equal ($(grep -c 'bytes differing 0' "cmp-$$.txt") arrays)"
  else
    bad "$3: models differ"; cat "cmp-$$.txt"
  fi
}
# cluster_finish: stop the cluster now and check that nothing it started is left (daemons,
# namespaces, links, job processes), then the summary; the work directory is removed when every
# check passed.
cluster_finish() {
  local ns=() n left
  for n in "${SLURM_NODE_NAMES[@]}"; do ns+=("${_slurm_node_ns[$n]}"); done
  local pids
  pids=$(cat "$SLURM_TMP/run/harness.pids" 2> /dev/null)
  local br="$_slurm_bridge"
  slurm_stop
  left=""
  for n in "${ns[@]}"; do [ -e "/run/netns/$n" ] && left+=" netns:$n"; done
  ip link show "$br" > /dev/null 2>&1 && left+=" bridge:$br"
  for n in $pids; do kill -0 "$n" 2> /dev/null && left+=" pid:$n"; done
  pgrep -f "$W/" > /dev/null && left+=" processes-using-$W"
  [ -z "$left" ] && ok "cluster stopped: no namespace, link, daemon or job process left" || bad "left behind:$left"
  finish; local rc=$?
  cd / && if [ $rc -eq 0 ] && [ "${POF_TEST_KEEP:-0}" != 1 ]; then rm -rf "$W"; else echo "kept $W"; fi
  exit $rc
}
# requeued ID : the job is pending again after at least one restart
requeued() { [ "$(slurm_job_field "$1" JobState)" = PENDING ] && [ "$(slurm_job_field "$1" Restarts)" -ge "${2:-1}" ]; }
# release ID : start a requeued job now (it is held until its begin time, ~2 min) once no node is
# completing the previous run
release() {
  wait_until 60 eval '! sinfo -h -N -o %T | grep -q completing' || bad "nodes still completing"
  sleep 1
  # it may have started by itself meanwhile (begin time reached)
  [ "$(slurm_job_field "$1" JobState)" != PENDING ] || scontrol update JobId="$1" StartTime=now || bad "scontrol update JobId=$1 StartTime=now"
}
# log_delay OUT PATTERN T_MS : whole seconds from T_MS (epoch ms) to the first pof-job line of OUT
# matching PATTERN (the job scripts stamp their lines with the UTC time of day)
log_delay() {
  local hms
  hms=$(grep -m1 "pof-job\[.*$2" "$1" | sed -n 's/^pof-job\[\([0-9:]*\)\].*/\1/p')
  [ -n "$hms" ] || { echo "?"; return; }
  echo $(($(date -u -d "$hms" +%s) - $3 / 1000))
}
# resumed_step OUT : the global step the (first) resumed run started from
resumed_step() { grep -o 'resuming from [^ ]*ckpt-[0-9]*\.h5' "$1" | head -1 | sed -n 's/.*ckpt-0*\([0-9][0-9]*\)\.h5/\1/p'; }
# past DIR STEP : a checkpoint of global step >= STEP exists in DIR
past() { local s; s=$(ckpt_step "$1"); [ -n "$s" ] && [ "$s" -ge "$2" ]; }
# running ID : the job is running
running() { [ "$(slurm_job_field "$1" JobState)" = RUNNING ]; }
