#!/usr/bin/env bash
# appliance/image/build.sh TARGET: the flashable image dist/anylog-TARGET.img.zst (+ .sha256).
#   amd64      GPT: EFI system partition (systemd-boot, kernel, initramfs) + ext4 root
#   rpi-arm64  MBR: FAT RASPIFIRM (Debian's raspi-firmware) + ext4 RASPIROOT
#
# Two layers, so that a change to anylog does not rebuild Debian:
#   1. base.tar: Debian bookworm by mmdebstrap (the machine's Debian mirror, hooks in hooks/),
#      cached under build/image/TARGET, rebuilt only when its inputs change (package list,
#      mirror, hooks/, overlay/) or with IMAGE_REFRESH=1 (to take new security updates);
#   2. the anylog layer (install-anylog.sh: executable, units, node.yaml, user, enabled unit)
#      on a fresh copy of base.tar, then genimage (mtools: no loop devices, no root mounts)
#      and zstd. Skipped too when nothing it reads changed.
# Run as root (mmdebstrap's root mode, file ownership in the images). `make image` calls it.
set -euo pipefail

print_mirror=
if [ "${1:-}" = --print-mirror ]; then print_mirror=1; shift; fi
target=${1:?usage: build.sh [--print-mirror] amd64|rpi-arm64}
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/appliance/image
work=${IMAGE_BUILD:-$top/build/image}/$target
dist=$top/dist
say() { printf '[image %s] %s\n' "$target" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# packages of both images: systemd with networkd/resolved/timesyncd (DHCP on wired ports,
# time for data timestamps), the initramfs, the tools growroot uses (sfdisk, resize2fs),
# qemu-guest-agent (idle unless a VM offers its port; the image test uses it), an editor
# for node.yaml and curl for the REST port
common=systemd,systemd-sysv,systemd-resolved,systemd-timesyncd,udev,dbus,kmod,initramfs-tools,zstd,e2fsprogs,dosfstools,fdisk,iproute2,ca-certificates,curl,nano,less,qemu-guest-agent
case $target in
  amd64)     debarch=amd64; exe=x64;   components=main;                   packages=$common,linux-image-amd64,systemd-boot ;;
  rpi-arm64) debarch=arm64; exe=arm64; components="main non-free-firmware"; packages=$common,linux-image-arm64,raspi-firmware ;;
  *) die "unknown target '$target' (amd64 or rpi-arm64)" ;;
esac

