#!/bin/sh
# install-deps.sh — the Debian packages shipshape needs, by purpose:
#   build    compile the tools (what debian/control's Build-Depends names)
#   test     run `make check` (bats suites, unit tests, the services they start)
#   demo     run `make demo`
#   bench    run `make bench` (the peer tools compared against)
#   fuzz     run `make fuzz` (clang and its sanitizer runtimes)
#   package  build and check the Debian package (dpkg-buildpackage, lintian)
#
#   scripts/install-deps.sh [GROUP...]          installs what is missing
#   scripts/install-deps.sh --check [GROUP...]  installs nothing: exit 0 when
#                                               all are present, else 1 and one
#                                               line naming what is missing
#   scripts/install-deps.sh --list [GROUP...]   prints the groups' packages
# No GROUP means all of them (`make deps`). Installing does nothing (quickly)
# when everything is present, and needs root (or sudo) only when something is
# missing. --check never needs root, never calls apt and never uses the
# network.
set -eu

pkgs_build="build-essential pkg-config libyaml-dev libcurl4-openssl-dev libpq-dev libcjson-dev"
pkgs_test="libcmocka-dev bats bats-assert bats-support jq curl openssl ca-certificates
postgresql postgresql-client nginx python3 python3-aiosmtpd prometheus-alertmanager prometheus prometheus-node-exporter
procps iproute2 mandoc man-db nagios4-core chromium libxml2-utils redis-server"
pkgs_demo="postgresql postgresql-client nginx jq curl openssl procps iproute2 prometheus prometheus-node-exporter redis-server"
pkgs_bench="hyperfine wrk valgrind gettext-base yq time bc jq curl nginx postgresql postgresql-client
monitoring-plugins-basic monitoring-plugins-standard prometheus-blackbox-exporter"
pkgs_fuzz="clang-14 libclang-rt-14-dev"
pkgs_package="dpkg-dev debhelper lintian man-db"

mode=install
case ${1:-} in
--check | --list)
	mode=${1#--}
	shift
	;;
esac
[ $# -gt 0 ] || set -- build test demo bench fuzz package
groups="$*"

packages=""
for g in "$@"; do
	case $g in
	build) packages="$packages $pkgs_build" ;;
	test) packages="$packages $pkgs_test" ;;
	demo) packages="$packages $pkgs_demo" ;;
	bench) packages="$packages $pkgs_bench" ;;
	fuzz) packages="$packages $pkgs_fuzz" ;;
	package) packages="$packages $pkgs_package" ;;
	*)
		echo "install-deps: unknown group '$g' (build, test, demo, bench, fuzz, package)" >&2
		exit 64
		;;
	esac
done

if [ "$mode" = list ]; then
	printf '%s\n' $packages | sort -u
	exit 0
fi

missing=""
for p in $packages; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$mode" = check ]; then
	echo "missing Debian packages ($groups):$missing; install them with: make deps (as root or with sudo)" >&2
	exit 1
fi

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
