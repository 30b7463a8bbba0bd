#!/usr/bin/env bash
# Vendors the browser libraries from the npm registry into static/vendor/, pinned by version and
# by the registry's sha512 integrity. The output is committed, so the demo, the tests and the
# image need no npm and no CDN at run time. Run it (Node and npm installed) after changing a pin.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=static/vendor

# name  version  integrity (as in the registry's dist.integrity)
PINS=(
    "htmx.org 2.0.8 sha512-fm297iru0iWsNJlBrjvtN7V9zjaxd+69Oqjh4F/Vq9Wwi2kFisLcrLCiv5oBX0KLfOX/zG8AUo9ROMU5XUB44Q=="
    "@novnc/novnc 1.7.0 sha512-ucEJOx4T2avIRCleodk7YobZj5O2Ga2AeLfQ69A/yjG9HHba2+PDgwSkN3FttrmG+70ZGx21sElNFouK13RzyA=="
    "@xterm/xterm 6.0.0 sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg=="
    "@xterm/addon-fit 0.11.0 sha512-jYcgT6xtVYhnhgxh3QgYDnnNMYTcf8ElbxxFzX0IZo+vabQqSPAjC3c1wJrKB5E19VwQei89QCiZZP86DCPF7g=="
    "uplot 1.6.32 sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION INTEGRITY -> unpacked into $work/NAME/package
    local name=$1 version=$2 integrity=$3 dir="$work/${1//\//_}" tarball
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "$name@$version")
    local actual="sha512-$(openssl dgst -sha512 -binary "$dir/$tarball" | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
        echo "$name@$version: integrity $actual does not match the pinned $integrity" >&2
        exit 1
    fi
    tar -xzf "$dir/$tarball" -C "$dir"
    echo "$dir/package"
}

for pin in "${PINS[@]}"; do
    read -r name version integrity <<<"$pin"
    src=$(fetch "$name" "$version" "$integrity")
    case "$name" in
        htmx.org)
            cp "$src/dist/htmx.min.js" "$VENDOR/htmx-$version.min.js"
            cp "$src/LICENSE" "$VENDOR/htmx-LICENSE.txt" ;;
        @novnc/novnc)
            # The library only (ES modules and its inflate code), not noVNC's own app.
            out="$VENDOR/novnc-$version"; rm -rf "$out"; mkdir -p "$out/vendor" "$out/docs"
            cp -r "$src/core" "$out/"
            cp -r "$src/vendor/pako" "$out/vendor/"
            cp "$src/LICENSE.txt" "$src/AUTHORS" "$out/"
            cp "$src/docs/LICENSE.MPL-2.0" "$out/docs/" ;;
        @xterm/xterm)
            out="$VENDOR/xterm-$version"; rm -rf "$out"; mkdir -p "$out"
            cp "$src/lib/xterm.mjs" "$src/css/xterm.css" "$src/LICENSE" "$out/" ;;
        @xterm/addon-fit)
            out="$VENDOR/xterm-addon-fit-$version"; rm -rf "$out"; mkdir -p "$out"
            cp "$src/lib/addon-fit.mjs" "$src/LICENSE" "$out/" ;;
        uplot)
            out="$VENDOR/uplot-$version"; rm -rf "$out"; mkdir -p "$out"
            cp "$src/dist/uPlot.iife.min.js" "$src/dist/uPlot.min.css" "$src/LICENSE" "$out/" ;;
    esac
    echo "vendored $name@$version"
done
