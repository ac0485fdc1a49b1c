#!/bin/sh
# Vendor the web app's third-party libraries as plain files (no bundler on the Pi).
#
# Each library is fetched from the npm registry with `npm pack` at an exact version,
# unpacked in a temporary folder, and only the files the pages load (plus the licence)
# are copied into webui/vendor/<pkg>/. The versions are recorded in webui/vendor/VERSIONS.
# Run it from anywhere; commit the result. To upgrade, change the version below and rerun.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
vendor="$here/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch <package> <exact version> <file inside the package>...
fetch() {
    pkg=$1 version=$2
    shift 2
    # A scoped package (@scope/name) packs as scope-name-version.tgz.
    tarball=$(echo "$pkg" | sed 's|^@||; s|/|-|')-$version.tgz
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
    mkdir -p "$tmp/$pkg"
    tar -xzf "$tmp/$tarball" -C "$tmp/$pkg"
    rm -rf "${vendor:?}/$pkg"
    mkdir -p "$vendor/$pkg"
    for file in "$@" LICENSE; do
        cp "$tmp/$pkg/package/$file" "$vendor/$pkg/"
    done
    echo "$pkg $version" >>"$tmp/VERSIONS"
}

# uPlot: the lap-time plot on the results page (ES module build + its stylesheet).
fetch uplot 1.6.32 dist/uPlot.esm.js dist/uPlot.min.css

# @noble/hashes: SHA-256 and HMAC for the director's login (js/director.js). Pages on
# plain HTTP have no WebCrypto (crypto.subtle needs a secure context). ES modules; these
# five import only each other.
fetch @noble/hashes 2.4.0 sha2.js hmac.js _md.js _u64.js utils.js

{
    echo "# Vendored by webui/vendor.sh from the npm registry: package exact-version"
    cat "$tmp/VERSIONS"
} >"$vendor/VERSIONS"
echo "vendored into $vendor:"
cat "$vendor/VERSIONS"
