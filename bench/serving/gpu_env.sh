# Sourced by bench/serving/run_gpu.sh and bench/prefix/run_gpu.sh (bash): the pieces both GPU scripts need.
#
#   ensure_openai          makes `import openai` work: as is, or from the wheels in $WHEELS (default
#                          $repo/.whl) installed into /tmp/site (PYTHONPATH is exported)
#   ensure_checkpoint SHAPE DIR
#                          writes a random-weight HF checkpoint of SHAPE into DIR with tests/gpu/random_checkpoint.py
#                          (or $TANDEM_RANDOM_CHECKPOINT), unless DIR/config.json exists; adds the legacy
#                          rope_theta / rope_scaling keys that Tandem's config reader reads
#   start_server BIN TOML LOG PORT
#                          starts `BIN serve --config TOML` on 127.0.0.1:PORT, stderr to LOG; sets
#                          SERVER_PID; waits up to $READY_TIMEOUT s (600) for /ready; returns 1 if it died
#   stop_server            SIGTERM, then SIGKILL after 30 s
# Needs: $repo set by the caller.

ensure_openai() {
  if python3 -c "import openai" 2>/dev/null; then return 0; fi
  local wheels=${WHEELS:-$repo/.whl}
  if ! ls "$wheels"/openai-*.whl >/dev/null 2>&1; then
    echo "openai is not installed and $wheels has no openai wheel (see bench/serving/README.md)" >&2
    return 1
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$wheels"/*.whl || return 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  python3 -c "import openai; print('openai', openai.__version__, 'from', openai.__file__)"
}

ensure_checkpoint() {
  local shape=$1 dir=$2
  local tool=${TANDEM_RANDOM_CHECKPOINT:-$repo/tests/gpu/random_checkpoint.py}
  if [ ! -f "$dir/config.json" ]; then
    local t0=$SECONDS
    python3 "$tool" --shape "$shape" --out "$dir" >/dev/null || return 1
    echo "checkpoint $shape written to $dir in $((SECONDS - t0)) s"
  fi
}

start_server() {
  local bin=$1 toml=$2 log=$3 port=$4
  "$bin" serve --config "$toml" --host 127.0.0.1 --port "$port" 2>"$log" >/dev/null &
  SERVER_PID=$!
  local t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "${READY_TIMEOUT:-600}" ]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "tandem serve exited during start-up; last lines of $log:" >&2
      tail -20 "$log" >&2
      return 1
    fi
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/ready', timeout=2)" \
        2>/dev/null; then
      echo "server ready on port $port in $((SECONDS - t0)) s"
      return 0
    fi
    sleep 1
  done
  echo "tandem serve not ready after ${READY_TIMEOUT:-600} s" >&2
  return 1
}

stop_server() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
