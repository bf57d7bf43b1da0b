#!/bin/sh
# usage: cleanup.sh RUN_DIR NETNS...
# Ends every process inside the run's network namespaces (libvirtd and the QEMU processes it left
# daemonized: libvirt deliberately lets guests outlive a stopped daemon), deletes the namespaces and
# the run's directory. Used by a normal stop and by the reaper when the test process died first, so
# both paths leave exactly the same nothing behind. Safe to run twice.
dir=$1
shift
pids_in() { ip netns pids "$1" 2>/dev/null; }
all_pids() { for ns in "$@"; do pids_in "$ns"; done; }
# SIGTERM first (QEMU and libvirtd exit cleanly on it within milliseconds), SIGKILL for stragglers.
# Repeat until empty: a daemon that is still starting may spawn one more QEMU after the first sweep.
for round in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  pids=$(all_pids "$@")
  [ -z "$pids" ] && break
  if [ "$round" -le 10 ]; then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
  sleep 0.2
done
left=$(all_pids "$@")
for ns in "$@"; do
  [ -e "/run/netns/$ns" ] && ip netns del "$ns"
done
# The mounts under $dir lived in the daemons' private mount namespaces, which ended with them.
case $dir in
  */live-migration-hosts-*) rm -rf "$dir" ;;
esac
[ -z "$left" ] || { echo "cleanup.sh: processes survived: $left" >&2; exit 1; }
