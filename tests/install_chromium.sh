#!/bin/sh
# Debian's chromium and chromium-driver for the browser tests (tests/test_web_browser.py): /usr/bin/chromium,
# /usr/bin/chromedriver. Usage: tests/install_chromium.sh VERSION (make browser passes CHROMIUM_VERSION).
# Installs VERSION of both; when the archive no longer has it (security updates replace Chromium often), its
# current release, with a warning. A matching pair already installed is kept. apt-get install needs root.
set -eu
want="$1"
installed() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
browser=$(installed chromium)
driver=$(installed chromium-driver)
if [ -n "$browser" ] && [ "$browser" = "$driver" ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    [ "$browser" = "$want" ] || echo "make browser: keeping the installed chromium $browser (pinned: $want)" >&2
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "make browser: installing Debian's chromium and chromium-driver needs root: sudo make browser" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "$@" fonts-dejavu-core >/dev/null; }
echo "make browser: apt-get install chromium=$want chromium-driver=$want" >&2
apt-get update -qq
if ! install "chromium=$want" "chromium-driver=$want"; then
    echo "make browser: warning: chromium $want is not in the archive any more; installing its current release" >&2
    install chromium chromium-driver
fi
/usr/bin/chromedriver --version