# The Debian mirror the machine's apt sources name (deb822 .sources or one-line .list), so the
# image comes from the same place as the host's packages; only the Debian archive and its
# security archive are taken, never third-party repositories.
mirrors() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  { cat "${files[@]}" 2>/dev/null || true; } | awk '
    /^[[:space:]]*#/ { next }
    /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { print $i, $(i+1); break } next }
    /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) print uri, $i }
    /^$/ { uri = "" }' |
  awk '$2 == "bookworm" || $2 == "bookworm-security" { sub(/\/$/, "", $1); print $1, $2 }' | sort -u
}
found=$(mirrors)
main_uri=$(awk '$2 == "bookworm" { print $1 }' <<<"$found" | head -n1)
security_uri=$(awk '$2 == "bookworm-security" { print $1 }' <<<"$found" | head -n1)
main_uri=${IMAGE_MIRROR:-${main_uri:-http://deb.debian.org/debian}}
security_uri=${IMAGE_SECURITY_MIRROR:-${security_uri:-http://deb.debian.org/debian-security}}
if [ -n "$print_mirror" ]; then echo "$main_uri"; exit 0; fi
[ "$(id -u)" = 0 ] || die "run as root: mmdebstrap builds in root mode and the images keep file owners"
sources=("deb $main_uri bookworm $components" "deb $main_uri bookworm-updates $components" "deb $security_uri bookworm-security $components")

# hash of a list of files and directories (paths relative to $top, contents and modes)
# (missing paths count as empty)
digest() {
  local p existing=()
  for p in "$@"; do [ -e "$top/$p" ] && existing+=("$p"); done
  [ ${#existing[@]} -gt 0 ] || { echo none; return; }
  (cd "$top" && find "${existing[@]}" -type f -print0 | sort -z | xargs -0 sha256sum && find "${existing[@]}" -type f -perm -u+x | sort) | sha256sum | cut -c1-16
}

mkdir -p "$work" "$dist"

# 1. the Debian layer
base_key=$( { echo "$target $debarch $packages"; printf '%s\n' "${sources[@]}";
              digest appliance/image/hooks/common "appliance/image/hooks/$target" appliance/image/overlay; } | sha256sum | cut -c1-16)
if [ -f "$work/base.tar" ] && [ "$(cat "$work/base.key" 2>/dev/null)" = "$base_key" ] && [ -z "${IMAGE_REFRESH:-}" ]; then
  say "Debian root file system: cached ($work/base.tar, key $base_key)"
else
  if [ "$debarch" != amd64 ] && [ "$(uname -m)" = x86_64 ]; then
    arch-test "$debarch" >/dev/null || die "cannot run $debarch programs: qemu-user-static's binfmt entry is missing (make image-deps sets it up)"
  fi
  say "Debian root file system: mmdebstrap bookworm $debarch from $main_uri"
  start=$(date +%s)
  rm -f "$work/base.tar.part" "$work/base.key"
  mmdebstrap --mode=root --variant=minbase --architectures="$debarch" --include="$packages" \
    --hook-dir="$here/hooks/common" --hook-dir="$here/hooks/$target" \
    --format=tar bookworm "$work/base.tar.part" "${sources[@]}"
  mv "$work/base.tar.part" "$work/base.tar"
  echo "$base_key" > "$work/base.key"
  say "Debian root file system: $(( $(date +%s) - start )) s"
fi

# 2. the anylog layer, the partitioned image, compression
binary=$dist/anylog-linux-$exe
[ -x "$binary" ] || die "$binary is missing: make build"
image=anylog-$target.img
final_key=$( { echo "$base_key"; sha256sum "$binary";
               digest systemd appliance/operator.yaml appliance/image/install-anylog.sh appliance/image/node.yaml \
                 "appliance/image/genimage/$target.cfg" appliance/image/build.sh; } | sha256sum | cut -c1-16)
if [ -f "$dist/$image.zst" ] && [ -f "$dist/$image.zst.sha256" ] && [ "$(cat "$work/image.key" 2>/dev/null)" = "$final_key" ]; then
  say "$dist/$image.zst is up to date (key $final_key)"
  exit 0
fi
start=$(date +%s)
rm -f "$work/image.key"
rm -rf "$work/root"
mkdir "$work/root"
tar -C "$work/root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$work/base.tar"
"$here/install-anylog.sh" "$work/root" "$binary"

# the root file system: what it holds now plus 512 MiB (growroot takes the rest of the card
# at first boot), rounded up to 64 MiB
used=$(du -sm --exclude=./boot/efi --exclude=./boot/firmware "$work/root" | cut -f1)
root_size=$(( (used + 512 + 63) / 64 * 64 ))
sed "s/@ROOT_SIZE@/${root_size}M/" "$here/genimage/$target.cfg" > "$work/genimage.cfg"
rm -rf "$work/genimage-tmp" "$work/out"
mkdir -p "$work/out"
say "genimage: root file system ${root_size} MiB (${used} MiB used)"
genimage --config "$work/genimage.cfg" --rootpath "$work/root" --tmppath "$work/genimage-tmp" \
  --inputpath "$work/out" --outputpath "$work/out" > "$work/genimage.log" 2>&1 || { tail -30 "$work/genimage.log" >&2; die "genimage failed (log: $work/genimage.log)"; }
rm -rf "$work/genimage-tmp"

raw_bytes=$(stat -c %s "$work/out/$image")
say "zstd: $dist/$image.zst"
zstd -q -f -T0 "-${IMAGE_ZSTD_LEVEL:-12}" "$work/out/$image" -o "$dist/$image.zst.part"
mv "$dist/$image.zst.part" "$dist/$image.zst"
(cd "$dist" && sha256sum "$image.zst" > "$image.zst.sha256")
# the raw image and its file systems (3 GiB) are not needed again: image-test starts from dist/
rm -rf "$work/out"
echo "$final_key" > "$work/image.key"
say "done in $(( $(date +%s) - start )) s: $(( raw_bytes >> 20 )) MiB raw, $(du -m "$dist/$image.zst" | cut -f1) MiB compressed"
