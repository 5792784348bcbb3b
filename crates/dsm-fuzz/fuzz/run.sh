#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds (default 30) from a copy of its committed seed
# corpus; new crashes land in fuzz/artifacts/<target>/ (turn each into a regression test).
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler; uses the stable
# toolchain with RUSTC_BOOTSTRAP=1 for the nightly-only sanitizer flags.
#   crates/dsm-fuzz/fuzz/run.sh 30            # every target, 30 s each
#   crates/dsm-fuzz/fuzz/run.sh 60 receipt    # one target
#   crates/dsm-fuzz/fuzz/run.sh planted       # show the planted bug being found
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
secs="${1:-30}"
if [ "$secs" = planted ]; then
  work="$(mktemp -d)"; cp ../corpus/session_message/* "$work"/
  cargo fuzz run planted "$work" -- -max_total_time=300 2>&1 | tail -25
  exit 0
fi
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(session_message receipt proposal equivocation_proof core_objects frame chunk_packets cobs_and_apdu qr node_listing token_policy source_proof emission_step vault dbtc recovery owned_slot wallet_text backup_file)
fi
cargo fuzz build
for t in "${targets[@]}"; do
  work="$(mktemp -d)"; cp ../corpus/"$t"/* "$work"/
  echo "== $t ($secs s)"
  cargo fuzz run "$t" "$work" -- -max_total_time="$secs" -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)|SUMMARY|panicked|Done" || true
  rm -rf "$work"
done
