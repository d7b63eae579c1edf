#!/bin/sh
# install-deps.sh — installs the Debian packages shipshape needs to build,
# test, fuzz (clang and its sanitizer runtimes), run the demo and the
# benchmarks. Does nothing (quickly) when they are all present. Needs root
# (or sudo) only when something is missing.
set -eu

PACKAGES="
build-essential pkg-config
libyaml-dev libcurl4-openssl-dev libpq-dev libcjson-dev libcmocka-dev
bats bats-assert bats-support jq curl openssl ca-certificates
postgresql postgresql-client nginx python3 python3-aiosmtpd prometheus-alertmanager prometheus
hyperfine wrk valgrind gettext-base yq time procps iproute2 bc
monitoring-plugins-basic monitoring-plugins-standard prometheus-blackbox-exporter mandoc
nagios4-core
clang-14 libclang-rt-14-dev
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: missing packages:$missing (run this script as root)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Packages such as nginx and postgresql start system services when installed
# on a machine with an init system; the suite starts its own instances on
# loopback and never uses those.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
