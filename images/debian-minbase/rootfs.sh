#!/bin/sh
# Writes a tar of a Debian bookworm minbase root filesystem to stdout (mmdebstrap).
# merged-usr keeps apt from pulling usrmerge (and perl); the dpkg and apt options persist in
# the image, so images built on top also get no docs and no recommends.
set -eu
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mode=root
[ "$(id -u)" = 0 ] || mode=unshare
hooks=/usr/share/mmdebstrap/hooks
set -- --hook-dir="$hooks/merged-usr"
[ -d "$hooks/eatmydata" ] && set -- "$@" --hook-dir="$hooks/eatmydata"
# shellcheck disable=SC2016 # the hooks expand $1 themselves
exec mmdebstrap --quiet --variant=minbase --mode="$mode" --format=tar "$@" \
  --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='force-unsafe-io' \
  --aptopt='APT::Install-Recommends "false"' --aptopt='APT::Install-Suggests "false"' \
  --customize-hook='echo "deb http://deb.debian.org/debian bookworm main" > "$1/etc/apt/sources.list"' \
  --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"; rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  bookworm - "$mirror"
