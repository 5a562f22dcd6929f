#!/usr/bin/env bash
# Regenerates every PNG/ICO/ICNS in icons/ from the SVG sources in icons/src/.
# Needs rsvg-convert (Debian: librsvg2-bin) and npm (it fetches @tauri-apps/cli for `tauri icon`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
for svg in src/tray-*.svg; do
  state=$(basename "$svg" .svg); state=${state#tray-}
  rsvg-convert -w 32 -h 32 "$svg" -o "tray/$state.png"
  rsvg-convert -w 64 -h 64 "$svg" -o "tray/$state@2x.png"
done
# The app icon in every size Tauri bundles (32x32.png, 128x128.png, icon.ico, icon.icns, ...).
rsvg-convert -w 1024 -h 1024 src/app.svg -o /tmp/ferry-app-icon.png
npx --yes @tauri-apps/cli@2.12.5 icon /tmp/ferry-app-icon.png -o "$here/app" >/dev/null 2>&1
rm -f /tmp/ferry-app-icon.png
# Only the desktop sizes are kept; mobile and Windows Store tiles are not built.
rm -rf app/android app/ios app/Square*Logo.png app/StoreLogo.png
echo "icons regenerated in $here"
