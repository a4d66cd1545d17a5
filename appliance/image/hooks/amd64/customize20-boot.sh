#!/bin/sh
# mmdebstrap customize hook, amd64: systemd-boot and the kernel in the EFI system partition
# (Boot Loader Specification layout, as kernel-install leaves it), so that a later apt upgrade
# of linux-image-amd64 updates the ESP mounted at /boot/efi on its own.
set -eu
root="$1"
cat > "$root/etc/fstab" <<'FSTAB'
# <file system>     <mount point>  <type>  <options>          <dump>  <pass>
LABEL=anylog-root   /              ext4    errors=remount-ro  0       1
LABEL=ANYLOG-EFI    /boot/efi      vfat    umask=0077,nofail  0       2
FSTAB
echo "root=LABEL=anylog-root rw console=ttyS0,115200 console=tty0" > "$root/etc/kernel/cmdline"
echo anylog > "$root/etc/kernel/entry-token"
# bootctl and kernel-install want the ESP to be a mount point of its own: a tmpfs stands in,
# and what they write is kept in /boot/efi of the tree (genimage makes the ESP from it)
esp="$root/boot/efi"
keep=$(mktemp -d)
mkdir -p "$esp"
mount -t tmpfs -o size=256m tmpfs "$esp"
trap 'umount "$esp" 2>/dev/null || true; rm -rf "$keep"' EXIT
chroot "$root" env SYSTEMD_RELAX_ESP_CHECKS=1 bootctl install --esp-path=/boot/efi --no-variables --entry-token=literal:anylog
for vmlinuz in "$root"/boot/vmlinuz-*; do
  version=${vmlinuz##*/vmlinuz-}
  chroot "$root" env SYSTEMD_RELAX_ESP_CHECKS=1 BOOT_ROOT=/boot/efi kernel-install add "$version" "/boot/vmlinuz-$version" "/boot/initrd.img-$version"
done
# no menu: boot the newest entry at once; no shared random seed in an image
printf 'timeout 0\neditor no\n' > "$esp/loader/loader.conf"
rm -f "$esp/loader/random-seed"
cp -a "$esp/." "$keep/"
umount "$esp"
cp -a "$keep/." "$esp/"
