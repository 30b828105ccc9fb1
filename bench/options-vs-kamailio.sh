#!/usr/bin/env bash
# OPTIONS answered statelessly: tandem against Kamailio (sl_send_reply) on
# UDP, same SIPp scenario, same machine, same run. Reports the highest rate
# each sustains with zero failures and zero retransmissions, and the ratio.
# Usage: bench/options-vs-kamailio.sh [SECONDS_PER_STEP]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need sipp sip-tester; need kamailio kamailio
SECS=${1:-5}
RATES=(5000 10000 15000 20000 25000 30000 35000 40000 50000 60000 70000 80000)
SCENARIO="$ROOT/testdata/sipp/options.xml"

(cd "$ROOT" && cargo build --release -q -p tandem)

echo "tandem:" >&2
start_tandem 25060
tandem_max=$(find_max "$SCENARIO" 25060 "$SECS" "${RATES[@]}")
stop_pid "$TANDEM_PID"

echo "kamailio:" >&2
start_kamailio 25062 "$BENCH_DIR/kamailio/options.cfg"
kamailio_max=$(find_max "$SCENARIO" 25062 "$SECS" "${RATES[@]}")
stop_pid "$KAMAILIO_PID"

ratio=$(python3 -c "print(round($tandem_max / $kamailio_max, 2) if $kamailio_max else 'n/a')")
echo "OPTIONS over UDP, highest clean rate: tandem ${tandem_max}/s, kamailio ${kamailio_max}/s, ratio ${ratio}"
printf '{"bench":"options-udp","tandem_per_s":%s,"kamailio_per_s":%s,"ratio":"%s","seconds_per_step":%s}\n' \
  "$tandem_max" "$kamailio_max" "$ratio" "$SECS" | tee "$OUT/options-vs-kamailio.json"
