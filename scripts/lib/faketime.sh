# Sourced by scripts/test and .ci/run: make sure the time-shifted test passes can move the clock.
#  - faketime: Debian's faketime package (/usr/bin/faketime, with libfaketime). Installed with
#    apt-get when missing, which needs root; as anyone else this prints what to run and
#    carries on.
#  - It is checked by running `date` 400 days ahead: some machines cannot preload libraries.
# Quiet when faketime is already there and works. Exports ENGAGE_FAKETIME for scripts/test
# --shifted. Never fails the test run: without faketime only the shifted passes cannot run,
# and they say so; with the CI environment variable set, it says so in capitals, because a
# CI run that quietly skips them would prove nothing about dates.
#
# Safe to source from an interactive shell too (`source scripts/lib/faketime.sh`): it changes no
# shell options and leaves no variables behind but ENGAGE_FAKETIME.

if ! (return 0 2>/dev/null); then
  echo "scripts/lib/faketime.sh is meant to be sourced: source scripts/lib/faketime.sh" >&2
  exit 2
fi

_engage_faketime_missing() {
  if [ -n "${CI:-}" ]; then
    echo "CI: THE TIME-SHIFTED TEST PASSES CANNOT RUN: $1" >&2
  else
    echo "The time-shifted test passes cannot run: $1" >&2
  fi
}

_engage_faketime_setup() {
  local faketime log now ahead
  faketime="/usr/bin/faketime"
  unset ENGAGE_FAKETIME

  if [ ! -x "$faketime" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      _engage_faketime_missing "Debian's faketime ($faketime) is not installed."
      echo "Install it as root:  apt-get update && apt-get install -y faketime" >&2
      return 0
    fi
    echo "Installing faketime (Debian's faketime package) ..."
    log="$(mktemp)"
    if ! {
      DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime
    } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "Installing faketime with apt-get failed; see the messages above." >&2
    fi
    rm -f "$log"
    if [ ! -x "$faketime" ]; then
      _engage_faketime_missing "$faketime is still missing."
      return 0
    fi
  fi

  now="$(date -u +%s)"
  ahead="$("$faketime" -m -f '+400d' date -u +%s 2>/dev/null || true)"
  if ! [[ "$ahead" =~ ^[0-9]+$ ]] || [ $((ahead - now - 400 * 86400)) -lt -60 ] ||
    [ $((ahead - now - 400 * 86400)) -gt 60 ]; then
    _engage_faketime_missing "$faketime is installed but does not move the clock here."
    echo "Check it with:  faketime -m -f +400d date" >&2
    return 0
  fi
  export ENGAGE_FAKETIME="$faketime"
}

_engage_faketime_setup
unset -f _engage_faketime_setup _engage_faketime_missing
