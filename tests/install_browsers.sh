#!/bin/sh
# Debian's browsers for the browser tests (tests/test_web_browser.py): chromium and chromium-driver
# (/usr/bin/chromium, /usr/bin/chromedriver) and firefox-esr (/usr/bin/firefox-esr, driven over its own
# Marionette protocol). Usage: tests/install_browsers.sh CHROMIUM_VERSION FIREFOX_VERSION (make browser).
# Installs those versions; when the archive no longer has one (security updates replace browsers often),
# its current release, with a warning. Packages already installed at one same version are kept.
# apt-get install needs root.
set -eu
installed() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
updated=""

ensure() {  # VERSION PACKAGE...
    want=$1
    shift
    versions=$(for package in "$@"; do installed "$package"; echo; done | sort -u)
    if [ -n "$versions" ] && [ "$(echo "$versions" | wc -l)" -eq 1 ]; then
        [ "$versions" = "$want" ] || echo "make browser: keeping the installed $* $versions (pinned: $want)" >&2
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "make browser: installing Debian's $* needs root: sudo make browser" >&2
        exit 1
    fi
    specs=$(for package in "$@"; do printf '%s=%s ' "$package" "$want"; done)
    echo "make browser: apt-get install $specs" >&2
    [ -n "$updated" ] || { apt-get update -qq; updated=yes; }
    # shellcheck disable=SC2086
    if ! apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 $specs fonts-dejavu-core >/dev/null; then
        echo "make browser: warning: $want is not in the archive any more; installing the current $*" >&2
        apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "$@" fonts-dejavu-core >/dev/null
    fi
}

export DEBIAN_FRONTEND=noninteractive
ensure "$1" chromium chromium-driver
ensure "$2" firefox-esr
