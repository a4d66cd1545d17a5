#!/bin/sh
# mmdebstrap customize hook, both targets ($1 = the root file system being built):
# the appliance's OS settings that do not depend on anylog itself.
set -eu
root="$1"
here=$(dirname "$(readlink -f "$0")")
# hostname, hosts, DHCP on wired ports, the first-boot growroot unit
cp -a "$here/../../overlay/." "$root/"
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service anylog-growroot.service
# console login as root without a password until one is set (the README says: set one);
# there is no SSH server, so this is the local console only
chroot "$root" passwd --delete root
# every device makes its own identity at first boot
: > "$root/etc/machine-id"
rm -f "$root/var/lib/systemd/random-seed" "$root/var/lib/dbus/machine-id"
