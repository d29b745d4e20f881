#!/usr/bin/env bash
# Type-checks every dashboard against @grafana/schema's Dashboard type: each JSON becomes a typed
# object literal (so excess and mistyped properties are errors) and tsc --noEmit --strict runs.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/@grafana/schema ] || npm install --no-audit --no-fund --silent
rm -rf gen && mkdir gen
for f in ../dashboards/*.json; do
  name=$(basename "$f" .json | tr -c 'a-zA-Z0-9\n' '_')
  { echo 'import type { Dashboard } from "@grafana/schema";'
    printf 'export const %s: Dashboard = ' "$name"; cat "$f"; echo ';'; } > "gen/$name.ts"
done
npx tsc --noEmit --strict --skipLibCheck --moduleResolution node --target es2020 gen/*.ts
echo "dashboards type-check against @grafana/schema: OK ($(ls gen | wc -l) dashboards)"
