#!/usr/bin/env bash
# Online transfers through the CLI against 6 loopback storage nodes (README "Heavier
# checks"): the time of one `dsm send --online`, of one round (send, the receiver's sync,
# the sender's sync), and the settled transfers per second of 10 pairs of wallets running
# rounds in parallel. Every call is a fresh process, so each pays process start-up and
# unsealing its key; `cargo bench -p dsm-wallet --bench online` measures the same flow
# through the library with wallets kept open.
#
#   cargo build --release -p dsm-cli && scripts/bench-online-cli.sh [ROUNDS] [SECONDS]
#
# ROUNDS (default 30) sends and rounds are timed one after another; the parallel part runs
# for SECONDS (default 20). Everything lives in a temporary directory, removed at the end;
# the nodes are stopped by their PIDs.
set -euo pipefail
ROUNDS="${1:-30}"
SECONDS_PARALLEL="${2:-20}"
DSM="$(cd "$(dirname "$0")/.." && pwd)/target/release/dsm"
[ -x "$DSM" ] || { echo "build first: cargo build --release -p dsm-cli" >&2; exit 2; }
WORK="$(mktemp -d /tmp/dsm-bench-online.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export DSM_PASSPHRASE="bench passphrase"

URLS=()
for i in 0 1 2 3 4 5; do
  mkdir -p "$WORK/n$i"
  "$DSM" node serve --listen 127.0.0.1:0 --data "$WORK/n$i" --rate 0 --write-mib-per-minute 0 \
    --owner-write-mib-per-minute 0 >"$WORK/n$i.out" 2>/dev/null &
  PIDS+=("$!")
done
for i in 0 1 2 3 4 5; do
  for _ in $(seq 100); do
    url="$(grep -o 'http://[0-9.:]*' "$WORK/n$i.out" | head -1 || true)"
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "node $i did not start" >&2; exit 1; }
  URLS+=("$url")
done

# A wallet at home $1 named $2 with $3 units from the dev faucet, knowing the 6 nodes.
wallet() {
  if [ "$3" -gt 0 ]; then
    DSM_HOME="$1" "$DSM" -qq init --name "$2" --dev-faucet "$3" >/dev/null
  else
    DSM_HOME="$1" "$DSM" -qq init --name "$2" >/dev/null
  fi
  DSM_HOME="$1" "$DSM" -qq nodes add "${URLS[@]}" >/dev/null
}
card() { DSM_HOME="$1" "$DSM" -qq card; }
pair() { # $1 payer home, $2 payee home; each publishes its identity document first
  wallet "$1" "payer" 1000000
  wallet "$2" "payee" 0
  DSM_HOME="$1" "$DSM" -qq sync >/dev/null
  DSM_HOME="$2" "$DSM" -qq sync >/dev/null
  DSM_HOME="$1" "$DSM" -qq contact add "$(card "$2")" --name payee >/dev/null
  DSM_HOME="$2" "$DSM" -qq contact add "$(card "$1")" --name payer >/dev/null
}
now() { echo "${EPOCHREALTIME/./}"; } # microseconds, no process spawned
ms() { python3 -c "print(f'{($2 - $1) / 1000 / $3:.1f}')"; } # $1..$2 µs over $3

pair "$WORK/a" "$WORK/b"
send() { DSM_HOME="$1" "$DSM" -qq send payee 1 --online --yes >/dev/null; }
sync_() { DSM_HOME="$1" "$DSM" -qq sync >/dev/null; }

echo "dsm send --online through the CLI, 6 loopback nodes (N = 6, K = 3, W = 4), rationing off"
tsend=0
t0="$(now)"
for _ in $(seq "$ROUNDS"); do
  s0="$(now)"; send "$WORK/a"; s1="$(now)"
  tsend=$((tsend + s1 - s0))
  sync_ "$WORK/b"   # the receiver answers (one transfer pending per peer at a time)
  sync_ "$WORK/a"   # the sender stitches the acceptance
done
t1="$(now)"
echo "one send --online: $(ms 0 "$tsend" "$ROUNDS") ms"
echo "one round (send, receiver sync, sender sync): $(ms "$t0" "$t1" "$ROUNDS") ms"

echo "10 pairs in parallel for ${SECONDS_PARALLEL} s (rounds as above; a transfer counts once its sender stitched the receiver's acceptance):"
for p in $(seq 10); do pair "$WORK/p$p" "$WORK/q$p"; done
round_loop() { # $1 pair index; prints the rounds it finished
  local n=0 end
  end=$(($(now) + SECONDS_PARALLEL * 1000000))
  while [ "$(now)" -lt "$end" ]; do
    send "$WORK/p$1" && sync_ "$WORK/q$1" && sync_ "$WORK/p$1" && n=$((n + 1))
  done
  echo "$n"
}
t4="$(now)"
LOOPS=()
for p in $(seq 10); do
  round_loop "$p" >"$WORK/rounds$p" &
  LOOPS+=("$!")
done
wait "${LOOPS[@]}"
t5="$(now)"
total=0
for p in $(seq 10); do total=$((total + $(cat "$WORK/rounds$p"))); done
echo "settled transfers: $total in $(python3 -c "print(f'{($t5 - $t4) / 1e6:.1f}')") s = $(python3 -c "print(f'{$total / (($t5 - $t4) / 1e6):.1f}')")/s"
