# Sourced by scripts/demo, scripts/test and the benchmarks, always with one word: the extras
# to install, or "" for none (sourced with no words, the calling script's own arguments would
# be taken for extras). Makes sure .venv exists and has this project installed (with the
# extras named in $1, if any). Re-installs only when pyproject.toml has changed since the
# last install.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-python3}"
extras="${1:-}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "engage needs Python 3.11 or newer; $python is $("$python" --version 2>&1)." >&2
  echo "Install a newer Python, or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "Creating a virtual environment in .venv ..."
  "$python" -m venv "$venv"
fi

target="$root"
[ -n "$extras" ] && target="$root[$extras]"
stamp="$venv/.engage-installed-${extras:-base}"
wanted="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing engage${extras:+ with [$extras]} into .venv ..."
  "$venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  "$venv/bin/python" -m pip install --quiet -e "$target" 2>&1 | grep -v '^WARNING: Location' || true
  "$venv/bin/python" -c 'import engage' || { echo "Installing engage failed; see the messages above." >&2; exit 1; }
  echo "$wanted" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
