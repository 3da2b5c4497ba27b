#!/usr/bin/env bash
# The local AWS emulator (moto server) for tests and the demo.
#
#   scripts/emulator.sh install        make .venv with the pinned moto[server]
#   scripts/emulator.sh start          start moto on a free loopback port; prints the endpoint
#   scripts/emulator.sh stop           stop the server started by `start`
#   scripts/emulator.sh run CMD...     start, export CIS_FIX_TEST_ENDPOINT, run CMD, stop
#
# `start`/`stop` keep their state in .moto/ (pid, port, log); `run` starts a private server
# with its own state, so a test run and a demo in the same checkout never stop each other.
# moto is pinned: the tests are written against the gaps of this exact version (each test that
# meets one says so in a comment).
set -euo pipefail

MOTO_VERSION="5.2.5"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
state="$root/.moto"

install() {
  if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto,sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    return 0
  fi
  echo "emulator: installing moto[server]==$MOTO_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir "moto[server]==$MOTO_VERSION"
}

start() {
  install
  mkdir -p "$state"
  if [ -f "$state/port" ] && [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
    echo "http://127.0.0.1:$(cat "$state/port")"
    return 0
  fi
  : > "$state/log"
  # moto uses boto3 internally: the caller's AWS_* settings (a profile that does not
  # exist here, an endpoint override) must not leak into it.
  local unset_aws=()
  for v in $(env | sed -n 's/^\(AWS_[A-Za-z0-9_]*\)=.*/\1/p'); do unset_aws+=(-u "$v"); done
  # Default AMIs make every new account/region slow and memory-hungry; the
  # support-role control needs AWS managed policies loaded.
  env "${unset_aws[@]}" MOTO_EC2_LOAD_DEFAULT_AMIS=false MOTO_IAM_LOAD_MANAGED_POLICIES=true \
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p 0 >"$state/log" 2>&1 &
  echo $! > "$state/pid"
  local port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/.*Running on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$state/log" | head -n1)"
    if [ -n "$port" ] && "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
      echo "$port" > "$state/port"
      echo "http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.2
  done
  echo "emulator: moto_server did not start; its log:" >&2
  cat "$state/log" >&2
  stop
  return 1
}

stop() {
  if [ -f "$state/pid" ]; then
    local pid
    pid="$(cat "$state/pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/pid" "$state/port"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  run)
    shift
    state="$(mktemp -d "${TMPDIR:-/tmp}/cis-fix-moto.XXXXXX")"
    endpoint="$(start)"
    trap 'stop; rm -rf "$state"' EXIT
    export CIS_FIX_TEST_ENDPOINT="$endpoint"
    echo "emulator: moto at $endpoint" >&2
    "$@"
    ;;
  *) echo "usage: $0 install|start|stop|run CMD..." >&2; exit 2 ;;
esac
