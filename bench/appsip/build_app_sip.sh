#!/bin/sh
# SPDX-License-Identifier: MIT
# build_app_sip.sh DEST - builds freeDiameter's app_sip.fdx (RFC 4740 server; Debian ships
# freeDiameterd and the dictionaries but not this extension) from the Debian source package of the
# installed freediameter, against the installed libfdcore, and copies app_sip.fdx and its schema
# (doc/app_sip.sql) into DEST. apt's system lists are not touched (private lists dir under DEST).
# About 30 s on 2 cores. Needs root for apt-get install (skipped when the packages are there).
set -eu
DEST=$1
PKGS="dpkg-dev cmake flex bison libgnutls28-dev libgcrypt20-dev libidn2-dev libsctp-dev
      libmariadb-dev libmariadb-dev-compat libfreediameter-dev"
# shellcheck disable=SC2086
if ! dpkg-query -W $PKGS >/dev/null 2>&1; then
	apt-get install -y $PKGS
fi
mkdir -p "$DEST/src/lists/partial"
cd "$DEST/src"
echo 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' >sources.list
O="-o Dir::Etc::SourceList=$DEST/src/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$DEST/src/lists"
if ! ls -d freediameter-*/ >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	apt-get $O update
	# shellcheck disable=SC2086
	apt-get $O source freediameter
fi
cd "$(ls -d freediameter-*/ | head -1)"
mkdir -p build
cd build
cmake .. -DCMAKE_BUILD_TYPE=Release -DDISABLE_SCTP=ON -DBUILD_TESTING=OFF -DALL_EXTENSIONS=OFF \
	-DBUILD_APP_SIP=ON -DBUILD_DICT_SIP=OFF >/dev/null
make -j2 app_sip
cp extensions/app_sip.fdx "$DEST/app_sip.fdx"
cp ../doc/app_sip.sql "$DEST/app_sip.sql"
