#!/usr/bin/env bash
# appliance/image/install-anylog.sh ROOT EXECUTABLE: the anylog layer of an appliance image,
# on a Debian root tree (any architecture: nothing here runs inside the tree).
#   /usr/bin/anylog                                 the executable for the image's architecture
#   /lib/systemd/system/anylog-<role>.service       the four units from systemd/
#   /usr/lib/sysusers.d/anylog.conf + the user      from systemd/sysusers.d/anylog.conf
#   /etc/anylog/node.yaml                           appliance/operator.yaml, else the minimal
#                                                   appliance/image/node.yaml; REST on all addresses
#   /var/lib/anylog                                 the data directory, owned by anylog
#   anylog-operator.service enabled, and every unit checked by systemd-analyze verify --root
set -euo pipefail
root=${1:?usage: install-anylog.sh ROOT EXECUTABLE}
binary=${2:?usage: install-anylog.sh ROOT EXECUTABLE}
top=$(cd "$(dirname "$0")/../.." && pwd)
say() { printf '[anylog layer] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# the host's own executable reads the role file (the image's may be another architecture)
native=${ANYLOG_NATIVE:-$top/dist/anylog-linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')}
[ -x "$native" ] || die "$native is missing: make build"

units=()
for role in master operator publisher query; do
  f=$top/systemd/anylog-$role.service
  [ -f "$f" ] || die "$f is missing: the units come from systemd/ (generated from systemd/anylog.service.in)"
  units+=("$f")
done
sysusers=$top/systemd/sysusers.d/anylog.conf
[ -f "$sysusers" ] || die "$sysusers is missing: the anylog user comes from systemd/sysusers.d/anylog.conf"

install -D -m 0755 "$binary" "$root/usr/bin/anylog"
install -D -m 0644 -t "$root/usr/lib/systemd/system" "${units[@]}"
install -D -m 0644 "$sysusers" "$root/usr/lib/sysusers.d/anylog.conf"
systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/anylog.conf"
uid=$(awk -F: '$1 == "anylog" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "anylog" { print $3 }' "$root/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || die "systemd-sysusers made no anylog user in $root"

# the role file: the operator sample when there is one; REST must listen on every address
# (a port forward or a LAN peer reaches the node's external address, not 127.0.0.1)
src=$top/appliance/operator.yaml
[ -f "$src" ] || src=$top/appliance/image/node.yaml
yaml=$(mktemp)
trap 'rm -f "$yaml"' EXIT
cp "$src" "$yaml"
rest_line() { "$native" plan --config "$yaml" | grep '^run rest server'; }
"$native" check --config "$yaml" >&2 || die "$src does not pass anylog check"
if ! rest_line | grep -q 'bind = false'; then
  say "$src binds REST to one address: the image's copy says rest_bind: false"
  if grep -qE '^[[:space:]]+rest_bind:' "$yaml"; then sed -i -E 's/^([[:space:]]+rest_bind:).*/\1 false/' "$yaml"
  elif grep -qE '^network:' "$yaml"; then sed -i -E 's/^network:.*/&\n  rest_bind: false/' "$yaml"
  else printf '\nnetwork:\n  rest_bind: false\n' >> "$yaml"; fi
  rest_line | grep -q 'bind = false' || die "could not make $src bind REST on every address"
fi
install -D -m 0640 -o 0 -g "$gid" "$yaml" "$root/etc/anylog/node.yaml"
plan=$("$native" plan --config "$yaml")
say "node.yaml from ${src#$top/}: role $(sed -n 's/^# generated from .* for role //p' <<<"$plan"), REST port $(sed -n 's/^anylog_rest_port = //p' <<<"$plan") on every address"

install -d -m 0750 -o "$uid" -g "$gid" "$root/var/lib/anylog"
systemctl --root="$root" --quiet enable anylog-operator.service
systemd-analyze verify --root="$root" --man=no \
  anylog-master.service anylog-operator.service anylog-publisher.service anylog-query.service >&2 \
  || die "systemd-analyze verify --root rejects the units"
say "installed $(basename "$binary") as /usr/bin/anylog, 4 units, anylog-operator enabled"
