#!/usr/bin/env bash
# The Debian packages the test suite needs beyond Python: make, PostgreSQL's server binaries
# and Chromium. `make test` and `.ci/run` call this first. As root with apt it installs what is
# missing; otherwise it names what is missing and exits 1 before any test runs.
# Arguments, if any, narrow it to those packages (`.ci/run` installs make first, alone).
set -euo pipefail

if [ $# -gt 0 ]; then wanted=("$@"); else wanted=(make postgresql chromium); fi
missing=()
for package in "${wanted[@]}"; do
    case $package in
    make) command -v make >/dev/null || missing+=(make) ;;
    # The deployment tests start their own PostgreSQL from these binaries
    # (jd_helix_tests/deploy/postgres.py).
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
    # jd_helix_tests/e2e/test_asset_page_in_chromium.py drives Debian's chromium through
    # Playwright (which downloads no browser of its own: never `playwright install`).
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    *) echo "Unknown package: $package (make, postgresql or chromium)" >&2 && exit 2 ;;
    esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "The tests need these Debian packages: ${missing[*]}." >&2
    echo "Install them as root (apt-get install --no-install-recommends ${missing[*]}), then run the tests again." >&2
    exit 1
fi

if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # No default cluster: nothing should listen but the tests' own server.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/jd_helix.conf
fi
echo "Installing the tests' Debian packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
