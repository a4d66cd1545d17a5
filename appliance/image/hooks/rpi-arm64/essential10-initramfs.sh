#!/bin/sh
# mmdebstrap essential hook, rpi-arm64 (runs before the kernel is installed): the initramfs
# holds only the modules listed here instead of "most" of them. Building it under qemu-user
# emulation is what makes an arm64 root file system slow (over 25 minutes with MODULES=most,
# about 4 with this list).
set -eu
root="$1"
mkdir -p "$root/etc/initramfs-tools/conf.d"
echo MODULES=list > "$root/etc/initramfs-tools/conf.d/anylog-modules.conf"
cat > "$root/etc/initramfs-tools/modules" <<'LIST'
# Modules in the initramfs (MODULES=list): what finds and mounts the root file system.
# ext4 root
ext4
crc32c_generic
# Raspberry Pi 4 / 400 / CM4 SD card (emmc2) and Pi 3 SD card (sdhost)
sdhci_iproc
bcm2835
# USB disks (Pi 4 VL805 xHCI needs reset_raspberrypi; Pi 3 has dwc2) and NVMe on a CM4 carrier
reset_raspberrypi
xhci_pci
xhci_plat_hcd
dwc2
usb_storage
uas
sd_mod
nvme
# virtual machines (qemu -M virt): the image test boots this root there
virtio_pci
virtio_mmio
virtio_blk
virtio_scsi
LIST
