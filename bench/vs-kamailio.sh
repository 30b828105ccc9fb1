#!/usr/bin/env bash
# tandem against Kamailio as a PBX, same machine, same run, same SIPp
# scenarios (testdata/sipp/): the highest REGISTER rate (digest auth: each
# registration is REGISTER, 401, REGISTER, 200) and the highest call rate
# (INVITE, 407, ACK, INVITE, 180, 200, ACK, BYE through a record-routing
# stateful proxy) with zero failures and zero retransmissions.
# Kamailio: bench/kamailio/pbx.cfg (usrloc in memory, children=2, -m 2048 -M 16).
# tandem: release build, embedded store (registrations are durable); then
# a three-node tandem cluster on three local etcd members (each REGISTER is
# committed on an etcd quorum before its 200), SIPp driving node 1.
# Usage: bench/vs-kamailio.sh [SECONDS_PER_STEP]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need sipp sip-tester; need kamailio kamailio; need etcd etcd-server; need python3 python3
SECS=${1:-5}
REG_RATES=(1000 2000 3000 4000 5000 6000 8000 10000 12000 15000 20000)
CALL_RATES=(250 500 750 1000 1250 1500 2000 2500 3000 4000 5000)
S="$ROOT/testdata/sipp"

(cd "$ROOT" && cargo build --release -q -p tandem)

tandem_config() { # PORT -> extra TOML: 2000 extensions, fresh store
  local dir; dir=$(mktemp -d)
  {
    echo "[pbx]"; echo 'domain = "127.0.0.1"'; echo 'realm = "tandem"'
    echo "[storage]"; echo "path = \"$dir/bench.db\""
    for n in $(seq 1000 2999); do printf '[[extensions]]\nnumber = "%s"\npassword = "pw-%s"\n' "$n" "$n"; done
  } > "$dir/extra.toml"
  cat "$dir/extra.toml"
}

# measure NAME PORT: REGISTER and call rates against the server on PORT.
measure() {
  local name=$1 port=$2
  echo "$name: REGISTER (2000 users from users.csv, digest auth)" >&2
  SIPP_ARGS=(-inf "$S/users.csv" -key expires 3600 -p $((port + 3)))
  local reg; reg=$(find_max "$S/register_auth.xml" "$port" "$SECS" "${REG_RATES[@]}")
  echo "$name: calls 1000 -> 1001 (auth, record-route, BYE)" >&2
  # The last REGISTER step overloaded the server on purpose: let it drain
  # (tandem keeps each finished REGISTER transaction for Timer J, 32 s over
  # UDP, as RFC 3261 says; Kamailio's registrar answers statelessly).
  wait_udp "$port"; sleep 35
  local tries
  for tries in 1 2 3 4 5; do
    timeout 15 sipp -sf "$S/uas_register.xml" "127.0.0.1:$port" -i 127.0.0.1 -p $((port + 1)) \
      -s 1001 -ap pw-1001 -key expires 3600 -m 1 -recv_timeout 5000 -timeout 10 -nostdin >/dev/null 2>&1 && break
    echo "    (callee registration failed, retrying)" >&2; sleep 3
  done
  timeout 600 sipp -sf "$S/uas.xml" -i 127.0.0.1 -p $((port + 1)) -recv_timeout 20000 -timeout 590 \
    -buff_size 4194304 -nostdin >/dev/null 2>&1 &
  local uas=$!; PIDS+=("$uas")
  SIPP_ARGS=(-p $((port + 2)) -s 1001 -key caller 1000 -au 1000 -ap pw-1000 -auth_uri "1001@127.0.0.1:$port" -d 0)
  local calls; calls=$(find_max "$S/uac_auth.xml" "$port" "$SECS" "${CALL_RATES[@]}")
  stop_pid "$uas"
  echo "$reg $calls"
}

start_tandem 26060 "$(tandem_config 26060)"
read -r t_reg t_calls < <(measure tandem 26060)
stop_pid "$TANDEM_PID"

