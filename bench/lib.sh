#!/usr/bin/env bash
# Shared helpers of the bench/ scripts: start and stop servers by PID,
# drive SIPp at a fixed rate, read its statistics. Loopback only; every
# run is bounded in calls and time.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}"
mkdir -p "$OUT"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  sleep 0.3
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is missing (Debian package $2)" >&2; exit 1; }
}

# wait_udp PORT: waits until something answers OPTIONS on 127.0.0.1:PORT.
wait_udp() {
  local port=$1 i
  for i in $(seq 1 100); do
    if timeout 2 sipp -sf "$ROOT/testdata/sipp/options.xml" "127.0.0.1:$port" -i 127.0.0.1 -m 1 -recv_timeout 500 -timeout 2 -nostdin >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench: nothing answers on 127.0.0.1:$port" >&2
  return 1
}

# wait_etcd PORT: waits until the etcd member on 127.0.0.1:PORT says it is
# healthy (it has a leader), so that tandem finds a quorum when it starts.
wait_etcd() {
  local port=$1 i
  for i in $(seq 1 100); do
    # A subshell: a refused connection must not end the script (set -e).
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && timeout 2 cat <&3) 2>/dev/null \
      | grep -q '"health":"true"'; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench: etcd on 127.0.0.1:$port is not healthy" >&2
  return 1
}

start_tandem() { # PORT EXTRA_TOML -> sets TANDEM_PID
  local port=$1 extra=${2:-}
  local dir; dir=$(mktemp -d)
  cat > "$dir/tandem.toml" <<TOML
[sip]
listen = ["udp:127.0.0.1:$port"]
$extra
TOML
  TANDEM_LOG=warn "$ROOT/target/release/tandem" run --config "$dir/tandem.toml" > "$OUT/tandem-$port.log" 2>&1 &
  TANDEM_PID=$!
  PIDS+=("$TANDEM_PID")
  wait_udp "$port"
}

start_kamailio() { # PORT CFG -> sets KAMAILIO_PID
  local port=$1 cfg=$2
  local dir; dir=$(mktemp -d)
  sed "s/@PORT@/$port/g" "$cfg" > "$dir/kamailio.cfg"
  kamailio -f "$dir/kamailio.cfg" -DD -E -m 2048 -M 16 -Y "$dir" > "$OUT/kamailio-$port.log" 2>&1 &
  KAMAILIO_PID=$!
  PIDS+=("$KAMAILIO_PID")
  wait_udp "$port"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

# sipp_step SCENARIO PORT RATE SECONDS [extra sipp args...]
# Prints: successful failed retransmissions achieved_rate
sipp_step() {
  local scenario=$1 port=$2 rate=$3 secs=$4; shift 4
  local calls=$((rate * secs))
  local stats; stats=$(mktemp)
  timeout $((secs + 30)) sipp -sf "$scenario" "127.0.0.1:$port" -i 127.0.0.1 \
    -m "$calls" -r "$rate" -rp 1000 -recv_timeout 4000 -timeout $((secs + 25)) \
    -buff_size 4194304 -nostdin -trace_stat -stf "$stats" -fd 1 "$@" >/dev/null 2>&1 || true
  python3 - "$stats" "$calls" <<'PY'
import sys
rows=[l.strip().split(';') for l in open(sys.argv[1]) if l.strip()]
if len(rows) < 2:
    print("0 0 0 0"); sys.exit()
h, v = rows[0], rows[-1]
g = lambda n: v[h.index(n)] if n in h else "0"
ok, failed, retr = int(g("SuccessfulCall(C)")), int(g("FailedCall(C)")), int(g("Retransmissions(C)"))
el = g("ElapsedTime(C)")  # HH:MM:SS:mmm...
parts = el.split(':')
secs = int(parts[0])*3600 + int(parts[1])*60 + float(parts[2]) + (float(parts[3][:3])/1000 if len(parts) > 3 else 0)
rate = ok / secs if secs > 0 else 0
print(ok, failed, retr, int(rate))
PY
  rm -f "$stats"
}

# find_max SCENARIO PORT SECONDS RATES... -> prints the highest clean rate
# (all calls successful, none failed, no retransmission, achieved >= 95%).
# SIPP_ARGS (an array, optional) is passed to every step.
find_max() {
  local scenario=$1 port=$2 secs=$3; shift 3
  local best=0 rate
  for rate in "$@"; do
    read -r ok failed retr achieved < <(sipp_step "$scenario" "$port" "$rate" "$secs" "${SIPP_ARGS[@]:-}")
    local want=$((rate * secs))
    echo "    rate $rate/s: successful $ok/$want failed $failed retransmissions $retr achieved ${achieved}/s" >&2
    if [ "$ok" -eq "$want" ] && [ "$failed" -eq 0 ] && [ "$retr" -eq 0 ] && [ "$achieved" -ge $((rate * 95 / 100)) ]; then
      best=$rate
    else
      break
    fi
  done
  echo "$best"
}
