# Shared set-up for the README's commands: the virtual environment from the lock file and
# the web build. Sourced, not run. Each step is skipped when its inputs have not changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${HOSTWATCH_PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_root_or_fail() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: $1 is missing; install it (as root: $2) and run again" >&2
    exit 1
  fi
}

ensure_python() {
  if ! "$PY" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    need_root_or_fail "Python 3.11+ with venv" "apt-get install python3 python3-venv"
    say "installing Python 3 with venv (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
  fi
}

ensure_venv() {
  ensure_python
  local stamp="$VENV/.lock-sha256" want
  want="$(cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  say "creating the virtual environment from requirements.lock"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
    -r "$ROOT/requirements.lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$ROOT"
  echo "$want" > "$stamp"
}

ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    need_root_or_fail "Node.js with npm" "apt-get install nodejs npm"
    say "installing Node.js and npm (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  fi
}

ensure_web() {
  ensure_node
  local web="$ROOT/web" stamp want
  stamp="$web/node_modules/.lock-sha256"
  want="$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing the web app's packages (npm ci)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
  say "building the web app"
  (cd "$web" && npm run --silent build >/dev/null)
}
