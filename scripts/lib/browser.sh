# Sourced by scripts/test (after lib/venv.sh): make sure the browser tests have what they need.
#  - Chromium: Debian's package, /usr/bin/chromium. Installed with apt-get when missing, which
#    needs root; as anyone else this prints what to run and returns non-zero.
#  - axe-core: from the npm registry, pinned in package.json / package-lock.json, installed into
#    node_modules/ with `npm ci` when node_modules/axe-core/axe.min.js is missing or the lock
#    file has changed since the last install.
# Quiet when everything is already there. Exports ENGAGE_CHROMIUM for tests/browser.py.
# Never run `playwright install`: it downloads a browser of its own, which fails here.
#
# Safe to source from an interactive shell too (`source scripts/lib/browser.sh`): it changes no
# shell options and leaves no variables behind but ENGAGE_CHROMIUM.

if ! (return 0 2>/dev/null); then
  echo "scripts/lib/browser.sh is meant to be sourced: source scripts/lib/browser.sh" >&2
  exit 2
fi

_engage_browser_setup() {
  local root chromium log lock wanted stamp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  chromium="/usr/bin/chromium"

  if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "The browser tests need Debian's Chromium ($chromium), which is not installed." >&2
      echo "Install it as root:  apt-get update && apt-get install -y chromium" >&2
      return 1
    fi
    echo "Installing Chromium (Debian's chromium package) ..."
    log="$(mktemp)"
    if ! {
      DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      rm -f "$log"
      echo "Installing Chromium with apt-get failed; see the messages above." >&2
      return 1
    fi
    rm -f "$log"
    if [ ! -x "$chromium" ]; then
      echo "apt-get installed the chromium package, but $chromium is still missing." >&2
      return 1
    fi
  fi
  export ENGAGE_CHROMIUM="$chromium"

  # Reinstall when axe-core is missing or package-lock.json (or package.json, if there is no
  # lock) differs from the one node_modules was installed from.
  lock="$root/package-lock.json"
  [ -f "$lock" ] || lock="$root/package.json"
  wanted="$(sha256sum "$lock" | cut -d' ' -f1)"
  stamp="$root/node_modules/.engage-installed"
  if [ ! -f "$root/node_modules/axe-core/axe.min.js" ] || [ ! -f "$stamp" ] ||
    [ "$(cat "$stamp")" != "$wanted" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "The browser tests need axe-core from the npm registry, but npm is not installed." >&2
      echo "Install Node.js and npm, then run: npm ci" >&2
      return 1
    fi
    local -a install=(npm install)
    [ -f "$root/package-lock.json" ] && install=(npm ci)
    echo "Installing axe-core into node_modules (${install[*]}) ..."
    if ! (cd "$root" && "${install[@]}" --no-audit --no-fund --no-progress --loglevel=error >/dev/null); then
      echo "${install[*]} failed; see the messages above." >&2
      return 1
    fi
    if [ ! -f "$root/node_modules/axe-core/axe.min.js" ]; then
      echo "${install[*]} ran, but node_modules/axe-core/axe.min.js is still missing." >&2
      return 1
    fi
    echo "$wanted" >"$stamp"
  fi
}

_engage_browser_setup
_engage_browser_rc=$?
unset -f _engage_browser_setup
eval "unset _engage_browser_rc; return $_engage_browser_rc"
