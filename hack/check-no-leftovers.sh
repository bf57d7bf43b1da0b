#!/usr/bin/env bash
# What a test run must not leave behind: control-plane or test-host processes, temp dirs, network
# namespaces. `snapshot FILE` records what exists before the run (a developer's `hack/dev up`, say);
# `check FILE` fails naming whatever appeared since and is still there.
set -euo pipefail
cache="${LIVE_MIGRATION_CACHE:-$HOME/.cache/live-migration}"
tmp="${TMPDIR:-/tmp}"

inventory() {
  pgrep -f "$cache/bin/(etcd|kube-apiserver)|live-migration-hosts-|$cache/guest/vmlinux" | sed 's/^/process /' || true
  compgen -G "$tmp/live-migration-*" | sed 's/^/temp /' || true
  ip netns list 2>/dev/null | awk '/^lmhosts-/ {print "netns " $1}' || true
}

case "${1:-}" in
  snapshot) inventory | sort > "$2" ;;
  check)
    new="$(comm -13 "$2" <(inventory | sort))"
    if [[ -n $new ]]; then
      echo "left behind by the test run:" >&2
      while read -r kind what; do
        if [[ $kind == process ]]; then echo "  process $(ps -o pid=,args= -p "$what" 2>/dev/null || echo "$what")" >&2; else echo "  $kind $what" >&2; fi
      done <<<"$new"
      exit 1
    fi
    ;;
  *) echo "usage: hack/check-no-leftovers.sh snapshot FILE | check FILE" >&2; exit 2 ;;
esac
