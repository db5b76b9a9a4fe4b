#!/usr/bin/env bash
# Generate the Python client (openapi-python-client) and the TypeScript types (openapi-typescript,
# used through openapi-fetch) from the committed spec into a temporary folder, then type-check the
# mobile scenarios kept in clients/ against them: tsc --noEmit --strict and mypy --strict.
# Run it through `make clients`, which installs the pinned tools first (.venv-clients from
# clients/python/requirements.txt, clients/typescript/node_modules from its package-lock.json).
# Every step runs; the exit code is non-zero when any of them failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
spec=${SPEC:-openapi/openapi.json}
venv=${CLIENTS_VENV:-.venv-clients}
ts=clients/typescript
py=clients/python
bin=$ts/node_modules/.bin

for tool in "$venv/bin/openapi-python-client" "$venv/bin/mypy" "$bin/openapi-typescript" "$bin/tsc"; do
  if [ ! -x "$tool" ]; then
    echo "$tool is missing: run \`make clients\`, which installs the pinned tools" >&2
    exit 2
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()

echo "== scenario rules: no any/Any, no casts, no non-null assertions, no ignore comments"
# Comments, docstrings and string literals may say anything; only code is searched for casts.
ts_code() { # the code of a .ts file, line for line, with strings and comments emptied
  perl -0pe '
    sub keep_lines { my $text = shift; $text =~ tr/\n//cd; $text }
    s{`[^`]*`}{"``" . keep_lines($&)}ge;         # template literals
    s{"(?:[^"\\\n]|\\.)*"}{""}g;               # "strings"
    s{\x27(?:[^\x27\\\n]|\\.)*\x27}{""}g;     # single-quoted strings
    s{/\*.*?\*/}{keep_lines($&)}gse;           # block comments
    s{//[^\n]*}{}g;                             # line comments
  ' "$1"
}
py_code() {
  "$venv/bin/python" - "$1" <<'EOF'
import sys, tokenize
with open(sys.argv[1], "rb") as source:
    line, out = 1, []
    for token in tokenize.tokenize(source.readline):
        if token.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER):
            while line < token.start[0]:
                out.append("\n"); line += 1
            out.append(token.string + " ")
print("".join(out))
EOF
}
rules_ok=1
check() { # file, description, pattern, text
  local hits
  hits=$(printf '%s\n' "$4" | grep -nE -- "$3" || true)
  if [ -n "$hits" ]; then
    rules_ok=0
    printf '%s: %s\n' "$1" "$2" >&2
    printf '%s\n' "$hits" | sed "s|^|  $1:|" >&2
  fi
}
scenario_ts=$ts/scenario.ts
code=$(ts_code "$scenario_ts")
raw=$(cat "$scenario_ts")
check "$scenario_ts" "any" '\bany\b' "$code"
# (A mapped type's key remapping, `[K in keyof T as ...]`, is not a cast.)
check "$scenario_ts" "an 'as' cast" '[^[:space:]][[:space:]]+as[[:space:]]+[^[:space:]]' \
  "$(printf '%s\n' "$code" | sed -E 's/\[[A-Za-z_]+ in keyof [A-Za-z_]+ as /[/g')"
check "$scenario_ts" "a <T> cast" '(^|[=(,?&|]|return)[[:space:]]*<[^<>=]+>[[:space:]]*[A-Za-z_($]' "$code"
check "$scenario_ts" "a non-null assertion" '[]A-Za-z0-9_)]!([].;,)[]|$)' "$code"
check "$scenario_ts" "a @ts- directive" '@ts-(ignore|expect-error|nocheck)' "$raw"
scenario_py=$py/scenario.py
code=$(py_code "$scenario_py")
raw=$(cat "$scenario_py")
check "$scenario_py" "Any" '\bAny\b' "$code"
check "$scenario_py" "a cast" '\bcast \(' "$code"
check "$scenario_py" "a getattr" '\bgetattr \(' "$code"
check "$scenario_py" "a type: ignore comment" 'type:[[:space:]]*ignore' "$raw"
[ $rules_ok = 1 ] || failed+=("scenario rules")

echo "== TypeScript: openapi-typescript $("$bin/openapi-typescript" --version 2>/dev/null | tr -d v), openapi-fetch $(node -p "require('./$ts/node_modules/openapi-fetch/package.json').version"), tsc $("$bin/tsc" --version | sed 's/^Version //')"
mkdir -p "$work/ts"
# --enum-values also exports each enum's values, so an app can check a device value (its time
# zone) against them without a cast.
if "$bin/openapi-typescript" "$spec" --enum-values --output "$work/ts/schema.ts" >"$work/ts/generate.log" 2>&1; then
  # The scenario stays where it is (its imports resolve from clients/typescript/node_modules);
  # this tsconfig maps "@api/schema" to the generated types.
  cat >"$work/ts/tsconfig.json" <<EOF
{
  "extends": "$root/$ts/tsconfig.json",
  "compilerOptions": { "paths": { "@api/schema": ["$work/ts/schema.ts"] } }
}
EOF
  "$bin/tsc" --noEmit --strict -p "$work/ts/tsconfig.json" --pretty false || failed+=("tsc")
else
  cat "$work/ts/generate.log" >&2
  failed+=("openapi-typescript")
fi

echo "== Python: $("$venv/bin/openapi-python-client" --version), $("$venv/bin/mypy" --version)"
if "$venv/bin/openapi-python-client" generate --fail-on-warning --path "$spec" --config "$py/config.yml" \
  --meta none --output-path "$work/py/integration_journal_client" >"$work/py-generate.log" 2>&1; then
  MYPYPATH="$work/py" "$venv/bin/mypy" --strict --config-file "$py/mypy.ini" --cache-dir "$work/mypy-cache" \
    "$py/scenario.py" || failed+=("mypy")
else
  cat "$work/py-generate.log" >&2
  failed+=("openapi-python-client")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "clients: FAILED (${failed[*]})" >&2
  exit 1
fi
echo "clients: both scenarios type-check against $spec"
