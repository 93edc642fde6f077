# Starts Warden's processes on 127.0.0.1 for scripts that drive them from outside (load
# benchmarks, the Python example's end-to-end test, the schema fuzzer, the walk-through): a
# thin wrapper over scripts/lib/stack.py, which does the work. Source it, then:
#
#   stack_start BIN_DIR DB_NAME [VAR=VALUE ...]   # extra settings for the executor
#   ... use $FAKE_URL $POLICY_URL $EXECUTOR_URL $STACK_DIR $STACK_DATABASE_URL, JWT_SECRET,
#       $FAKE_PID $POLICY_PID $EXECUTOR_PID ...
#   stack_stop                                    # also run on EXIT by stack_start
#
#   stack_start_fake BIN_DIR DB_NAME              # fake-kube (kubeconfig in
#                                                 # $STACK_DIR/kubeconfig) and the database only
#
# BIN_DIR holds policy-service, executor-service and fake-kube. Ports are chosen free.
# The policy service runs in development mode with a fresh signing key
# ($STACK_DIR/decision-key.pem); JWT_SECRET is generated unless already set. Logs are in
# $STACK_DIR (fake-kube.log, policy-service.log, executor-0.log).

STACK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

stack_stop() {
  if [ -n "${STACK_DIR:-}" ]; then
    python3 "$STACK_LIB/stack.py" stop "$STACK_DIR" || true
    STACK_DIR=
  fi
}

# A TCP port nothing listens on right now.
stack_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (up to 20 s) until URL answers 2xx.
stack_wait_ready() {
  local _
  for _ in $(seq 1 200); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "stack: not ready: $1" >&2
  return 1
}

# stack_run_start BIN_DIR DB_NAME [stack.py start options] [VAR=VALUE ...]
stack_run_start() {
  local bin=$1 db=$2 base_url env_file
  shift 2
  trap stack_stop EXIT
  base_url=$("$STACK_LIB/../ensure-postgres")
  env_file=$(mktemp)
  if ! python3 "$STACK_LIB/stack.py" start --bin "$bin" --db "$db" --database-url "$base_url" \
    --env-file "$env_file" "$@"; then
    rm -f "$env_file"
    return 1
  fi
  # shellcheck disable=SC1090
  source "$env_file"
  rm -f "$env_file"
  export JWT_SECRET
}

stack_start() {
  local bin=$1 db=$2
  shift 2
  stack_run_start "$bin" "$db" "$@"
}

stack_start_fake() {
  stack_run_start "$1" "$2" --fake-only
}
