#!/usr/bin/env bash
# Sets up what test/hosts needs to run two libvirt "hosts" on this machine: Debian's libvirt and
# QEMU, tcpdump (tests that look at the traffic between hosts), and a tiny guest (Debian's kernel taken out of its package, a busybox initramfs).
# Idempotent and quiet when everything is in place; needs root only when a package is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${LIVE_MIGRATION_CACHE:-$HOME/.cache/live-migration}"
guest="$cache/guest"
say() { echo "[install-test-hosts] $*" >&2; }
started=$(date +%s%N)
did=0

# --- Debian packages -------------------------------------------------------------------------------
# Monolithic libvirtd (bookworm has no modular virtqemud) with only its QEMU driver; NOT
# libvirt-daemon-system, whose service units, default network and users a test host does not want.
# qemu-utils: libvirt creates qcow2 volumes (emptyDisk) with qemu-img.
packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils busybox-static
  iproute2 util-linux procps gzip xz-utils tcpdump)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
apt_updated=0
apt_update() { ((apt_updated)) || { apt-get update -qq; apt_updated=1; }; }
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install --no-install-recommends ${missing[*]})"
    exit 1
  fi
  say "installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    2> >(grep -v '^debconf: delaying package configuration' >&2)
  did=1
fi

# --- guest kernel ------------------------------------------------------------------------------------
# The kernel Debian's linux-image-amd64 points at, downloaded (not installed: the machine's own
# kernel and /boot stay untouched) and unpacked just far enough to take vmlinuz out. The guest boots
# the uncompressed ELF inside it through PVH: under TCG, decompressing Debian's xz bzImage takes
# ~5.5 s of every boot, the ELF boots to /init in ~3 s.
mkdir -p "$guest"
# One apt-cache call (~0.5 s) names both package and version: "Depends: linux-image-X (= V)".
kernel_id() {
  apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
    sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1=\2/p' | head -n1
}
id="$(kernel_id)"
if [[ -z $id && ! -s $guest/vmlinux ]]; then apt_update; id="$(kernel_id)"; fi
if [[ -n $id ]]; then
  if [[ ! -s $guest/vmlinux || "$(cat "$guest/kernel.id" 2>/dev/null)" != "$id" ]]; then
    say "downloading guest kernel $id"
    work="$(mktemp -d "$cache/kernel-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    # apt-get download as root warns that _apt cannot write here; the download itself is fine.
    if ! (cd "$work" && apt-get download -qq "$id" 2>"$work/err"); then
      # Stale package lists name a version the mirror no longer has: refresh, ask again, retry once.
      apt_update
      id="$(kernel_id)"
      (cd "$work" && apt-get download -qq "$id" 2>"$work/err") || { cat "$work/err" >&2; exit 1; }
    fi
    dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
    # The payload starts at the first xz magic; xz complains about the bzImage trailer after it.
    offset="$(LC_ALL=C grep -aob $'\xfd7zXZ' "$work"/boot/vmlinuz-* | head -n1 | cut -d: -f1)"
    [[ -n $offset ]] || { say "no xz payload in $(basename "$work"/boot/vmlinuz-*)"; exit 1; }
    tail -c +$((offset + 1)) "$work"/boot/vmlinuz-* | xz -dc > "$guest/vmlinux.new" 2>/dev/null || true
    [[ "$(head -c 4 "$guest/vmlinux.new" | od -An -c | tr -d ' ')" == 177ELF ]] || { say "could not unpack the guest kernel"; exit 1; }
    mv "$guest/vmlinux.new" "$guest/vmlinux"
    echo "$id" > "$guest/kernel.id"
    did=1
  fi
elif [[ ! -s $guest/vmlinux ]]; then
  say "cannot find Debian's linux-image-amd64 (apt-get update did not help)"
  exit 1
fi

# --- guest initramfs ---------------------------------------------------------------------------------
# busybox-static and test/hosts/guest/init.sh, rebuilt only when one of them changed; the harness
# compares the same checksum to refuse a stale image.
init="$root/test/hosts/guest/init.sh"
sum="$(cat /bin/busybox "$init" | sha256sum | cut -d' ' -f1)"
if [[ ! -s $guest/initrd.img || "$(cat "$guest/initrd.sha256" 2>/dev/null)" != "$sum" ]]; then
  say "building guest initramfs"
  tree="$(mktemp -d "$cache/initrd-XXXXXX")"
  mkdir -p "$tree"/{bin,dev,proc,sys,mnt}
  cp /bin/busybox "$tree/bin/busybox"
  install -m 0755 "$init" "$tree/init"
  # busybox's own cpio: one package fewer; newc is the format the kernel unpacks.
  (cd "$tree" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$guest/initrd.img.new")
  rm -rf "$tree"
  mv "$guest/initrd.img.new" "$guest/initrd.img"
  echo "$sum" > "$guest/initrd.sha256"
  did=1
fi
((did == 0)) || say "ready in $((($(date +%s%N) - started) / 1000000)) ms: $guest"
