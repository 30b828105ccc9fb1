#!/usr/bin/env bash
# Runs every PBX SIPp scenario of testdata/sipp/ against a SIP server on
# 127.0.0.1 and prints one line per flow (successful/failed calls and
# retransmissions of the driving SIPp, plus the callee side).
#
#   bench/kamailio/validate-scenarios.sh kamailio [PORT]   # starts pbx.cfg itself
#   bench/kamailio/validate-scenarios.sh external PORT     # server already running
#
# Ports used (loopback only): server PORT (default 25070), callee 1001 on
# PORT+31, caller on PORT+32, registering SIPp on PORT+33.
# Env: CALLS (200), RATE (50), CANCELS (100), CANCEL_RATE (20), USERS (2000),
#      REG_RATE (200), TRANSPORT (u1 = UDP, t1 = TCP).
# Exit status 0 only if every flow had zero failed calls.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
S="$ROOT/testdata/sipp"
MODE=${1:-kamailio}
PORT=${2:-25070}
CALLS=${CALLS:-200}; RATE=${RATE:-50}
CANCELS=${CANCELS:-100}; CANCEL_RATE=${CANCEL_RATE:-20}
USERS=${USERS:-2000}; REG_RATE=${REG_RATE:-200}
TRANSPORT=${TRANSPORT:-u1}
UAS_PORT=$((PORT + 31)); UAC_PORT=$((PORT + 32)); REG_PORT=$((PORT + 33))
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
COMMON=(-i 127.0.0.1 -t "$TRANSPORT" -nostdin -buff_size 4194304)

if [ "$MODE" = kamailio ]; then
  sed "s/@PORT@/$PORT/g" "$HERE/pbx.cfg" > "$WORK/pbx.cfg"
  kamailio -f "$WORK/pbx.cfg" -DD -E -m 2048 -M 16 -Y "$WORK" > "$WORK/kamailio.log" 2>&1 &
  KPID=$!; PIDS+=("$KPID")
  sleep 1.5
  kill -0 "$KPID" || { cat "$WORK/kamailio.log"; exit 1; }
fi

# stats FILE.out -> "ok failed retrans"; SIPp's final screen: the
# "Successful call" / "Failed call" cumulative column and the Retrans column.
stats() {
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1], errors="replace").read()
def last(name):
    m = re.findall(name + r"\s*\|\s*\d+\s*\|\s*(\d+)", t)
    return int(m[-1]) if m else -1
# retransmissions: sum of the Retrans column of the last scenario screen
screen = t.rsplit("Scenario Screen", 1)[-1].split("Statistics Screen", 1)[0]
retr = 0
for line in screen.splitlines():
    # UAC screens print "INVITE ---------->", UAS screens "----------> INVITE"
    m = re.match(r"\s*(?:\S+\s+(?:-+>|<-+)|(?:-+>|<-+)\s+\S+)\s+(?:[EB]-RTD\d+\s+)?(\d+)\s+(\d+)", line)
    if m:
        retr += int(m.group(2))
print(last("Successful call"), last("Failed call"), retr)
PY
}
udp_drops() { awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp; }
DROPS0=$(udp_drops)
FAIL=0
report() { # NAME FILE.out
  read -r ok failed retr < <(stats "$2")
  echo "$1: successful $ok failed $failed retransmissions $retr"
  [ "$failed" = 0 ] && [ "$ok" -gt 0 ] || FAIL=1
}

# 1. callee 1001 registers from its own port
timeout 15 sipp -sf "$S/uas_register.xml" "127.0.0.1:$PORT" "${COMMON[@]}" -p "$UAS_PORT" \
  -s 1001 -ap pw-1001 -key expires 3600 -m 1 -recv_timeout 5000 -timeout 10 > "$WORK/reg1001.out" 2>&1 || true
report "register 1001" "$WORK/reg1001.out"

# 2. calls 1000 -> 1001
timeout $((CALLS / RATE + 60)) sipp -sf "$S/uas.xml" "${COMMON[@]}" -p "$UAS_PORT" \
  -m "$CALLS" -recv_timeout 10000 -timeout $((CALLS / RATE + 50)) > "$WORK/uas.out" 2>&1 &
UPID=$!; PIDS+=("$UPID"); sleep 0.5
timeout $((CALLS / RATE + 40)) sipp -sf "$S/uac_auth.xml" "127.0.0.1:$PORT" "${COMMON[@]}" -p "$UAC_PORT" \
  -s 1001 -key caller 1000 -au 1000 -ap pw-1000 -auth_uri "1001@127.0.0.1:$PORT" -d 0 \
  -m "$CALLS" -r "$RATE" -recv_timeout 5000 -timeout $((CALLS / RATE + 30)) > "$WORK/uac.out" 2>&1 || true
wait "$UPID" || true
report "uac_auth $CALLS calls at $RATE/s" "$WORK/uac.out"
report "  uas (callee)" "$WORK/uas.out"

# 3. cancelled calls
timeout $((CANCELS / CANCEL_RATE + 60)) sipp -sf "$S/uas_ring_cancel.xml" "${COMMON[@]}" -p "$UAS_PORT" \
  -m "$CANCELS" -recv_timeout 10000 -timeout $((CANCELS / CANCEL_RATE + 50)) > "$WORK/uasc.out" 2>&1 &
UPID=$!; PIDS+=("$UPID"); sleep 0.5
timeout $((CANCELS / CANCEL_RATE + 40)) sipp -sf "$S/uac_cancel.xml" "127.0.0.1:$PORT" "${COMMON[@]}" -p "$UAC_PORT" \
  -s 1001 -key caller 1000 -au 1000 -ap pw-1000 -auth_uri "1001@127.0.0.1:$PORT" \
  -m "$CANCELS" -r "$CANCEL_RATE" -recv_timeout 5000 -timeout $((CANCELS / CANCEL_RATE + 30)) > "$WORK/uacc.out" 2>&1 || true
wait "$UPID" || true
report "uac_cancel $CANCELS calls at $CANCEL_RATE/s" "$WORK/uacc.out"
report "  uas_ring_cancel (callee)" "$WORK/uasc.out"

# 4. many distinct users register
timeout $((USERS / REG_RATE + 60)) sipp -sf "$S/register_auth.xml" "127.0.0.1:$PORT" "${COMMON[@]}" -p "$REG_PORT" \
  -inf "$S/users.csv" -key expires 3600 -m "$USERS" -r "$REG_RATE" \
  -recv_timeout 5000 -timeout $((USERS / REG_RATE + 50)) > "$WORK/regn.out" 2>&1 || true
report "register_auth $USERS users at $REG_RATE/s" "$WORK/regn.out"

if [ "$MODE" = kamailio ]; then
  kill "$KPID"; wait "$KPID" 2>/dev/null || true
  # the TCP main process logs "receive_fd(): EOF" while shutting down: not counted
  errors=$(grep -E 'ERROR|CRITICAL' "$WORK/kamailio.log" | grep -c -v 'receive_fd(): EOF' || true)
  echo "kamailio log: $errors ERROR/CRITICAL lines ($WORK/kamailio.log)"
fi
echo "kernel UDP RcvbufErrors during the run: $(( $(udp_drops) - DROPS0 ))"
echo "sipp outputs: $WORK"
exit "$FAIL"
