#!/bin/sh
# Installs the Debian packages rattan needs, only those missing.
# Does nothing (and needs no root) when everything is present.
set -eu
PKGS="make gcc liblmdb-dev lmdb-utils libmsgpack-dev libcbor-dev libjansson-dev libmicrohttpd-dev curl pkg-config clang libclang-rt-14-dev clang-format python3"

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: not a Debian system; install by hand: $PKGS" >&2
  exit 0
fi
missing=""
for p in $PKGS; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
