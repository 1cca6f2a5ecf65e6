#!/usr/bin/env bash
# Builds a JavaScript weft plugin into a component.
#
#   build.sh [SRC_DIR [OUT.wasm [WORLD]]]     (default: this folder, <folder name>.wasm)
#
# SRC_DIR holds the plugin, named after the directory (my_hook/my_hook.js). WORLD is `hook`
# or `optimizer-constructor`; by default it follows what the plugin exports (`hooks` or
# `constructors`). The engine is StarlingMonkey (componentize-js) unless
# WEFT_JS_ENGINE=quickjs picks componentize-qjs (an eighth of the size, u64 values as
# Numbers instead of BigInts). QuickJS builds hooks since they are built on weft:plugin
# 0.3.0: componentize-qjs 0.4.5 never gave back the borrowed run state of 0.2.0's hook
# points, and 0.3.0's take none.
#
# The engines take one module, so the build puts the SDK (weft-plugin.js for hooks,
# weft-constructor.js for constructors; from the project, else from next to this script) in
# front of the plugin; errors name the plugin's own lines because its syntax is checked on
# its own first.
set -euo pipefail

if [ $# -gt 3 ]; then
    echo "usage: $0 [SRC_DIR [OUT.wasm [WORLD]]]" >&2
    exit 2
fi
# A plugin project made by `weft plugin new` builds with a bare `./build.sh`.
src=$(cd "${1:-$(dirname "$0")}" && pwd)
name=$(basename "$src")
plugin=$src/$name.js
world=${3:-}
if [ -z "$world" ]; then
    if grep -q '^export const constructors' "$plugin" 2>/dev/null; then world=optimizer-constructor; else world=hook; fi
fi
out=${2:-$src/$name.wasm}
sdk=$(cd "$(dirname "$0")" && pwd)
weft=${WEFT:-weft}
guest_js=${WEFT_GUEST_JS:-$HOME/.cache/weft/guest-js-cjs0.23.0-qjs0.4.5}
engine=${WEFT_JS_ENGINE:-spidermonkey}
case $engine in
    spidermonkey) tool=$guest_js/node_modules/.bin/componentize-js ;;
    quickjs) tool=$guest_js/node_modules/.bin/componentize-qjs ;;
    *) echo "error: WEFT_JS_ENGINE must be spidermonkey or quickjs, got $engine" >&2; exit 1 ;;
esac

if [ ! -f "$plugin" ]; then
    echo "error: $plugin not found (the plugin file is named after its directory)" >&2
    exit 1
fi
if ! command -v node >/dev/null; then
    echo "error: node not found: install Node.js 18 or newer (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
if [ ! -x "$tool" ]; then
    echo "error: $(basename "$tool") not found at $tool: run \`make guest-toolchains\` in the weft repository, or set WEFT_GUEST_JS to a folder with \`npm install @bytecodealliance/componentize-js@0.23.0 componentize-qjs@0.4.5\`" >&2
    exit 1
fi
if ! command -v "$weft" >/dev/null; then
    echo "error: weft not found (set WEFT to the weft binary, or put it on PATH)" >&2
    exit 1
fi
case $world in
    hook) sdk_name=weft-plugin.js ;;
    optimizer-constructor) sdk_name=weft-constructor.js ;;
    *) echo "error: the JavaScript SDK covers the hook and optimizer-constructor worlds, not \`$world\`" >&2; exit 1 ;;
esac
sdk_file=$src/$sdk_name
[ -f "$sdk_file" ] || sdk_file=$sdk/$sdk_name

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Syntax first, on the plugin alone, with its own file name in the messages.
cp "$plugin" "$tmp/$name.mjs"
if ! node --check "$tmp/$name.mjs" 2>"$tmp/syntax"; then
    echo "error: $plugin has a syntax error; fix it and build again:" >&2
    sed "s#$tmp/$name.mjs#$plugin#g" "$tmp/syntax" | grep -v '^Node.js v' | sed 's/^/  /' >&2
    exit 1
fi

# weft:plugin@0.3.0: hook points that take and return nothing, `ranks` (rank() and its
# kin); the constructor world is 0.1.0's under the new version.
"$weft" plugin wit --version 0.3.0 "$tmp/wit"
{
    # The constructor world's `log` is a world-level import: componentize-js reads it as the
    # default export of module "log", componentize-qjs provides it as a global.
    if [ "$world" = optimizer-constructor ]; then
        if [ "$engine" = quickjs ]; then
            echo 'const weftLog = globalThis.log;'
        else
            echo 'import weftLog from "log";'
        fi
    fi
    cat "$sdk_file" "$plugin"
} >"$tmp/bundle.js"
if [ "$engine" = quickjs ]; then
    "$tool" --wit "$tmp/wit" --js "$tmp/bundle.js" -n "$world" --sync --stub-wasi -o "$tmp/out.wasm" >"$tmp/log" 2>&1 || {
        cat "$tmp/log" >&2
        echo "error: componentize-qjs failed for $plugin" >&2
        exit 1
    }
else
    # Every WASI feature off: a hook needs none, and http would need imports weft does not give.
    "$tool" "$tmp/bundle.js" -w "$tmp/wit" -n "$world" -d stdio random clocks http fetch-event \
        -o "$tmp/out.wasm" >"$tmp/log" 2>&1 || {
        cat "$tmp/log" >&2
        echo "error: componentize-js failed for $plugin" >&2
        exit 1
    }
fi
mkdir -p "$(dirname "$out")"
mv "$tmp/out.wasm" "$out"
