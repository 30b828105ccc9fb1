#!/usr/bin/env bash
# lab/failover.sh SCENARIO: tandem's real failover lab (issue 5, docs/ha.md).
#
# One command: builds tandem and the lab's probe, sets up network namespaces,
# a 3-member etcd cluster and three tandem nodes (examples/cluster/), puts
# SIP traffic through the floating IP with SIPp, injects the scenario's
# fault, measures, tears everything down and prints a JSON report as the
# LAST line of standard output. Progress and diagnostics go to stderr.
#
#   lab/failover.sh kill-leader        # kill -9 the tandem holding the floating IP
#   lab/failover.sh drain              # `tandem cluster drain` on the leader (SIGTERM if absent)
#   lab/failover.sh leader-isolated    # ip link set eth0 down in the leader's namespace
#   lab/failover.sh kill-follower      # kill -9 a tandem that does not hold the IP
#   lab/failover.sh kill-etcd-leader   # kill -9 the etcd member that is raft leader
#   lab/failover.sh full-restart       # SIGTERM all three tandems, start them again
#   lab/failover.sh no-fault           # the same traffic, no fault (baseline)
#   lab/failover.sh single-node        # harness self-test: one tandem, embedded store,
#                                      #   traffic to its own address, no fault
#   lab/failover.sh all                # the six failover scenarios in turn
#
# `all` prints each scenario's JSON line as it finishes, then one summary
# line: {"scenario":"all","pass":...,"takeover_ms":[...],
# "takeover_median_ms":...,"failed":[...],"results":[...every report...]}.
#
# Exit status: 0 every goal met; 1 a goal missed (the report says which in
# "reasons"); 2 usage; 3 the lab itself could not run (setup failed: the
# report has "error"). Needs root (namespaces), Debian's sip-tester (SIPp
# 3.6.1), etcd-server and iproute2: scripts/test-deps.sh installs them.
#
# Topology (only 198.18.0.0/24, only inside namespaces this run creates;
# nothing is added to the root namespace):
#
#   ns P-br: bridge br0
#     ├─ ns P-n1 eth0 198.18.0.11  etcd n1 (:2379/:2380) + tandem node1
#     ├─ ns P-n2 eth0 198.18.0.12  etcd n2                + tandem node2
#     ├─ ns P-n3 eth0 198.18.0.13  etcd n3                + tandem node3
#     └─ ns P-c  eth0 198.18.0.50  SIPp UAS answering (port 5070)
#                     198.18.0.51  SIPp UAS ringing RING_MS then answering (5070)
#                     198.18.0.52  SIPp callers (ports 5061..5065)
#                     198.18.0.53  lab-probe OPTIONS every 10 ms
#   floating IP 198.18.0.100: added and removed by tandem itself.
#   P = tl<pid of this script>.
#
# What runs, in order: namespaces; the holder sampler (lab-probe holders:
# which node namespaces have 198.18.0.100 configured, from the kernel, every
# 10 ms); etcd; `tandem ext import` of USERS extensions 2000.. (password
# lab-pw-N) plus callers 1001..1005; node1, then node2 and node3, each
# answering OPTIONS on its own address; the floating IP answering; the
# OPTIONS probe; REGISTER of every user (expires 3600; users 2000.. minus the
# last RING_USERS from .50:5070, the last RING_USERS from .51:5070); the two
# UAS; then at S:
#   S+0     EST_CALLS calls (100/s) that stay up EST_SECS, then BYE
#   S+0     steady new calls, CPS a second for STEADY_SECS (1 s each)
#   S+5     RING_CALLS calls to the ringing users within one second
#   S+6     the fault (T)
#   after   every caller finishes; then each of the USERS users is called
#           once (registrations_lost = those calls that failed), and CDRs
#           are counted from the store.
#
# Report fields: scenario, pass, reasons, takeover_ms (from the fault T to
# the end of the fault's outage of the floating IP, seen by OPTIONS probes
# sent every 10 ms: the longest of the gap in answered probes under way at
# T, whatever its length, and the gaps over 100 ms that start within 5 s
# after T; 0 when service never stopped; null when it never came back; for
# full-restart T is the moment the three nodes are started again),
# outage_ms (that gap's length), registrations_lost, established_calls,
# established_calls_ended_ok, ringing_calls, ringing_calls_completed,
# new_calls, new_calls_failed, max_ip_holders, cdrs, calls (INVITE call
# attempts SIPp made in total), plus details (leader before and after,
# per-SIPp figures, timings).
# Goals (exit 1 if missed): takeover_ms < 2000 and the floating IP answers
# again; registrations_lost == 0; every established call ends with BYE/200;
# ringing calls completed >= 99%; max_ip_holders <= 1; cdrs == calls.
#
# Environment knobs (defaults in brackets): LAB_BUILD [1] (0: use the
# binaries already built), CARGO_TARGET_DIR [target], LAB_KEEP [failure]
# (keep the work directory: always|never|failure), USERS [2000],
# EST_CALLS [200], EST_SECS [20], RING_USERS [200], RING_CALLS [40],
# RING_MS [3000], CPS [20], STEADY_SECS [30], HEAL_SECS [10]
# (leader-isolated: link up again after this long), TAKEOVER_MAX_MS [2000],
# ETCD_ARGS [--pre-vote=true] (more etcd flags; set it empty for etcd
# 3.4's default, under which the isolated member's return deposes the etcd
# leader and costs a second failover: see lab/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SCENARIOS=(kill-leader drain leader-isolated kill-follower kill-etcd-leader full-restart)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

