# Starts Warden's processes on 127.0.0.1 for scripts that drive them from outside (load
# benchmarks, the Python example's end-to-end test): the fake Kubernetes API server, the
# policy service and the executor on a fresh database. Source it, then:
#
#   stack_start BIN_DIR DB_NAME [VAR=VALUE ...]   # extra settings for the executor
#   ... use $FAKE_URL $POLICY_URL $EXECUTOR_URL $STACK_DIR, JWT_SECRET,
#       $FAKE_PID $POLICY_PID $EXECUTOR_PID ...
#   stack_stop                                    # also run on EXIT by stack_start
#
# BIN_DIR holds policy-service, executor-service and fake-kube. Ports are chosen free.
# The policy service runs in development mode with a fresh signing key
# ($STACK_DIR/decision-key.pem); JWT_SECRET is generated unless already set.

STACK_PIDS=()

stack_stop() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STACK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  STACK_PIDS=()
  [ -n "${STACK_DIR:-}" ] && rm -rf "$STACK_DIR"
}

# A TCP port nothing listens on right now.
stack_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stack_wait_ready() {
  local _
  for _ in $(seq 1 200); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "stack: not ready: $1" >&2
  return 1
}

stack_start() {
  local bin=$1 db=$2
  shift 2
  trap stack_stop EXIT
  STACK_DIR=$(mktemp -d)

  local base_url
  base_url=$(scripts/ensure-postgres)
  psql "$base_url" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  STACK_DATABASE_URL="${base_url%/*}/$db"

  "$bin/fake-kube" --addr 127.0.0.1:0 >"$STACK_DIR/fake.out" 2>"$STACK_DIR/fake.err" &
  STACK_PIDS+=($!)
  FAKE_PID=$!
  local _
  for _ in $(seq 1 100); do grep -q '^listening ' "$STACK_DIR/fake.out" && break; sleep 0.1; done
  FAKE_URL=$(sed -n 's/^listening //p' "$STACK_DIR/fake.out" | head -n 1)
  [ -n "$FAKE_URL" ] || { cat "$STACK_DIR/fake.err" >&2; return 1; }
  cat >"$STACK_DIR/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "$FAKE_URL"}}]
users: [{name: fake, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
KUBECONFIG

  "$bin/policy-service" keygen --out "$STACK_DIR/decision-key.pem" >/dev/null
  local policy_port executor_port
  policy_port=$(stack_free_port)
  POLICY_URL=http://127.0.0.1:$policy_port
  POLICY_BIND=127.0.0.1:$policy_port POLICY_FILE=policies/default.yaml \
    DECISION_SIGNING_KEY_FILE="$STACK_DIR/decision-key.pem" RUST_LOG=${RUST_LOG:-warn} \
    "$bin/policy-service" >"$STACK_DIR/policy.log" 2>&1 &
  POLICY_PID=$!
  STACK_PIDS+=("$POLICY_PID")
  stack_wait_ready "$POLICY_URL/readyz"

  if [ -z "${JWT_SECRET:-}" ]; then
    JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fi
  export JWT_SECRET
  executor_port=$(stack_free_port)
  EXECUTOR_URL=http://127.0.0.1:$executor_port
  env EXECUTOR_BIND=127.0.0.1:$executor_port DATABASE_URL="$STACK_DATABASE_URL" \
    POLICY_URL="$POLICY_URL" KUBECONFIG="$STACK_DIR/kubeconfig" RUST_LOG=${RUST_LOG:-warn} \
    "$@" "$bin/executor-service" >"$STACK_DIR/executor.log" 2>&1 &
  EXECUTOR_PID=$!
  STACK_PIDS+=($EXECUTOR_PID)
  stack_wait_ready "$EXECUTOR_URL/readyz"
}
