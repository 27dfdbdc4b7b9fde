#!/bin/bash
# comm_net.sh: pof's gradient exchange and parameter gather over a measured, capped network,
# against the communication model (bench/comm_model.py; docs/design.md "Communication model").
#
# What it does, for each node count in NODES and each link rate in RATES:
#  - makes the "nodes": one network namespace each (own UTS namespace and hostname when MPI runs
#    in it), a veth link from it to a bridge this script creates, addresses in a 10.224.X.0/24
#    no address or route of this host uses (the Slurm test cluster, tests/slurm/harness.sh, uses
#    10.223.X.0/24 and its own names: the two cannot collide); the host has .254 on the bridge
#    (mpirun's daemon wiring only);
#  - caps each node's link with tbf at the rate in both directions: the node's egress (eth0 in
#    its namespace) and its ingress (the host end of its veth); "none" = no cap;
#  - measures the achieved rate node 1 -> node 2 (one TCP stream, bench/comm_net.py rate);
#  - runs build-dev/tests/comm_bench across the nodes (one rank per node, TCP) and
#    `pof bench` (WRN-16-4, 1 thread per rank, small batch; its exchange object gives the
#    measured grad_wait and param_gather per step, averaged over ranks).
# Every line is appended to OUT (JSON lines, tagged with nodes, rate and kind), then
# bench/comm_net.py fits and compares (see there).
#
# Launching the ranks into the namespaces (no Slurm): mpirun runs on this host with
# `--host <node IPs>` and `--mca plm_rsh_agent <agent>`; the agent, called as `agent IP command`
# by Open MPI's rsh launcher, runs `nsenter --net=/run/netns/<ns> unshare --uts sh -c
# 'hostname <node>; command'` (not `ip netns exec`, which remounts /sys). `--mca btl self,tcp`
# and `btl_tcp_if_include`/`oob_tcp_if_include` = the bridge subnet: ranks talk TCP over the capped
# links, never shared memory. `mpi_yield_when_idle 1`: a waiting rank yields the CPU (the nodes
# share this host's cores; as the test suite runs MPI).
#
# Cleanup: a trap on EXIT/INT/TERM kills every process in the namespaces, deletes the
# namespaces, the host veth ends and the bridge, and the temporary directory; nothing else is
# touched. Needs root, iproute2 (ip, tc with tbf), util-linux (nsenter, unshare).
#
# Usage: bench/comm_net.sh [OUT.jsonl]      (as root, from the worktree; build-dev built)
#   env: NODES="2 4"  RATES="1gbit 3gbit none"  BUILD=build-dev  BENCH_STEPS=10  BATCH_PER_RANK=4
#        REPS=5 (comm_bench repetitions)  MAXB=8388608 (comm_bench largest message)
#        EXCHANGES="rh libnbc" (pof's gradient reduce-scatter, POF_REDUCE_SCATTER, src/comm/shard.c)
# pof bench runs under bench/mpi_skew.c (LD_PRELOAD), which records when each rank reaches the
# gradient wait and the parameter gather: the rank imbalance the waits include.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$src/bench/results/comm_net_$(date -u +%F).jsonl}
NODES=${NODES:-"2 4"}
RATES=${RATES:-"1gbit 3gbit none"}
BUILD=${BUILD:-$src/build-dev}
BENCH_STEPS=${BENCH_STEPS:-10}
BATCH_PER_RANK=${BATCH_PER_RANK:-4}
REPS=${REPS:-5}
EXCHANGES=${EXCHANGES:-"rh libnbc"}
MAXB=${MAXB:-8388608}
TBF_LATENCY=${TBF_LATENCY:-5ms}
POF=$BUILD/pof
CB=$BUILD/tests/comm_bench
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
log() { echo "comm_net[$(date -u +%T)]: $*" >&2; }
die() { log "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tc)"
for t in ip tc nsenter unshare mpirun; do command -v $t > /dev/null || die "$t not found"; done
[ -x "$POF" ] && [ -x "$CB" ] || die "build $BUILD first (pof and tests/comm_bench)"
unshare -n true 2> /dev/null || die "network namespaces cannot be made here"

id=$(($$ % 10000))
T=$(mktemp -d /tmp/pof-comm-net.XXXXXX)
BR="pcn${id}b"
NS=()   # namespace per node index
VH=()   # host veth end per node index
MPI_PID=""
cleanup() {
  local ns p
  [ -n "$MPI_PID" ] && kill -TERM "$MPI_PID" 2> /dev/null
  for ns in "${NS[@]}"; do
    [ -e "/run/netns/$ns" ] || continue
    for p in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$p" 2> /dev/null; done
  done
  sleep 0.3
  for ns in "${NS[@]}"; do ip netns del "$ns" 2> /dev/null; done
  for p in "${VH[@]}"; do ip link del "$p" 2> /dev/null; done
  ip link del "$BR" 2> /dev/null
  rm -rf "$T"
  NS=() VH=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a 10.224.X.0/24 that no address or route here uses
used=$(ip -o addr; ip route)
pre=""
for k in $(seq 0 253); do
  x=$(((id + k) % 254 + 1))
  grep -q "10\.224\.$x\." <<< "$used" || { pre="10.224.$x"; break; }
done
[ -n "$pre" ] || die "no free 10.224.X.0/24"
SUBNET="$pre.0/24"

# make_nodes N: bridge, N namespaces with eth0 = $pre.i (i = 1..N)
make_nodes() {
  local n="$1" i
  ip link add "$BR" type bridge && ip addr add "$pre.254/24" dev "$BR" && ip link set "$BR" up \
    || die "bridge $BR"
  for i in $(seq 1 "$n"); do
    NS[i]="pcn${id}n$i" VH[i]="pcn${id}v$i"
    ip netns add "${NS[i]}" \
      && ip link add "${VH[i]}" type veth peer name eth0 netns "${NS[i]}" \
      && ip link set "${VH[i]}" master "$BR" up \
      && nsenter --net="/run/netns/${NS[i]}" sh -c \
        "ip link set lo up && ip addr add $pre.$i/24 dev eth0 && ip link set eth0 up" \
      || die "node $i"
    echo "$pre.$i ${NS[i]} pcn-node$i" >> "$T/nodes"
  done
  # the agent Open MPI's rsh launcher calls: agent HOST COMMAND...
  cat > "$T/agent" << EOF
#!/bin/bash
h="\$1"; shift
set -- \$(grep "^\$h " "$T/nodes") "\$*"
[ -n "\${2:-}" ] || { echo "agent: unknown host \$h" >&2; exit 1; }
exec nsenter --net="/run/netns/\$2" unshare --uts sh -c "hostname \$3; \$4"
EOF
  chmod +x "$T/agent"
  mpicc -O2 -shared -fPIC -o "$T/libmpi_skew.so" "$src/bench/mpi_skew.c" || die "mpi_skew.c"
  sleep 1 # (the link-rate stream below fails when a link is not up)
}

# cap RATE: tbf on both ends of every node's link ("none": no qdisc)
cap() {
  local r="$1" i burst
  for i in $(seq 1 $((${#NS[@]}))); do
    nsenter --net="/run/netns/${NS[i]}" tc qdisc del dev eth0 root 2> /dev/null
    tc qdisc del dev "${VH[i]}" root 2> /dev/null
    [ "$r" = none ] && continue
    burst=$(/usr/bin/python3 "$src/bench/comm_net.py" burst "$r")
    nsenter --net="/run/netns/${NS[i]}" tc qdisc add dev eth0 root tbf rate "$r" burst "$burst" latency "$TBF_LATENCY" \
      || die "tbf on node $i"
    tc qdisc add dev "${VH[i]}" root tbf rate "$r" burst "$burst" latency "$TBF_LATENCY" || die "tbf on ${VH[i]}"
  done
}

# tag JSON lines from stdin with nodes, rate, kind, load and append them to OUT
tag() { /usr/bin/python3 "$src/bench/comm_net.py" tag --nodes "$1" --rate "$2" --kind "$3" >> "$OUT"; }

mpi() { # N ARGS... : one rank per node
  local n="$1" hosts="" i
  shift
  for i in $(seq 1 "$n"); do hosts+="${hosts:+,}$pre.$i:1"; done
  # in the background, so that a signal's trap runs at once (not after mpirun) and can end it
  timeout 900 mpirun -n "$n" --host "$hosts" --mca plm_rsh_agent "$T/agent" \
    --mca plm_rsh_no_tree_spawn 1 --mca btl self,tcp --mca btl_tcp_if_include "$SUBNET" \
    --mca oob_tcp_if_include "$SUBNET" --mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1 "$@" &
  MPI_PID=$!
  wait "$MPI_PID"
  local rc=$?
  MPI_PID=""
  return $rc
}

mkdir -p "$(dirname "$OUT")"
log "output $OUT; subnet $SUBNET; load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $NODES; do
  cleanup
  T=$(mktemp -d /tmp/pof-comm-net.XXXXXX)
  make_nodes "$n"
  log "$n nodes up: ${NS[*]}"
  for r in $RATES; do
    cap "$r"
    log "$n nodes, rate $r: link rate"
    nsenter --net="/run/netns/${NS[2]}" /usr/bin/python3 "$src/bench/comm_net.py" recv "$pre.2" 5201 > "$T/rate" &
    rp=$!
    sleep 0.5
    nsenter --net="/run/netns/${NS[1]}" /usr/bin/python3 "$src/bench/comm_net.py" send "$pre.2" 5201 "$r" \
      || log "link-rate sender failed"
    wait $rp
    tag "$n" "$r" link < "$T/rate"
    log "$(cat "$T/rate")"
    log "$n nodes, rate $r: comm_bench"
    mpi "$n" "$CB" -max "$MAXB" -reps "$REPS" > "$T/cb" 2> "$T/cb.err" || { cat "$T/cb.err" >&2; die "comm_bench"; }
    tag "$n" "$r" comm_bench < "$T/cb"
    for alg in $EXCHANGES; do
      log "$n nodes, rate $r: pof bench, exchange $alg"
      rm -f "$T"/skew.*
      POF_REDUCE_SCATTER=$alg mpi "$n" -wdir "$T" -x POF_REDUCE_SCATTER -x LD_PRELOAD="$T/libmpi_skew.so" \
        -x MPI_SKEW_OUT="$T/skew" "$POF" bench -model_depth 16 -model_width 4 \
        -opt_batch $((BATCH_PER_RANK * n)) -bench_steps "$BENCH_STEPS" -bench_warmup 2 > "$T/pb" 2> "$T/pb.err" \
        || { cat "$T/pb" "$T/pb.err" >&2; die "pof bench"; }
      grep '^{' "$T/pb" | tail -1 | tag "$n" "$r" "pof_bench_$alg"
      /usr/bin/python3 "$src/bench/comm_net.py" skew --steps "$BENCH_STEPS" "$T"/skew.* | tag "$n" "$r" "skew_$alg"
      log "$(grep 'gradient exchange' "$T/pb")"
    done
  done
done
log "done; load $(cut -d' ' -f1-3 /proc/loadavg); compare: /usr/bin/python3 bench/comm_net.py compare $OUT"
