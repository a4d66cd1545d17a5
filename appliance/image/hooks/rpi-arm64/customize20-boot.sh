#!/bin/sh
# mmdebstrap customize hook, rpi-arm64: the Raspberry Pi boot partition. raspi-firmware's
# kernel hook fills /boot/firmware (GPU firmware, device trees, kernel, initramfs, config.txt,
# cmdline.txt); here it is told to find the root by label, and genimage makes the FAT
# partition RASPIFIRM from that directory.
set -eu
root="$1"
cat > "$root/etc/fstab" <<'FSTAB'
# <file system>     <mount point>    <type>  <options>          <dump>  <pass>
LABEL=RASPIROOT     /                ext4    errors=remount-ro  0       1
LABEL=RASPIFIRM     /boot/firmware   vfat    rw,nofail          0       2
FSTAB
sed -i -e 's|^#\?ROOTPART=.*|ROOTPART="LABEL=RASPIROOT"|' \
       -e 's|^#\?CONSOLES=.*|CONSOLES="ttyS1,115200 tty0"|' "$root/etc/default/raspi-firmware"
grep -q '^ROOTPART="LABEL=RASPIROOT"' "$root/etc/default/raspi-firmware" || { echo "customize20-boot: could not set ROOTPART" >&2; exit 1; }
# the hook does its work only as a package's "configure" step
for vmlinuz in "$root"/boot/vmlinuz-*; do
  version=${vmlinuz##*/vmlinuz-}
  chroot "$root" env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware "$version" "/boot/vmlinuz-$version"
done
grep -q 'root=LABEL=RASPIROOT' "$root/boot/firmware/cmdline.txt" || { echo "customize20-boot: cmdline.txt does not say root=LABEL=RASPIROOT: $(cat "$root/boot/firmware/cmdline.txt")" >&2; exit 1; }
