#!/usr/bin/env bash
# Runs a command as root inside a throw-away VM whose kernel mounts cgroup v2 alone (as
# systemd hosts do), to see how agen's sandbox behaves there. The guest's root is this host's
# root filesystem (9p, read-only) under a tmpfs overlay, so it can write anywhere and the host
# sees none of it; cgroup2 is at /sys/fs/cgroup and loopback is up. It exits with the
# command's status. Software emulation (no KVM needed): a
# boot takes seconds, a command runs several times slower than here.
#
#   tests/vm/run.sh target/debug/deps/api-<hash> sandbox:: sandbox_cli::   # the sandbox tests, on cgroup v2
#
# Needs Debian's qemu-system-x86, linux-image-amd64 and busybox-static.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG]..." >&2; exit 2; }
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "no kernel in /boot: apt-get install linux-image-amd64" >&2; exit 2; }
release=${kernel#/boot/vmlinuz-}
for tool in qemu-system-x86_64 busybox cpio; do
  command -v "$tool" >/dev/null || { echo "missing $tool (qemu-system-x86, busybox-static, cpio)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/mods" "$work/root/newroot" "$work/root/proc" \
  "$work/root/sys" "$work/root/dev" "$work/root/host" "$work/root/rw"
cp "$(command -v busybox)" "$work/root/bin/busybox"
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay"
for m in $modules; do
  f=$(modinfo -k "$release" -n "$m")
  case $f in
    *.xz) xz -dc "$f" >"$work/root/mods/$m.ko" ;;
    *.zst) zstd -dcq "$f" >"$work/root/mods/$m.ko" ;;
    *) cp "$f" "$work/root/mods/$m.ko" ;;
  esac
done
cat >"$work/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $modules; do /bin/busybox insmod /mods/\$m.ko; done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host
/bin/busybox mount -t tmpfs rw /rw
/bin/busybox mkdir /rw/upper /rw/work
/bin/busybox mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work root /newroot
for d in proc sys dev; do /bin/busybox mount --move /\$d /newroot/\$d; done
exec /bin/busybox switch_root /newroot /bin/sh $work/guest.sh
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip >"$work/initramfs.gz")

quoted=$(printf '%q ' "$@")
cat >"$work/guest.sh" <<GUEST
mount -t cgroup2 cgroup2 /sys/fs/cgroup
busybox ip link set lo up
cd $(printf '%q' "$PWD")
$quoted
echo "vm-exit-status=\$?"
busybox poweroff -f
GUEST

qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initramfs.gz" -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  | tee "$work/console" | grep -v -E '^\[ *[0-9.]+\]'
status=$(grep -a -o 'vm-exit-status=[0-9]*' "$work/console" | tail -1 | cut -d= -f2)
exit "${status:-125}"
