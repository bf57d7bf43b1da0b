#!/bin/sh
# Becomes one test "host": run as
#   ip netns exec NETNS unshare --mount --uts --propagation private enter-host.sh HOST_DIR HOSTNAME
# and ends by exec'ing libvirtd, so the PID that started this is the daemon's PID.
# Every mount below lives only in this private mount namespace and disappears with its last process;
# nothing here writes to the machine's real /etc, /var, /run or /dev.
set -eu
dir=$1
name=$2

# A private overlay over /etc first (the binds below land on top of it): its upper dir brings
# /etc/pki, whose files link to the host's tls/ dir. libvirtd's TLS listener must read libvirt's
# default paths there: `virt-admin server-update-tls` (a rotation) re-reads only those, whatever
# libvirtd.conf's ca_file / cert_file / key_file say (libvirt 9.0).
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$dir/etc-upper,workdir=$dir/etc-work" /etc
# libvirt reads /etc/libvirt/qemu.conf from a fixed path: give this host its own /etc/libvirt.
mount --bind "$dir/etc" /etc/libvirt
# Debian's libvirtd resolves its built-in default user "libvirt-qemu" before it reads qemu.conf; that
# user comes with libvirt-daemon-system, which we do not install. Add it to a private copy instead.
mount --bind "$dir/passwd" /etc/passwd
mount --bind "$dir/group" /etc/group
# Every host name of the run resolves from a file: in a network namespace a DNS lookup just times out,
# and libvirt looks its own host name up on each domain start (~20 s each without this).
mount --bind "$dir/hosts" /etc/hosts
# Own /run (the daemon's socket and pid file end up under $dir/run) and own /var via an overlay, so
# /var/lib/libvirt, /var/cache/libvirt and friends exist without creating them on the real disk.
mount --bind "$dir/run" /run
mount -t overlay overlay -o "lowerdir=/var,upperdir=$dir/var-upper,workdir=$dir/var-work" /var

if [ -e /dev/kvm ] && [ "${LIVE_MIGRATION_KEEP_KVM:-0}" != 1 ]; then
  # Runs must be alike on machines with and without KVM: replace /dev by a tmpfs holding only what
  # libvirt and QEMU use. A file bind-mounted over /dev/kvm alone is not enough: libvirt then believes
  # KVM changed and probes QEMU's capabilities again (~20 s) on every domain start.
  dev="$dir/dev"
  mount -t tmpfs -o mode=755 live-migration-dev "$dev"
  for node in null zero full random urandom tty; do
    : > "$dev/$node"
    mount --bind "/dev/$node" "$dev/$node"
  done
  mkdir "$dev/pts" "$dev/shm"
  mount --bind /dev/pts "$dev/pts"
  ln -s pts/ptmx "$dev/ptmx"
  [ -d /dev/shm ] && mount --bind /dev/shm "$dev/shm"
  ln -s /proc/self/fd "$dev/fd"
  ln -s /proc/self/fd/0 "$dev/stdin"
  ln -s /proc/self/fd/1 "$dev/stdout"
  ln -s /proc/self/fd/2 "$dev/stderr"
  mount --move "$dev" /dev
fi

mkdir -p /var/log/libvirt /var/lib/libvirt /var/cache/libvirt /run/libvirt
# Logs, including the guests' serial consoles, on a plain bind mount: readable from the root namespace
# while the daemon runs (the overlay's upper dir must not be touched from outside while mounted).
mount --bind "$dir/log" /var/log/libvirt
mkdir -p /var/log/libvirt/qemu
hostname "$name"
exec /usr/sbin/libvirtd --listen -f "$dir/etc/libvirtd.conf" -p /run/libvirt/libvirtd.pid
