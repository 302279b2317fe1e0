#!/usr/bin/env bash
# The device call sends this checkout (tracked and untracked-not-ignored files) and at most 64 MiB
# in all; the tracked ONNX models and PyTorch weights alone are ~120 MB. For the call, move every
# tracked file over 1 MiB out of the tree, and back afterwards:
#   scripts/gpu-bench/slim.sh out     move them to $SLIM_STASH (default /tmp/diffit-slim)
#   scripts/gpu-bench/slim.sh back    move them back (always run it, also after a failed call)
#   scripts/gpu-bench/slim.sh size    bytes that travel with them out (carried folders not counted)
# While they are out, nothing in this checkout can load a model: say so to anyone sharing it.
set -euo pipefail
cd "$(dirname "$0")/../.."
STASH=${SLIM_STASH:-/tmp/diffit-slim}
BIG=$((1 << 20))

# Tracked files present in the tree, over 1 MiB, one per line.
big_files() { git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk -v big=$BIG '$1 > big { sub(/^[0-9]+ /, ""); print }'; }

case "${1:-}" in
  out)
    [ ! -s "$STASH/list" ] || { echo "slim: $STASH/list exists: an earlier 'out' was not brought back (run: $0 back)" >&2; exit 2; }
    mkdir -p "$STASH"
    big_files >"$STASH/list.part"
    while IFS= read -r f; do
      mkdir -p "$STASH/tree/$(dirname "$f")"
      mv "$f" "$STASH/tree/$f"
    done <"$STASH/list.part"
    mv "$STASH/list.part" "$STASH/list"
    echo "slim: moved $(wc -l <"$STASH/list") files to $STASH/tree; bring them back with: $0 back"
    ;;
  back)
    [ -s "$STASH/list" ] || { echo "slim: nothing to bring back ($STASH/list is missing)"; exit 0; }
    while IFS= read -r f; do
      if [ -e "$STASH/tree/$f" ]; then mkdir -p "$(dirname "$f")" && mv "$STASH/tree/$f" "$f"; fi
    done <"$STASH/list"
    echo "slim: moved $(wc -l <"$STASH/list") files back"
    rm -rf "$STASH"
    ;;
  size)
    tracked=$(git ls-files -z | xargs -0 -r stat -c '%s' 2>/dev/null | awk -v big=$BIG '$1 <= big { s += $1 } END { print s + 0 }')
    untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c '%s' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    echo $((tracked + untracked))
    ;;
  *) echo "usage: $0 out|back|size" >&2; exit 2 ;;
esac
