#!/usr/bin/env bash
# Fetch the pinned Swagger UI and ReDoc builds from the npm registry into api/static/docs,
# so /docs and /redoc work with no internet access.
set -euo pipefail
cd "$(dirname "$0")/.."
swagger_ui=5.35.0
redoc=2.5.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$swagger_ui" "redoc@$redoc" >/dev/null)
tar -xzf "$work/swagger-ui-dist-$swagger_ui.tgz" -C "$work" && mv "$work/package" "$work/swagger"
tar -xzf "$work/redoc-$redoc.tgz" -C "$work" && mv "$work/package" "$work/redoc"
dest=api/static/docs
mkdir -p "$dest/swagger-ui" "$dest/redoc"
cp "$work/swagger/"{swagger-ui.css,swagger-ui-bundle.js,swagger-ui-standalone-preset.js,LICENSE} "$dest/swagger-ui/"
cp "$work/redoc/bundles/redoc.standalone.js" "$work/redoc/LICENSE" "$dest/redoc/"
# ReDoc's side menu loads its maker's logo from their CDN, the one thing the docs would fetch from
# elsewhere; the docs' CSP (img-src 'self' data:) would block it, so it points at an empty data:
# image instead, which ReDoc's own onError hides.
sed -i 's|"https://cdn.redoc.ly/redoc/logo-mini.svg"|"data:,"|' "$dest/redoc/redoc.standalone.js"
! grep -q 'cdn\.redoc\.ly' "$dest/redoc/redoc.standalone.js"
printf 'swagger-ui-dist %s\nredoc %s\n' "$swagger_ui" "$redoc" > "$dest/VERSIONS"
