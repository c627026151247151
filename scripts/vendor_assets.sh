#!/usr/bin/env bash
# Refresh the vendored front-end assets in guanxi/static/vendor from the versions pinned in package.json.
# Runs npm in a throw-away directory and copies only the minified files the templates load, plus licences.
# Nothing is fetched at run time: the copied files are committed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/guanxi/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp "$root/package.json" "$work/package.json"
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --omit=dev --loglevel=error >/dev/null)
mods="$work/node_modules"

version() { node -p "require('$mods/$1/package.json').version"; }

copy() {  # copy SRC DEST, failing loudly when a package moved a file
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2"
}

# The npm packages of Tabler and Alpine ship no licence file; both declare MIT in package.json.
mit_licence() {
  [ "$(node -p "require('$mods/@tabler/core/package.json').license")" = MIT ] || { echo "Tabler licence changed" >&2; exit 1; }
  [ "$(node -p "require('$mods/@alpinejs/csp/package.json').license")" = MIT ] || { echo "Alpine licence changed" >&2; exit 1; }
  cat <<LICENCE
The MIT License (MIT)

$1

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
LICENCE
}

rm -rf "$dest"
mkdir -p "$dest"

# Tabler (Bootstrap 5 based UI kit): CSS and the JS bundle (includes Bootstrap's dropdown/collapse).
copy "$mods/@tabler/core/dist/css/tabler.min.css" "$dest/tabler/tabler.min.css"
copy "$mods/@tabler/core/dist/js/tabler.min.js" "$dest/tabler/tabler.min.js"
mit_licence "Copyright (c) 2018-present The Tabler Authors and codecalm.net Paweł Kuna" > "$dest/tabler/LICENSE"

# htmx 2.x
copy "$mods/htmx.org/dist/htmx.min.js" "$dest/htmx/htmx.min.js"
copy "$mods/htmx.org/LICENSE" "$dest/htmx/LICENSE"

# Alpine.js, CSP build (no eval; components are registered with Alpine.data in static JS files).
copy "$mods/@alpinejs/csp/dist/cdn.min.js" "$dest/alpinejs/alpine-csp.min.js"
mit_licence "Copyright (c) 2019-present Caleb Porzio and contributors" > "$dest/alpinejs/LICENSE"

# Source maps are not vendored; drop the references to them (collectstatic's manifest would fail on them).
find "$dest" -name '*.min.js' -o -name '*.min.css' | while read -r file; do
  sed -i -E 's@/[*/]# sourceMappingURL=[^ *]*( \*/)?@@' "$file"
done

cat > "$dest/VERSIONS.txt" <<VERSIONS
@tabler/core $(version @tabler/core)
htmx.org $(version htmx.org)
@alpinejs/csp $(version @alpinejs/csp)
VERSIONS

echo "vendored into $dest:"
cat "$dest/VERSIONS.txt"
