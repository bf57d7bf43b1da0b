#!/usr/bin/env bash
# Fails when a test run left a control-plane process or temp dir behind.
set -euo pipefail
cache="${LIVE_MIGRATION_CACHE:-$HOME/.cache/live-migration}"
leftover=0
if pgrep -af "$cache/bin/(etcd|kube-apiserver)" >/dev/null; then
  echo "left behind: processes" >&2; pgrep -af "$cache/bin/(etcd|kube-apiserver)" >&2; leftover=1
fi
tmp="${TMPDIR:-/tmp}"
if compgen -G "$tmp/live-migration-*" >/dev/null; then
  echo "left behind: temp dirs" >&2; ls -d "$tmp"/live-migration-* >&2; leftover=1
fi
if ip netns list 2>/dev/null | grep -q '^lmhosts-'; then
  echo "left behind: test-host network namespaces" >&2; ip netns list | grep '^lmhosts-' >&2; leftover=1
fi
if pgrep -af "live-migration-hosts-|$cache/guest/vmlinux" >/dev/null; then
  echo "left behind: test-host processes" >&2; pgrep -af "live-migration-hosts-|$cache/guest/vmlinux" >&2; leftover=1
fi
exit "$leftover"
