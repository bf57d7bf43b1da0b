#!/bin/busybox sh
# /init of the test guest (busybox initramfs, Debian kernel, no disk). Kernel command-line knobs:
#   lm.fill_mib=N  fill an N MiB tmpfs file with non-zero data (zero pages cost almost nothing to
#                  migrate, so an empty guest would not exercise bandwidth caps or progress)
#   lm.dirty=1     then keep rewriting that buffer in place, so migration must chase dirty pages
#   lm.pattern=W   fill with the word W repeated instead of random data (a known pattern, for tests
#                  that look for guest memory in the traffic between hosts)
#   lm.poweroff_after=N  power the guest off (ACPI, so not with acpi=off) after heartbeat N: a guest
#                  that stops on its own. The guest never acts on an ACPI shutdown request (no acpid).
# It prints "lm-heartbeat <seq> uptime=<s>" every second on ttyS0 whatever else it does: the sequence
# keeps counting across a live migration, and a reboot would restart it at 1.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=95% tmpfs /mnt
fill=0
dirty=0
pattern=
poweroff_after=0
for arg in $(cat /proc/cmdline); do
  case $arg in
    lm.fill_mib=*) fill=${arg#lm.fill_mib=} ;;
    lm.dirty=*) dirty=${arg#lm.dirty=} ;;
    lm.pattern=*) pattern=${arg#lm.pattern=} ;;
    lm.poweroff_after=*) poweroff_after=${arg#lm.poweroff_after=} ;;
  esac
done
seconds_up() { cut -d' ' -f1 /proc/uptime; }
echo "lm-booted fill_mib=$fill dirty=$dirty mem_available_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo) uptime=$(seconds_up)"
if [ "$fill" -gt 0 ]; then
  # 64 KiB of random data repeated: non-zero pages are all a migration cares about (QEMU skips only
  # zero pages), and under TCG reading megabytes of urandom is slow. The buffer doubles in place
  # (one dd per doubling, no second copy), so a fill needs no more RAM than itself.
  if [ -n "$pattern" ]; then
    # The word doubled until it covers 64 KiB, then cut there.
    printf '%s' "$pattern" > /mnt/w
    while [ "$(wc -c < /mnt/w)" -lt 65536 ]; do cat /mnt/w /mnt/w > /mnt/w2; mv /mnt/w2 /mnt/w; done
    head -c 65536 /mnt/w > /mnt/k64
    rm /mnt/w
  else
    dd if=/dev/urandom of=/mnt/k64 bs=64k count=1 2>/dev/null
  fi
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat /mnt/k64; done > /mnt/buf
  rm /mnt/k64
  have=1
  while [ $((have * 2)) -le "$fill" ]; do
    dd if=/mnt/buf of=/mnt/buf bs=1M count=$have seek=$have conv=notrunc 2>/dev/null
    have=$((have * 2))
  done
  [ "$have" -lt "$fill" ] && dd if=/mnt/buf of=/mnt/buf bs=1M count=$((fill - have)) seek=$have conv=notrunc 2>/dev/null
  echo "lm-filled mib=$(du -m /mnt/buf | cut -f1) uptime=$(seconds_up)"
fi
if [ "$dirty" = 1 ] && [ "$fill" -gt 0 ]; then
  # In the background, so the heartbeat below keeps its one-second beat while memory churns.
  (while true; do dd if=/mnt/buf of=/mnt/buf bs=1M conv=notrunc 2>/dev/null; done) &
  echo "lm-dirtying mib=$fill"
fi
seq=0
while true; do
  seq=$((seq + 1))
  echo "lm-heartbeat $seq uptime=$(seconds_up)"
  if [ "$seq" = "$poweroff_after" ]; then echo "lm-poweroff"; poweroff -f; fi
  sleep 1
done
