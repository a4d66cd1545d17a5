#!/usr/bin/env bash
# appliance/image/host-deps.sh [TARGET...]: the Debian packages and kernel settings that
# `make image` / `make image-test` need on the build machine. Each package is first looked up
# with apt-cache policy (after one apt-get update if some are unknown); one that the
# configured sources do not have is named and stops the build. As root, missing ones are
# installed; otherwise the command to install them is printed.
# For rpi-arm64 it also checks that the image's mirror has raspi-firmware (Debian's
# non-free-firmware component, which the build machine's own sources need not list).
set -euo pipefail
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(amd64 rpi-arm64)
say() { printf '[image deps] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
command -v apt-get >/dev/null || die "apt-get not found: the image build needs Debian (bookworm) packages"

# root file systems and images: mmdebstrap (+ arch-test for foreign architectures), genimage
# with mtools/dosfstools/e2fsprogs (no loop mounts), fdisk (sfdisk), zstd, systemd's offline
# tools (systemctl --root, systemd-sysusers --root, systemd-analyze verify --root)
packages=(mmdebstrap arch-test genimage mtools dosfstools e2fsprogs fdisk zstd systemd qemu-utils)
for t in "${targets[@]}"; do
  case $t in
    amd64) packages+=(qemu-system-x86 ovmf systemd-boot-efi) ;;
    rpi-arm64) packages+=(qemu-system-arm qemu-efi-aarch64 qemu-user-static binfmt-support) ;;
    *) die "unknown target '$t'" ;;
  esac
done

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }
unknown() { local p; for p in "${packages[@]}"; do c=$(candidate "$p"); [ -n "$c" ] && [ "$c" != "(none)" ] || echo "$p"; done; }
missing() { local p; for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done; }

todo=$(missing | xargs)
if [ -n "$todo" ]; then
  if [ -n "$(unknown)" ] && [ "$(id -u)" = 0 ]; then apt-get update -qq || say "apt-get update failed; using the package lists there are"; fi
  absent=$(unknown | xargs)
  [ -z "$absent" ] || die "not in this machine's apt sources: $absent (apt-cache policy shows no candidate); the image build cannot go on without them"
  [ "$(id -u)" = 0 ] || die "missing Debian packages: $todo (as root: apt-get install --no-install-recommends $todo)"
  say "installing: $todo"
  # old package lists can name versions the mirror no longer has: update once and try again
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $todo >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $todo >/dev/null; } ||
    die "apt-get install $todo failed"
fi

for t in "${targets[@]}"; do
  [ "$t" = rpi-arm64 ] || continue
  # arm64 programs (the Debian packages' scripts, the initramfs build) run under qemu-user
  if [ "$(uname -m)" != aarch64 ]; then
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
      [ "$(id -u)" = 0 ] || die "binfmt_misc is not mounted (as root: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc)"
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc: arm64 programs cannot run here"
    fi
    if ! arch-test arm64 >/dev/null 2>&1; then
      [ "$(id -u)" = 0 ] || die "arm64 programs cannot run (as root: update-binfmts --enable qemu-aarch64)"
      update-binfmts --enable qemu-aarch64 || true
      arch-test arm64 >/dev/null || die "arm64 programs cannot run here even with qemu-user-static's binfmt entry"
    fi
  fi
  # raspi-firmware: in non-free-firmware, looked up in that component's (small) index alone
  mirror=$("$(dirname "$0")/build.sh" --print-mirror rpi-arm64)
  lists=$(mktemp -d)
  trap 'rm -rf "$lists"' EXIT
  mkdir -p "$lists/lists/partial"
  echo "deb [arch=arm64] $mirror bookworm non-free-firmware" > "$lists/sources.list"
  apt_tmp=(-o "Dir::Etc::SourceList=$lists/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$lists/lists" -o APT::Architectures::=arm64)
  apt-get "${apt_tmp[@]}" update -qq >/dev/null 2>&1 || die "cannot read $mirror bookworm non-free-firmware"
  c=$(apt-cache "${apt_tmp[@]}" policy raspi-firmware | awk '/Candidate:/ { print $2 }')
  [ -n "$c" ] && [ "$c" != "(none)" ] || die "raspi-firmware is not in $mirror bookworm non-free-firmware: the Raspberry Pi image cannot be built"
  say "raspi-firmware $c in $mirror (non-free-firmware)"
done
say "ready: ${packages[*]}"