SCENARIO=${1:-}
case "$SCENARIO" in
  kill-leader | drain | leader-isolated | kill-follower | kill-etcd-leader | full-restart | no-fault | single-node | all) ;;
  -h | --help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac

log() { printf '%s lab[%s]: %s\n' "$(date +%T.%3N)" "$SCENARIO" "$*" >&2; }
now_ms() { date +%s%3N; }
sleep_ms() { [ "$1" -gt 0 ] && sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))" || true; }
sleep_until() { local d=$(($1 - $(now_ms))); sleep_ms "$d"; }

# --------------------------------------------------------------- all
if [ "$SCENARIO" = all ]; then
  results=() failed=() takeovers=() rc_all=0
  for s in "${SCENARIOS[@]}"; do
    out=$(mktemp)
    rc=0
    "${BASH_SOURCE[0]}" "$s" >"$out" || rc=$?
    line=$(tail -n 1 "$out")
    rm -f "$out"
    case "$line" in
      "{"*) ;;
      *) line="{\"scenario\":\"$s\",\"pass\":false,\"error\":\"no report (exit $rc)\"}" ;;
    esac
    printf '%s\n' "$line"
    results+=("$line")
    if [ "$rc" -ne 0 ]; then
      failed+=("\"$s\"")
      rc_all=1
    fi
    t=$(printf '%s' "$line" | grep -o '"takeover_ms":[0-9]*' | head -n 1 | cut -d: -f2 || true)
    [ -n "$t" ] && takeovers+=("$t")
    # Export build once: the following scenarios reuse the binaries.
    export LAB_BUILD=0
  done
  median=null
  if [ ${#takeovers[@]} -gt 0 ]; then
    median=$(printf '%s\n' "${takeovers[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}')
  fi
  pass=true
  [ "$rc_all" -eq 0 ] || pass=false
  printf '{"scenario":"all","pass":%s,"takeover_ms":[%s],"takeover_median_ms":%s,"failed":[%s],"results":[%s]}\n' \
    "$pass" "$(IFS=,; echo "${takeovers[*]:-}")" "$median" "$(IFS=,; echo "${failed[*]:-}")" "$(IFS=,; echo "${results[*]}")"
  exit "$rc_all"
fi

# --------------------------------------------------------------- settings
USERS=${USERS:-2000}
EST_CALLS=${EST_CALLS:-200}
EST_SECS=${EST_SECS:-20}
RING_USERS=${RING_USERS:-200}
RING_CALLS=${RING_CALLS:-40}
RING_MS=${RING_MS:-3000}
CPS=${CPS:-20}
STEADY_SECS=${STEADY_SECS:-30}
HEAL_SECS=${HEAL_SECS:-10}
TAKEOVER_MAX_MS=${TAKEOVER_MAX_MS:-2000}
ETCD_ARGS=${ETCD_ARGS---pre-vote=true}
LAB_BUILD=${LAB_BUILD:-1}
LAB_KEEP=${LAB_KEEP:-failure}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
TANDEM=$BIN_DIR/tandem
PROBE=$BIN_DIR/lab-probe
SIPP_DIR=$ROOT/testdata/sipp

VIP=198.18.0.100
NODES=(n1 n2 n3)
declare -A NODE_IP=([n1]=198.18.0.11 [n2]=198.18.0.12 [n3]=198.18.0.13)
declare -A NODE_CONF=([n1]=examples/cluster/node1.toml [n2]=examples/cluster/node2.toml [n3]=examples/cluster/node3.toml)
C_UAS=198.18.0.50 C_RING=198.18.0.51 C_UAC=198.18.0.52 C_PROBE=198.18.0.53
ETCD_ENDPOINTS=http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379

P=tl$$
NS_BR=$P-br NS_C=$P-c
declare -A NS=([n1]=$P-n1 [n2]=$P-n2 [n3]=$P-n3)
declare -A TANDEM_PID=() ETCD_PID=()
BG_PIDS=()          # every background process this run started
CREATED_NS=()
REPORTED=0
WORK=""

# --------------------------------------------------------------- teardown
tail_logs() {
  [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
  local f
  for f in "$WORK"/tandem-*.log "$WORK"/etcd-*.log; do
    [ -s "$f" ] || continue
    printf '\n===== tail %s\n' "${f#"$WORK"/}" >&2
    tail -n 25 "$f" >&2
  done
  for f in "$WORK"/sipp-*/*_errors.log; do
    [ -s "$f" ] || continue
    printf '\n===== head %s\n' "${f#"$WORK"/}" >&2
    head -n 30 "$f" >&2
  done
}

is_ours() { # PID: alive, not a zombie, and a child of this script
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${st%% *}" != Z ] && [ "$(echo "$st" | cut -d' ' -f2)" = "$$" ]
}

cleanup() {
  local rc=$?
  set +e
  trap - INT TERM
  if [ "$REPORTED" -eq 0 ]; then
    [ "$rc" -eq 0 ] && rc=3
    printf '{"scenario":"%s","pass":false,"error":"%s","work_dir":"%s"}\n' \
      "$SCENARIO" "${LAB_ERROR:-the lab stopped (exit $rc) before its report}" "$WORK"
  fi
  if [ "$rc" -ne 0 ]; then
    tail_logs
  fi
  log "teardown"
  local pid
  # Our own processes first, by PID (only while they are still our
  # children: a PID is never reused while its parent has not reaped it,
  # but bash reaps in the background): SIGTERM, then SIGKILL.
  for pid in "${BG_PIDS[@]}"; do is_ours "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${BG_PIDS[@]}"; do is_ours "$pid" && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${BG_PIDS[@]}"; do
    if is_ours "$pid"; then
      log "still running 5 s after SIGTERM, killed: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  # Then whatever they left inside our namespaces (tandem's guard...).
  local ns
  for ns in "${CREATED_NS[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  wait 2>/dev/null
  for ns in "${CREATED_NS[@]}"; do ip netns delete "$ns" 2>/dev/null; done
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    case "$LAB_KEEP" in
      always) log "work directory kept: $WORK" ;;
      never) rm -rf "$WORK" ;;
      *) if [ "$rc" -ne 0 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi ;;
    esac
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  LAB_ERROR=$(printf '%s' "$*" | tr -d '"\\' | tr '\n' ' ')
  log "ERROR: $*"
  exit 3
}

# --------------------------------------------------------------- checks, build
[ "$(id -u)" -eq 0 ] || die "run as root: the lab creates network namespaces"
for cmd in ip sipp etcd timeout cargo; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing: run scripts/test-deps.sh"
done

if [ "$LAB_BUILD" = 1 ]; then
  log "building tandem and lab-probe (release)"
  cargo build --release --locked -p tandem >&2 || die "cargo build -p tandem failed"
  cargo build --release --locked -p tandem-test-support --bin lab-probe >&2 || die "cargo build lab-probe failed"
fi
[ -x "$TANDEM" ] || die "$TANDEM is missing (LAB_BUILD=0 without a build?)"
[ -x "$PROBE" ] || die "$PROBE is missing (LAB_BUILD=0 without a build?)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-lab.$SCENARIO.XXXXXX")
log "work directory $WORK, namespaces $P-*"

# Namespaces left by an earlier run that died without its teardown: delete
# those that are empty (no process inside); never touch a live run's.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^tl[0-9]+-(br|n1|n2|n3|c)$' || true); do
  owner=${ns%%-*}
  owner=${owner#tl}
  if ! kill -0 "$owner" 2>/dev/null && [ -z "$(ip netns pids "$ns" 2>/dev/null)" ]; then
    ip netns delete "$ns" 2>/dev/null && log "deleted stale namespace $ns"
  fi
done

# --------------------------------------------------------------- helpers
bg() { # NAME CMD...: start in the background, output to $WORK/NAME.log
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  BG_PIDS+=($!)
  LAST_PID=$!
}

in_c() { ip netns exec "$NS_C" "$@"; }

holders_now() { # the node namespaces (n1..n3) that have the floating IP configured now
  local n addrs out=()
  for n in "${NODES[@]}"; do
    addrs=$(ip -n "${NS[$n]}" -4 -br addr show 2>/dev/null || true)
    if [[ " ${addrs//$'\n'/ } " == *" $VIP/"* ]]; then out+=("$n"); fi
  done
  echo "${out[*]:-}"
}

wait_holder() { # TIMEOUT_S: waits for exactly one holder that answers OPTIONS
  local deadline=$(($(now_ms) + $1 * 1000)) h
  while [ "$(now_ms)" -lt "$deadline" ]; do
    h=$(holders_now)
    if [ -n "$h" ] && [ "${h// /}" = "$h" ]; then
      if in_c timeout 5 "$PROBE" wait-up --target "$VIP:5060" --bind "$C_PROBE" --timeout-s 2; then
        echo "$h"
        return 0
      fi
    fi
    sleep 0.05
  done
  return 1
}

sipp_stat() { # FILE COLUMN: a column of the last line of a SIPp -trace_stat file
  [ -s "$1" ] || { echo 0; return; }
  awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    NF > 1 { last = $0 } END { if (!c || last == "") { print 0; exit } split(last, a, ";"); print a[c] + 0 }' "$1"
}

recv_count() { # DIR CODE: responses CODE received (all rejection elements of lab-uac.xml)
  local f
  f=$(ls "$1"/*_counts.csv 2>/dev/null | head -n 1 || true)
  [ -n "$f" ] || { echo 0; return; }
  awk -F';' -v code="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ "^[0-9]+_" code "_Recv$") c[i] = 1; next }
    NF > 1 { last = $0 } END { n = split(last, a, ";"); s = 0; for (i in c) s += a[i]; print s + 0 }' "$f"
}

SIPP_PORT_MP=16000
sipp_bg() { # NAME SIPP-ARGS...: SIPp in the client namespace, bounded by timeout
  local name=$1 limit=$2
  shift 2
  local dir=$WORK/sipp-$name
  mkdir -p "$dir"
  SIPP_PORT_MP=$((SIPP_PORT_MP + 10))
  (cd "$dir" && exec ip netns exec "$NS_C" timeout "$limit" sipp "$@" -nostdin -mp "$SIPP_PORT_MP" \
    -trace_stat -stf "$dir/stat.csv" -fd 1 -trace_counts -trace_err >"$dir/out.log" 2>&1) &
  BG_PIDS+=($!)
  LAST_PID=$!
}

wait_pid() { wait "$1" 2>/dev/null || true; }

# --------------------------------------------------------------- namespaces
log "namespaces and bridge"
for ns in "$NS_BR" "${NS[n1]}" "${NS[n2]}" "${NS[n3]}" "$NS_C"; do
  ip netns add "$ns" || die "cannot create namespace $ns"
  CREATED_NS+=("$ns")
done
ip -n "$NS_BR" link add br0 type bridge
ip -n "$NS_BR" link set br0 up
attach() { # NS PORT ADDR MAC
  ip -n "$NS_BR" link add "$2" type veth peer name eth0 netns "$1"
  ip -n "$NS_BR" link set "$2" master br0 up
  ip -n "$1" link set eth0 address "$4"
  ip -n "$1" link set lo up
  ip -n "$1" link set eth0 up
  ip -n "$1" addr add "$3/24" dev eth0
}
attach "${NS[n1]}" p-n1 198.18.0.11 02:18:00:00:00:11
attach "${NS[n2]}" p-n2 198.18.0.12 02:18:00:00:00:12
attach "${NS[n3]}" p-n3 198.18.0.13 02:18:00:00:00:13
attach "$NS_C" p-c "$C_UAS" 02:18:00:00:00:50
for a in "$C_RING" "$C_UAC" "$C_PROBE"; do ip -n "$NS_C" addr add "$a/24" dev eth0; done

bg holders "$PROBE" holders --ns "${NS[n1]},${NS[n2]},${NS[n3]}" --addr "$VIP" --interval-ms 10 \
  --duration-s 900 --out "$WORK/holders.txt"
HOLDERS_PID=$LAST_PID

# --------------------------------------------------------------- etcd, extensions, nodes
TARGET=$VIP:5060
if [ "$SCENARIO" = single-node ]; then
  TARGET=${NODE_IP[n1]}:5060
  cat >"$WORK/single.toml" <<EOF
# single-node: the lab's harness self-test (no cluster, no fault).
[node]
name = "single"
shutdown_grace_secs = 2

[sip]
listen = ["udp:${NODE_IP[n1]}:5060"]

[pbx]
domain = "${NODE_IP[n1]}"
realm = "tandem"

[storage]
backend = "embedded"
path = "single.db"
EOF
  NODE_CONF[n1]=$WORK/single.toml
else
  log "etcd cluster"
  token="tandem-lab-$P-$(now_ms)"
  cluster="n1=http://198.18.0.11:2380,n2=http://198.18.0.12:2380,n3=http://198.18.0.13:2380"
  for n in "${NODES[@]}"; do
    ip=${NODE_IP[$n]}
    # shellcheck disable=SC2086 # ETCD_ARGS: several flags on purpose
    bg "etcd-$n" ip netns exec "${NS[$n]}" etcd --name "$n" --data-dir "$WORK/etcd-$n.data" \
      --listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
      --listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
      --initial-cluster "$cluster" --initial-cluster-token "$token" --initial-cluster-state new \
      --heartbeat-interval 50 --election-timeout 300 --logger zap --log-level info $ETCD_ARGS
    ETCD_PID[$n]=$LAST_PID
  done
  in_c "$PROBE" etcd-health --endpoints "$ETCD_ENDPOINTS" --timeout-s 30 || die "etcd did not become healthy"
fi

log "extensions: $USERS users from 2000, callers 1001..1005"
{
  for u in 1001 1002 1003 1004 1005; do echo "$u,lab-pw-$u,Lab caller $u"; done
  for ((u = 2000; u < 2000 + USERS; u++)); do echo "$u,lab-pw-$u"; done
} >"$WORK/extensions.csv"
ANSWER_USERS=$((USERS - RING_USERS))
[ "$ANSWER_USERS" -gt 0 ] || die "USERS must exceed RING_USERS"
users_csv() { # FIRST COUNT FILE: SIPp injection file of callees
  {
    echo SEQUENTIAL
    for ((u = $1; u < $1 + $2; u++)); do echo "$u;"; done
  } >"$3"
}
reg_csv() { # FIRST COUNT FILE: SIPp injection file of registering users
  {
    echo SEQUENTIAL
    for ((u = $1; u < $1 + $2; u++)); do echo "$u;lab-pw-$u;[authentication username=$u password=lab-pw-$u]"; done
  } >"$3"
}
users_csv 2000 "$ANSWER_USERS" "$WORK/answer-users.csv"
users_csv $((2000 + ANSWER_USERS)) "$RING_USERS" "$WORK/ring-users.csv"
reg_csv 2000 "$ANSWER_USERS" "$WORK/reg-answer.csv"
reg_csv $((2000 + ANSWER_USERS)) "$RING_USERS" "$WORK/reg-ring.csv"

import_extensions() {
  if ip netns exec "${NS[n1]}" timeout 120 "$TANDEM" ext import "$WORK/extensions.csv" -c "${NODE_CONF[n1]}" \
    >"$WORK/ext-import.log" 2>&1; then
    return 0
  fi
  # Older binaries without `ext import` (single-node dry runs only).
  if [ "$SCENARIO" = single-node ] && grep -q "unrecognized subcommand" "$WORK/ext-import.log"; then
    log "no 'tandem ext import' in this binary: extensions go into the config"
    awk -F, '{ printf "\n[[extensions]]\nnumber = \"%s\"\npassword = \"%s\"\n", $1, $2 }' "$WORK/extensions.csv" \
      >>"$WORK/single.toml"
    return 0
  fi
  cat "$WORK/ext-import.log" >&2
  return 1
}
import_extensions || die "tandem ext import failed"

start_node() { # n1|n2|n3
  local n=$1
  bg "tandem-$n" ip netns exec "${NS[$n]}" "$TANDEM" run --config "${NODE_CONF[$n]}" --log-format json
  TANDEM_PID[$n]=$LAST_PID
}
wait_node_up() { # n TIMEOUT_S: the node answers OPTIONS on its own address
  in_c timeout $(($2 + 5)) "$PROBE" wait-up --target "${NODE_IP[$1]}:5060" --bind "$C_PROBE" --timeout-s "$2"
}

if [ "$SCENARIO" = single-node ]; then
  start_node n1
  wait_node_up n1 30 || die "the node did not answer OPTIONS on ${NODE_IP[n1]}"
  LEADER_BEFORE=n1
else
  log "starting node1"
  start_node n1
  wait_node_up n1 30 || die "node1 did not answer OPTIONS on its own address within 30 s"
  LEADER_BEFORE=$(wait_holder 30) || die "no node holds $VIP answering OPTIONS within 30 s of node1's start"
  log "floating IP held by $LEADER_BEFORE; starting node2 and node3"
  for n in n2 n3; do
    start_node "$n"
    wait_node_up "$n" 30 || die "$n did not answer OPTIONS on its own address within 30 s"
  done
  LEADER_BEFORE=$(wait_holder 30) || die "no single holder of $VIP after all nodes started"
  log "cluster up; floating IP on $LEADER_BEFORE"
fi

bg options ip netns exec "$NS_C" "$PROBE" options --target "$TARGET" --bind "$C_PROBE" --interval-ms 10 --duration-s 900 \
  --out "$WORK/options.txt"
OPTIONS_PID=$LAST_PID

# --------------------------------------------------------------- registrations
log "registering $USERS users (expires 3600)"
register() { # NAME CSV IP COUNT
  sipp_bg "$1" 120 -sf "$SIPP_DIR/register_auth.xml" "$TARGET" -i "$3" -p 5070 -inf "$2" \
    -key expires 3600 -m "$4" -r 400 -l 800 -recv_timeout 10000 -timeout 110
  wait_pid "$LAST_PID"
  local ok
  ok=$(sipp_stat "$WORK/sipp-$1/stat.csv" 'SuccessfulCall(C)')
  [ "$ok" -eq "$4" ] || die "$1: only $ok of $4 REGISTERs succeeded (see $WORK/sipp-$1)"
}
t_reg=$(now_ms)
register reg-answer "$WORK/reg-answer.csv" "$C_UAS" "$ANSWER_USERS"
register reg-ring "$WORK/reg-ring.csv" "$C_RING" "$RING_USERS"
REG_MS=$(($(now_ms) - t_reg))
log "registered $USERS users in $REG_MS ms"

# The two callees, on the addresses and ports the users registered from.
sipp_bg uas-answer 900 -sf "$SIPP_DIR/uas.xml" -i "$C_UAS" -p 5070 -m 1000000 -recv_timeout 60000
sipp_bg uas-ring 900 -sf "$SIPP_DIR/lab-uas-ring.xml" -i "$C_RING" -p 5070 -d "$RING_MS" -m 1000000 \
  -recv_timeout 60000
sleep 0.5

uac() { # NAME CALLEE-CSV CALLER PORT RATE COUNT PAUSE_MS LIMIT_S
  sipp_bg "$1" "$8" -sf "$SIPP_DIR/lab-uac.xml" "$TARGET" -i "$C_UAC" -p "$4" -inf "$2" \
    -key caller "$3" -au "$3" -ap "lab-pw-$3" -d "$7" -m "$6" -r "$5" -l $(($6 + 10)) \
    -recv_timeout 20000 -timeout $(($8 - 5))
}

# --------------------------------------------------------------- traffic and the fault
log "traffic: $EST_CALLS established calls (${EST_SECS} s), $CPS new calls/s for ${STEADY_SECS} s"
S=$(now_ms)
uac est "$WORK/answer-users.csv" 1001 5061 100 "$EST_CALLS" $((EST_SECS * 1000)) $((EST_SECS + 90))
EST_PID=$LAST_PID
uac steady "$WORK/answer-users.csv" 1003 5063 "$CPS" $((CPS * STEADY_SECS)) 1000 $((STEADY_SECS + 90))
STEADY_PID=$LAST_PID
sleep_until $((S + 5000))
log "ringing calls: $RING_CALLS within one second"
uac ring "$WORK/ring-users.csv" 1002 5062 "$RING_CALLS" "$RING_CALLS" 1000 90
RING_PID=$LAST_PID
sleep_until $((S + 6000))

FAULT_NOTE=""
FAULT_TARGET=""
LEADER_AT_FAULT=$(holders_now)
T=$(now_ms)
case "$SCENARIO" in
  kill-leader)
    [ -n "$LEADER_AT_FAULT" ] && [ "${LEADER_AT_FAULT// /}" = "$LEADER_AT_FAULT" ] ||
      die "kill-leader: expected one holder at the fault, found '$LEADER_AT_FAULT'"
    FAULT_TARGET=$LEADER_AT_FAULT
    T=$(now_ms)
    kill -KILL "${TANDEM_PID[$FAULT_TARGET]}"
    ;;
  kill-follower)
    for n in "${NODES[@]}"; do
      if [ "$n" != "$LEADER_AT_FAULT" ]; then FAULT_TARGET=$n; break; fi
    done
    T=$(now_ms)
    kill -KILL "${TANDEM_PID[$FAULT_TARGET]}"
    ;;
  drain)
    FAULT_TARGET=$LEADER_AT_FAULT
    T=$(now_ms)
    if "$TANDEM" cluster drain --help >/dev/null 2>&1; then
      FAULT_NOTE="tandem cluster drain"
      ip netns exec "${NS[$FAULT_TARGET]}" timeout 30 "$TANDEM" cluster drain -c "${NODE_CONF[$FAULT_TARGET]}" \
        >"$WORK/drain.log" 2>&1 || log "tandem cluster drain exited $? (see drain.log)"
    else
      FAULT_NOTE="SIGTERM (no tandem cluster drain in this binary)"
      kill -TERM "${TANDEM_PID[$FAULT_TARGET]}"
    fi
    ;;
  leader-isolated)
    FAULT_TARGET=$LEADER_AT_FAULT
    T=$(now_ms)
    ip -n "${NS[$FAULT_TARGET]}" link set eth0 down
    ;;
  kill-etcd-leader)
    ep=$(in_c "$PROBE" etcd-leader --endpoints "$ETCD_ENDPOINTS") || die "cannot find the etcd leader"
    for n in "${NODES[@]}"; do
      if [ "$ep" = "http://${NODE_IP[$n]}:2379" ]; then FAULT_TARGET=$n; fi
    done
    [ -n "$FAULT_TARGET" ] || die "etcd leader $ep is not one of ours"
    FAULT_NOTE="etcd member $FAULT_TARGET"
    T=$(now_ms)
    kill -KILL "${ETCD_PID[$FAULT_TARGET]}"
    ;;
  full-restart)
    FAULT_TARGET="n1 n2 n3"
    T_STOP=$(now_ms)
    for n in "${NODES[@]}"; do kill -TERM "${TANDEM_PID[$n]}"; done
    for n in "${NODES[@]}"; do
      for _ in $(seq 1 150); do kill -0 "${TANDEM_PID[$n]}" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "${TANDEM_PID[$n]}" 2>/dev/null; then
        FAULT_NOTE="$FAULT_NOTE $n ignored SIGTERM for 15 s, killed;"
        kill -KILL "${TANDEM_PID[$n]}"
      fi
      wait_pid "${TANDEM_PID[$n]}"
      mv "$WORK/tandem-$n.log" "$WORK/tandem-$n.before-restart.log"
    done
    STOPPED_MS=$(($(now_ms) - T_STOP))
    FAULT_NOTE="${FAULT_NOTE} all stopped ${STOPPED_MS} ms after SIGTERM; fault instant = restart"
    T=$(now_ms)
    for n in "${NODES[@]}"; do start_node "$n"; done
    ;;
  no-fault | single-node) FAULT_TARGET="" ;;
esac
log "fault at T=$T: $SCENARIO ${FAULT_TARGET} ${FAULT_NOTE}"

if [ "$SCENARIO" = leader-isolated ]; then
  sleep_until $((T + HEAL_SECS * 1000))
  log "healing: link up again in ${NS[$FAULT_TARGET]}"
  HEAL_T=$(now_ms)
  ip -n "${NS[$FAULT_TARGET]}" link set eth0 up
fi

LEADER_AFTER=""
if [ "$SCENARIO" != single-node ]; then
  LEADER_AFTER=$(wait_holder 30) || LEADER_AFTER=""
  log "after the fault: floating IP on '${LEADER_AFTER:-nobody}'"
fi

log "waiting for the callers to finish"
wait_pid "$RING_PID"
wait_pid "$STEADY_PID"
wait_pid "$EST_PID"

# --------------------------------------------------------------- every user once
log "calling each of the $USERS users once"
uac check-answer "$WORK/answer-users.csv" 1004 5064 200 "$ANSWER_USERS" 0 120
CHECK_A_PID=$LAST_PID
uac check-ring "$WORK/ring-users.csv" 1005 5065 100 "$RING_USERS" 0 120
CHECK_R_PID=$LAST_PID
wait_pid "$CHECK_A_PID"
wait_pid "$CHECK_R_PID"
END=$(now_ms)

# --------------------------------------------------------------- CDRs
cdr_list() { # writes $WORK/cdrs.jsonl from the first node namespace that can read the store
  local n
  for n in "${NODES[@]}"; do
    [ "$SCENARIO" = single-node ] && [ "$n" != n1 ] && continue
    if ip netns exec "${NS[$n]}" timeout 30 "$TANDEM" cdr list -c "${NODE_CONF[$n]}" --format jsonl \
      >"$WORK/cdrs.jsonl.tmp" 2>"$WORK/cdr-list.log"; then
      mv "$WORK/cdrs.jsonl.tmp" "$WORK/cdrs.jsonl"
      return 0
    fi
  done
  return 1
}
calls_of() { sipp_stat "$WORK/sipp-$1/stat.csv" TotalCallCreated; }
ok_of() { sipp_stat "$WORK/sipp-$1/stat.csv" 'SuccessfulCall(C)'; }
failed_of() { sipp_stat "$WORK/sipp-$1/stat.csv" 'FailedCall(C)'; }
CALLS=0
for u in est steady ring check-answer check-ring; do CALLS=$((CALLS + $(calls_of "$u"))); done
CDRS=-1
prev=-2
for _ in $(seq 1 15); do
  if cdr_list; then
    CDRS=$(grep -c . "$WORK/cdrs.jsonl" || true)
  fi
  [ "$CDRS" -eq "$CALLS" ] && break
  [ "$CDRS" -eq "$prev" ] && [ "$CDRS" -ge 0 ] && break
  prev=$CDRS
  sleep 1
done
[ "$CDRS" -ge 0 ] || log "cdr list failed on every node: $(tail -n 3 "$WORK/cdr-list.log" 2>/dev/null)"
CDR_DUPLICATES=0 CDRS_BY_NODE="" CDRS_BY_CAUSE=""
if [ -s "$WORK/cdrs.jsonl" ]; then
  ids=$(grep -o '"call_id":"[^"]*"' "$WORK/cdrs.jsonl" | sort)
  CDR_DUPLICATES=$(($(printf '%s\n' "$ids" | grep -c . || true) - $(printf '%s\n' "$ids" | sort -u | grep -c . || true)))
  CDRS_BY_NODE=$(grep -o '"node":"[^"]*"' "$WORK/cdrs.jsonl" | cut -d'"' -f4 | sort | uniq -c | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1}' || true)
  CDRS_BY_CAUSE=$(grep -o '"end_cause":"[^"]*"' "$WORK/cdrs.jsonl" | cut -d'"' -f4 | sort | uniq -c | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1}' || true)
fi

# The cluster's own account (timeline of events), for whoever reads the logs.
if [ "$SCENARIO" != single-node ]; then
  for n in "${NODES[@]}"; do
    if ip netns exec "${NS[$n]}" timeout 10 "$TANDEM" cluster status -c "${NODE_CONF[$n]}" --json --events 50 \
      >"$WORK/cluster-status.json" 2>/dev/null; then
      break
    fi
  done
fi

# --------------------------------------------------------------- measurements
PROBE_STOP=$(now_ms)
kill -TERM "$OPTIONS_PID" "$HOLDERS_PID" 2>/dev/null || true
wait_pid "$OPTIONS_PID"
wait_pid "$HOLDERS_PID"
GAPS=$("$PROBE" gaps --file "$WORK/options.txt" --after "$T" --until "$PROBE_STOP" --threshold-ms 100 \
  --window-ms 5000 || echo '{}')
json_num() { printf '%s' "$1" | grep -o "\"$2\":[0-9a-z]*" | head -n 1 | cut -d: -f2 || true; }
TAKEOVER=$(json_num "$GAPS" takeover_ms)
OUTAGE=$(json_num "$GAPS" outage_ms)
RESUMED=$(json_num "$GAPS" resumed)
TAKEOVER=${TAKEOVER:-null} OUTAGE=${OUTAGE:-null}
MAX_HOLDERS=$("$PROBE" holders-max --file "$WORK/holders.txt")
AFTER_HEAL=null
if [ -n "${HEAL_T:-}" ]; then
  # The isolated node coming back must not cost a second outage.
  AFTER_HEAL=$("$PROBE" gaps --file "$WORK/options.txt" --after "$HEAL_T" --until "$PROBE_STOP" \
    --threshold-ms 100 --window-ms 10000 || echo null)
fi
HOLDER_LOG=$(grep -v ' start \| end ' "$WORK/holders.txt" | awk -v t="$T" '{ printf "%s%d:%s", (NR > 1 ? " " : ""), $1 - t, $3 }' || true)
if grep -q ' error ' "$WORK/holders.txt"; then log "holder sampler error: $(grep ' error ' "$WORK/holders.txt")"; fi

EST_CALLS_MADE=$(calls_of est)
EST_OK=$(ok_of est)
RING_MADE=$(calls_of ring)
RING_OK=$(ok_of ring)
NEW_CALLS=$(calls_of steady)
NEW_FAILED=$(failed_of steady)
CHECK_CALLS=$(($(calls_of check-answer) + $(calls_of check-ring)))
CHECK_OK=$(($(ok_of check-answer) + $(ok_of check-ring)))
REG_LOST=$((USERS - CHECK_OK))
CHECK_404=$(($(recv_count "$WORK/sipp-check-answer" 404) + $(recv_count "$WORK/sipp-check-ring" 404)))
CHECK_480=$(($(recv_count "$WORK/sipp-check-answer" 480) + $(recv_count "$WORK/sipp-check-ring" 480)))

# --------------------------------------------------------------- goals and report
reasons=()
if [ "$SCENARIO" != single-node ] && [ "$SCENARIO" != no-fault ]; then
  [ "$RESUMED" = true ] || reasons+=("the floating IP did not answer OPTIONS again after the fault")
  [ "$TAKEOVER" != null ] && [ "$TAKEOVER" -lt "$TAKEOVER_MAX_MS" ] || reasons+=("takeover_ms $TAKEOVER >= $TAKEOVER_MAX_MS")
fi
[ "$REG_LOST" -eq 0 ] || reasons+=("registrations_lost $REG_LOST (404: $CHECK_404, 480: $CHECK_480)")
[ "$EST_CALLS_MADE" -eq "$EST_CALLS" ] || reasons+=("established_calls $EST_CALLS_MADE of $EST_CALLS started")
[ "$EST_OK" -eq "$EST_CALLS_MADE" ] || reasons+=("established_calls_ended_ok $EST_OK of $EST_CALLS_MADE")
[ $((RING_OK * 100)) -ge $((RING_MADE * 99)) ] || reasons+=("ringing_calls_completed $RING_OK of $RING_MADE (< 99%)")
[ "$RING_MADE" -gt 0 ] || reasons+=("no ringing calls were made")
if [ "$SCENARIO" = single-node ]; then
  [ "$MAX_HOLDERS" -eq 0 ] || reasons+=("max_ip_holders $MAX_HOLDERS in single-node")
else
  [ "$MAX_HOLDERS" -le 1 ] || reasons+=("max_ip_holders $MAX_HOLDERS")
fi
[ "$CDRS" -eq "$CALLS" ] || reasons+=("cdrs $CDRS != calls $CALLS")
[ "$CDR_DUPLICATES" -eq 0 ] || reasons+=("$CDR_DUPLICATES duplicate CDRs (same Call-ID)")

pass=true
[ ${#reasons[@]} -eq 0 ] || pass=false
json_str() { printf '"%s"' "$(printf '%s' "$1" | tr -d '"\\' | tr '\n' ' ')"; }
sipp_json() { # NAME: {"calls":..,"ok":..,"failed":..,"retrans":..,...}
  local f=$WORK/sipp-$1/stat.csv
  printf '{"calls":%s,"ok":%s,"failed":%s,"retransmissions":%s,"timeouts":%s,"unexpected":%s,"max_retrans":%s,"r404":%s,"r408":%s,"r480":%s,"r486":%s,"r500":%s,"r503":%s}' \
    "$(sipp_stat "$f" TotalCallCreated)" "$(sipp_stat "$f" 'SuccessfulCall(C)')" "$(sipp_stat "$f" 'FailedCall(C)')" \
    "$(sipp_stat "$f" 'Retransmissions(C)')" "$(sipp_stat "$f" 'FailedTimeoutOnRecv(C)')" \
    "$(sipp_stat "$f" 'FailedUnexpectedMessage(C)')" "$(sipp_stat "$f" 'FailedMaxUDPRetrans(C)')" \
    "$(recv_count "$WORK/sipp-$1" 404)" "$(recv_count "$WORK/sipp-$1" 408)" "$(recv_count "$WORK/sipp-$1" 480)" \
    "$(recv_count "$WORK/sipp-$1" 486)" "$(recv_count "$WORK/sipp-$1" 500)" "$(recv_count "$WORK/sipp-$1" 503)"
}
reasons_json=""
for r in "${reasons[@]}"; do reasons_json="$reasons_json${reasons_json:+,}$(json_str "$r")"; done
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || REV="$REV+dirty"

REPORT=$(printf '{"scenario":"%s","pass":%s,"reasons":[%s],"takeover_ms":%s,"outage_ms":%s,"registrations_lost":%s,"established_calls":%s,"established_calls_ended_ok":%s,"ringing_calls":%s,"ringing_calls_completed":%s,"new_calls":%s,"new_calls_failed":%s,"max_ip_holders":%s,"cdrs":%s,"calls":%s,' \
  "$SCENARIO" "$pass" "$reasons_json" "$TAKEOVER" "$OUTAGE" "$REG_LOST" "$EST_CALLS_MADE" "$EST_OK" \
  "$RING_MADE" "$RING_OK" "$NEW_CALLS" "$NEW_FAILED" "$MAX_HOLDERS" "$CDRS" "$CALLS")
REPORT+=$(printf '"users":%s,"check_calls":%s,"check_404":%s,"check_480":%s,"fault":%s,"fault_target":%s,"leader_before":%s,"leader_after":%s,"cdr_duplicates":%s,"cdrs_by_node":%s,"cdrs_by_cause":%s,"register_ms":%s,"run_ms":%s,"options":%s,"after_heal":%s,"holder_changes_ms_rel_fault":%s,"sipp":{"est":%s,"steady":%s,"ring":%s,"check_answer":%s,"check_ring":%s},"etcd_args":%s,"rev":"%s"}' \
  "$USERS" "$CHECK_CALLS" "$CHECK_404" "$CHECK_480" "$(json_str "$SCENARIO ${FAULT_NOTE}")" \
  "$(json_str "$FAULT_TARGET")" "$(json_str "$LEADER_BEFORE")" "$(json_str "$LEADER_AFTER")" \
  "$CDR_DUPLICATES" "$(json_str "$CDRS_BY_NODE")" "$(json_str "$CDRS_BY_CAUSE")" "$REG_MS" \
  "$((END - S))" "$GAPS" "$AFTER_HEAL" "$(json_str "$HOLDER_LOG")" "$(sipp_json est)" "$(sipp_json steady)" \
  "$(sipp_json ring)" "$(sipp_json check-answer)" "$(sipp_json check-ring)" "$(json_str "$ETCD_ARGS")" "$REV")
printf '%s\n' "$REPORT" >"$WORK/report.json"
if [ "$pass" = true ]; then
  log "PASS: takeover ${TAKEOVER} ms, outage ${OUTAGE} ms"
else
  log "FAIL: ${reasons[*]}"
fi
REPORTED=1
printf '%s\n' "$REPORT"
[ "$pass" = true ] || exit 1
exit 0
