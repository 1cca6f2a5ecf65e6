#!/usr/bin/env bash
# Builds a Python weft plugin into a component with componentize-py.
#
#   build.sh [SRC_DIR [OUT.wasm [WORLD]]]     (default: this folder, <folder name>.wasm)
#
# SRC_DIR holds the plugin module, named after the directory (my_hook/my_hook.py), and any
# modules it imports; the SDK (weft_plugin.py, weft_constructor.py) is taken from next to
# this script. WORLD is `hook` or `optimizer-constructor`; by default it follows what the
# module exports (`Hooks = ...` or `Constructors = ...`). The WIT comes from weft itself (`weft plugin wit`),
# so the plugin is built against the interface the weft that runs it implements.
set -euo pipefail

if [ $# -gt 3 ]; then
    echo "usage: $0 [SRC_DIR [OUT.wasm [WORLD]]]" >&2
    exit 2
fi
# A plugin project made by `weft plugin new` builds with a bare `./build.sh`.
src=$(cd "${1:-$(dirname "$0")}" && pwd)
name=$(basename "$src")
out=${2:-$src/$name.wasm}
world=${3:-}
sdk=$(cd "$(dirname "$0")" && pwd)
weft=${WEFT:-weft}
guest_py=${WEFT_GUEST_PY:-$HOME/.cache/weft/guest-py-cpy0.25.1-go1.27.3-zig0.17.0}
componentize=$guest_py/bin/componentize-py

if [ ! -f "$src/$name.py" ]; then
    echo "error: $src/$name.py not found (the plugin module is named after its directory)" >&2
    exit 1
fi
if [ -z "$world" ]; then
    if grep -q '^Constructors *=' "$src/$name.py"; then world=optimizer-constructor; else world=hook; fi
fi
if [ ! -x "$componentize" ]; then
    echo "error: componentize-py not found at $componentize: run \`make guest-toolchains\` in the weft repository, or set WEFT_GUEST_PY to a venv with \`pip install componentize-py==0.25.1\`" >&2
    exit 1
fi
if ! command -v "$weft" >/dev/null; then
    echo "error: weft not found (set WEFT to the weft binary, or put it on PATH)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A syntax error would otherwise surface deep in a componentize-py trace: name the file and
# line first (compiled in memory, so nothing is written next to the sources).
for f in "$src"/*.py; do
    if ! "$guest_py/bin/python" -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$f" 2>"$tmp/syntax"; then
        echo "error: $f has a syntax error; fix it and build again:" >&2
        grep -v '^Traceback\|^  File "<string>"' "$tmp/syntax" | sed 's/^/  /' >&2
        exit 1
    fi
done
# weft:plugin@0.3.0: hook points that take and return nothing, `ranks` (weft_plugin.rank()
# and its kin); the constructor world is 0.1.0's under the new version.
"$weft" plugin wit --version 0.3.0 "$tmp/wit"
# componentize-py writes __pycache__ next to the modules it reads: give it copies.
mkdir "$tmp/src"
cp "$src"/*.py "$tmp/src/"
# The SDK next to this script, unless the project has its own copy (a scaffold has one).
[ -f "$tmp/src/weft_plugin.py" ] || cp "$sdk"/weft_*.py "$tmp/src/"
"$componentize" -d "$tmp/wit" -w "$world" componentize \
    -p "$tmp/src" "$name" -o "$tmp/out.wasm" >"$tmp/log" 2>&1 || {
    cat "$tmp/log" >&2
    echo "error: componentize-py failed for $src/$name.py" >&2
    exit 1
}
mkdir -p "$(dirname "$out")"
mv "$tmp/out.wasm" "$out"
