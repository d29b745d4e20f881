#!/usr/bin/env bash
# Backfill: replay archived input files through netkpi into dated output files.
# Usage: deploy/replay-backfill.sh CONFIG OUTDIR INPUT [INPUT ...]
# Exits non-zero if the configuration is invalid or the replay fails; outputs are written to a
# temporary folder first and moved into place only on success, so a failed run leaves no partial
# results behind.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 CONFIG OUTDIR INPUT [INPUT ...]" >&2
  exit 64
fi
config=$1; outdir=$2; shift 2
netkpi=${NETKPI:-netkpi}
"$netkpi" check-config "$config" >/dev/null
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d "${outdir%/}/.backfill-$stamp.XXXXXX")
trap 'rm -rf "$work"' EXIT
args=()
for f in "$@"; do args+=(--input "$f"); done
"$netkpi" --log-format json replay --config "$config" "${args[@]}" \
  --kpis-out "$work/kpis.jsonl" --breaches-out "$work/breaches.jsonl" \
  --dead-letters-out "$work/dead-letters.jsonl" 2> "$work/replay.log"
mv "$work" "${outdir%/}/backfill-$stamp"
trap - EXIT
echo "${outdir%/}/backfill-$stamp"
