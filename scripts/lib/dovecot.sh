# Sourced by scripts/test (after lib/browser.sh): make sure the IMAP tests have a real server.
#  - Dovecot: Debian's dovecot-imapd package, /usr/sbin/dovecot. Installed with apt-get when
#    missing, which needs root; as anyone else this prints what to run and carries on.
#  - The package's own service is never started: while apt-get runs, a policy-rc.d that
#    answers 101 ("not allowed") stops it, unless the machine already has a policy-rc.d.
#    The tests start a private Dovecot of their own on a free loopback port
#    (tests/imap_server.py).
# Quiet when Dovecot is already there. Exports ENGAGE_DOVECOT for tests/imap_server.py.
# Never fails the test run: without Dovecot the IMAP tests run against an in-process fake
# server and say so, and the tests that need the real one are skipped with the reason.
#
# Safe to source from an interactive shell too (`source scripts/lib/dovecot.sh`): it changes no
# shell options and leaves no variables behind but ENGAGE_DOVECOT.

if ! (return 0 2>/dev/null); then
  echo "scripts/lib/dovecot.sh is meant to be sourced: source scripts/lib/dovecot.sh" >&2
  exit 2
fi

_engage_dovecot_setup() {
  local dovecot log policy made_policy
  dovecot="/usr/sbin/dovecot"
  policy="/usr/sbin/policy-rc.d"

  if [ ! -x "$dovecot" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "The IMAP tests use Debian's Dovecot ($dovecot), which is not installed." >&2
      echo "Install it as root:  apt-get update && apt-get install -y dovecot-imapd" >&2
      echo "Until then those tests use a small fake IMAP server, and say so." >&2
      return 0
    fi
    echo "Installing Dovecot (Debian's dovecot-imapd package) ..."
    made_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# Made by scripts/lib/dovecot.sh while apt-get runs.\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      made_policy=1
    fi
    log="$(mktemp)"
    if ! {
      DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd
    } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "Installing Dovecot with apt-get failed; see the messages above." >&2
      echo "The IMAP tests use a small fake IMAP server instead, and say so." >&2
    fi
    rm -f "$log"
    [ -n "$made_policy" ] && rm -f "$policy"
    if [ ! -x "$dovecot" ]; then
      echo "$dovecot is still missing; the IMAP tests use a small fake IMAP server." >&2
      return 0
    fi
  fi
  export ENGAGE_DOVECOT="$dovecot"
}

_engage_dovecot_setup
unset -f _engage_dovecot_setup