start_kamailio 26070 "$BENCH_DIR/kamailio/pbx.cfg"
read -r k_reg k_calls < <(measure kamailio 26070)
stop_pid "$KAMAILIO_PID"

# The cluster: three etcd members, three tandem nodes, all on loopback.
start_cluster() { # -> CLUSTER_PIDS
  local dir; dir=$(mktemp -d)
  local initial="e1=http://127.0.0.1:26281,e2=http://127.0.0.1:26283,e3=http://127.0.0.1:26285"
  local i
  CLUSTER_PIDS=()
  for i in 1 2 3; do
    local c=$((26278 + 2 * i)) p=$((26279 + 2 * i))
    etcd --name "e$i" --data-dir "$dir/e$i" --listen-client-urls "http://127.0.0.1:$c" \
      --advertise-client-urls "http://127.0.0.1:$c" --listen-peer-urls "http://127.0.0.1:$p" \
      --initial-advertise-peer-urls "http://127.0.0.1:$p" --initial-cluster "$initial" \
      --initial-cluster-token "bench-$$" --heartbeat-interval 50 --election-timeout 300 \
      --log-level warn > "$OUT/etcd-e$i.log" 2>&1 &
    CLUSTER_PIDS+=($!); PIDS+=($!)
  done
  for i in 1 2 3; do wait_etcd $((26278 + 2 * i)); done
  local extra; extra=$(tandem_config 0 | grep -v '^path\|^\[storage\]')
  for i in 1 2 3; do
    local port=$((26070 + 10 * i))
    cat > "$dir/node$i.toml" <<TOML
[node]
name = "bench$i"
[sip]
listen = ["udp:127.0.0.1:$port"]
[storage]
backend = "etcd"
[storage.etcd]
endpoints = ["http://127.0.0.1:26280", "http://127.0.0.1:26282", "http://127.0.0.1:26284"]
prefix = "/bench-$$/"
[cluster]
guard = false
$extra
TOML
    TANDEM_LOG=warn "$ROOT/target/release/tandem" run --config "$dir/node$i.toml" > "$OUT/tandem-cluster-$i.log" 2>&1 &
    CLUSTER_PIDS+=($!); PIDS+=($!)
    wait_udp "$port"
  done
}
start_cluster
read -r c_reg c_calls < <(measure "tandem cluster" 26080)
for pid in "${CLUSTER_PIDS[@]}"; do stop_pid "$pid"; done

ratio() { python3 -c "print(round($1 / $2, 2) if $2 else 'n/a')"; }
echo "REGISTER/s (digest): tandem $t_reg, kamailio $k_reg, ratio $(ratio "$t_reg" "$k_reg")"
echo "calls/s (auth, record-routed): tandem $t_calls, kamailio $k_calls, ratio $(ratio "$t_calls" "$k_calls")"
echo "3-node cluster on etcd: REGISTER/s $c_reg (x$(ratio "$c_reg" "$t_reg") of one node, x$(ratio "$c_reg" "$k_reg") of kamailio), calls/s $c_calls (x$(ratio "$c_calls" "$t_calls") of one node, x$(ratio "$c_calls" "$k_calls") of kamailio)"
printf '{"bench":"pbx-vs-kamailio","register_per_s":{"tandem":%s,"kamailio":%s,"ratio":"%s","cluster":%s,"cluster_vs_single":"%s","cluster_vs_kamailio":"%s"},"calls_per_s":{"tandem":%s,"kamailio":%s,"ratio":"%s","cluster":%s,"cluster_vs_single":"%s","cluster_vs_kamailio":"%s"},"seconds_per_step":%s}\n' \
  "$t_reg" "$k_reg" "$(ratio "$t_reg" "$k_reg")" "$c_reg" "$(ratio "$c_reg" "$t_reg")" "$(ratio "$c_reg" "$k_reg")" \
  "$t_calls" "$k_calls" "$(ratio "$t_calls" "$k_calls")" "$c_calls" "$(ratio "$c_calls" "$t_calls")" "$(ratio "$c_calls" "$k_calls")" "$SECS" | tee "$OUT/vs-kamailio.json"
