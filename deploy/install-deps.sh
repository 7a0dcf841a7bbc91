#!/bin/sh
# SPDX-License-Identifier: MIT
# install-deps.sh - installs the Debian 12 packages mara builds and tests with, only those missing.
# Usage: deploy/install-deps.sh [build|test]   (test adds the peers the test suite runs against)
# Runs apt-get only when something is missing; uses sudo when not root.
set -eu

BUILD_PKGS="build-essential pkg-config meson ninja-build liburing-dev libssl-dev libjemalloc-dev
libxxhash-dev libbenchmark-dev libconfig-dev libcmocka-dev libck-dev libmicrohttpd-dev
libsystemd-dev libosip2-dev libfreediameter-dev"
TEST_PKGS="tshark freediameter freediameter-extensions apache2-utils openssl iproute2 procps
clang-format clang libclang-rt-14-dev git sip-tester prometheus python3 debhelper dpkg-dev fakeroot systemd kamailio gnuplot-nox"

want="$BUILD_PKGS"
[ "${1:-build}" = "test" ] && want="$want $TEST_PKGS"

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -q >/dev/null || $SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
