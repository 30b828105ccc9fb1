#!/usr/bin/env bash
# tandem against Kamailio as a PBX, same machine, same run, same SIPp
# scenarios (testdata/sipp/): the highest REGISTER rate (digest auth: each
# registration is REGISTER, 401, REGISTER, 200) and the highest call rate
# (INVITE, 407, ACK, INVITE, 180, 200, ACK, BYE through a record-routing
# stateful proxy) with zero failures and zero retransmissions.
# Kamailio: bench/kamailio/pbx.cfg (usrloc in memory, children=2, -m 2048 -M 16).
# tandem: release build, embedded store (registrations are durable).
# Usage: bench/vs-kamailio.sh [SECONDS_PER_STEP]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need sipp sip-tester; need kamailio kamailio
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
  # The last REGISTER step overloaded the server on purpose: let it drain.
  wait_udp "$port"; sleep 5
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

ratio() { python3 -c "print(round($1 / $2, 2) if $2 else 'n/a')"; }
echo "REGISTER/s (digest): tandem $t_reg, kamailio $k_reg, ratio $(ratio "$t_reg" "$k_reg")"
echo "calls/s (auth, record-routed): tandem $t_calls, kamailio $k_calls, ratio $(ratio "$t_calls" "$k_calls")"
printf '{"bench":"pbx-vs-kamailio","register_per_s":{"tandem":%s,"kamailio":%s,"ratio":"%s"},"calls_per_s":{"tandem":%s,"kamailio":%s,"ratio":"%s"},"seconds_per_step":%s}\n' \
  "$t_reg" "$k_reg" "$(ratio "$t_reg" "$k_reg")" "$t_calls" "$k_calls" "$(ratio "$t_calls" "$k_calls")" "$SECS" | tee "$OUT/vs-kamailio.json"
