#!/usr/bin/env bash
# The README's pictures (issue 16): docs/images/dashboard.png (the Grafana dashboard's queries, charted from a real
# Prometheus scraping a broker under load) and docs/images/jaeger-trace.png (one publish's trace in Jaeger's UI), taken
# with Debian's headless Chromium by scripts/pictures/main.ts. Run it by hand after changing the dashboard or the
# spans (`npm run pictures`, about a minute) and commit the images: CI does not run it (it needs a browser and
# Jaeger's UI, and a picture is not a test); the committed PNGs are its output.
#
# Installs, once each: chromium and pngquant (Debian), prometheus (scripts/tools.sh), the jaeger binary
# (scripts/tools.sh jaeger). Jaeger's UI is not in the jaeger Go module (its binary serves a placeholder page) nor in
# any package registry, so it is built here with npm from a checkout of github.com/jaegertracing/jaeger-ui at the tag
# of the jaeger module scripts/jaeger/go.mod pins (v1.76.0), given once as JAEGER_UI_SRC; the build (about 5 minutes)
# is kept in .tools/jaeger-ui and served by the jaeger binary (jaeger_query's ui.assets_path).
#   JAEGER_UI_SRC=/path/to/jaeger-ui npm run pictures      # the first time
# (from a bare clone of jaeger-ui: mkdir src && git --git-dir=<clone> archive v1.76.0 | tar -x -C src)
#   npm run pictures                                        # afterwards
# LOAD_SECONDS (30) sets how long the broker is loaded; PICTURES_DIR (docs/images) where the PNGs go.
set -euo pipefail
cd "$(dirname "$0")/.."

for pkg in chromium pngquant; do
  command -v "$pkg" >/dev/null && continue
  echo "installing $pkg from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; }
done
bash scripts/tools.sh prometheus jaeger

ui=.tools/jaeger-ui
if [ ! -f "$ui/index.html" ]; then
  src=${JAEGER_UI_SRC:?Jaeger UI is not built yet: set JAEGER_UI_SRC to a checkout of jaeger-ui (tag v1.76.0), see the header of scripts/pictures.sh}
  echo "building Jaeger UI from $src" >&2
  # The UI asks for Node 24 (engine-strict in its .npmrc); its build runs on the Node 20 of this repository.
  (cd "$src" && npm ci --engine-strict=false --no-audit --no-fund && cd packages/jaeger-ui && npm run build)
  rm -rf "$ui.tmp" && cp -r "$src/packages/jaeger-ui/build" "$ui.tmp" && mv "$ui.tmp" "$ui"
fi

out=${PICTURES_DIR:-docs/images}
PICTURES_DIR=$out JAEGER_UI_ASSETS="$PWD/$ui" CHROMIUM="$(command -v chromium)" node --import tsx scripts/pictures/main.ts
# Screenshots are flat colours: a 256-colour palette keeps them sharp at a fraction of the size.
for png in "$out/dashboard.png" "$out/jaeger-trace.png"; do
  # 98/99: the palette would be larger or worse than the original, which is then kept as it is.
  pngquant --force --skip-if-larger --strip --quality=70-95 --output "$png" -- "$png" || {
    rc=$?
    [ "$rc" -eq 98 ] || [ "$rc" -eq 99 ] || exit "$rc"
  }
  echo "$png: $(($(stat -c %s "$png") / 1024)) KiB" >&2
done
