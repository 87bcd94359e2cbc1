# shellcheck shell=bash
# Shared by scripts/testenv and its parts: progress lines with elapsed seconds, failures,
# background steps whose failures propagate, and cleanup of what this run created.

TESTENV_START_US=${EPOCHREALTIME/[.,]/}
# Labels for every Docker object created at run time; scripts/leftovers checks them.
# shellcheck disable=SC2034 # used by the other parts
RUN_LABELS=(--label pier.managed=true --label pier.test=testenv)

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }

seconds_since() { # seconds_since START_US -> "12.3"
  local d=$(($(now_us) - $1))
  printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10))
}

log() { printf '[%6ss] %s\n' "$(seconds_since "$TESTENV_START_US")" "$*"; }

fail() {
  log "FAILED: $*" >&2
  exit 1
}

declare -A BACKGROUND_PIDS=()

run_in_background() { # run_in_background NAME COMMAND...
  local name=$1
  shift
  ("$@") &
  BACKGROUND_PIDS[$name]=$!
}

wait_for() { # wait_for NAME: waits for a background step; exits if it failed
  local name=$1 pid=${BACKGROUND_PIDS[$1]:-}
  [ -n "$pid" ] || return 0
  unset "BACKGROUND_PIDS[$name]"
  wait "$pid" || fail "$name (see the log lines above)"
}

# Run-time Docker objects and image tags to remove on exit, whatever happens.
CLEANUP_CONTAINERS=()
CLEANUP_TAGS=()

cleanup_on_exit() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]}"; do
    pkill -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  if [ "${#CLEANUP_CONTAINERS[@]}" -gt 0 ]; then
    docker rm -fv "${CLEANUP_CONTAINERS[@]}" >/dev/null 2>&1 || true
  fi
  if [ "${#CLEANUP_TAGS[@]}" -gt 0 ]; then
    docker rmi "${CLEANUP_TAGS[@]}" >/dev/null 2>&1 || true
  fi
  if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
}

is_static() { # is_static FILE: true for a statically linked executable
  local out
  [ -x "$1" ] || return 1
  out=$(LC_ALL=C ldd "$1" 2>&1 || true)
  [[ $out == *"not a dynamic executable"* ]]
}

copy_with_libraries() { # copy_with_libraries BINARY ROOT PATH_IN_ROOT
  local binary=$1 root=$2 target=$3 lib
  mkdir -p "$root/$(dirname "$target")"
  cp -L "$binary" "$root/$target"
  is_static "$binary" && return 0
  for lib in $(LC_ALL=C ldd "$binary" | awk '/=> \// {print $3} /^[[:space:]]*\/[^ ]*ld-linux/ {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
