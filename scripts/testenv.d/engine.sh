# shellcheck shell=bash
# Installs Debian's Docker engine and starts dockerd without systemd, on a machine where no
# engine answers. An engine that already answers is used as it is: its configuration is never
# touched.

engine_answers() { docker info >/dev/null 2>&1; }

# Packages for the host tools the image builds use, by the command they provide.
apt_install() { # apt_install PACKAGE...
  [ "$(id -u)" = 0 ] || fail "need root to install: $*"
  command -v apt-get >/dev/null || fail "no apt-get to install: $*"
  # Package scripts must not try to start services: we start dockerd ourselves.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  log "apt: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq || fail "apt-get update"
    APT_UPDATED=yes
  fi
  apt-get install -y -qq --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 ||
    { tail -n 30 "$WORK/apt.log" >&2; fail "apt-get install $*"; }
  log "apt: installed"
}

bounding_set_is_reduced() {
  local key value bnd='' last
  while read -r key value; do [ "$key" = CapBnd: ] && bnd=$value; done </proc/self/status
  last=$(cat /proc/sys/kernel/cap_last_cap)
  [ -n "$bnd" ] && [ $((0x$bnd)) -ne $(((1 << (last + 1)) - 1)) ]
}

write_daemon_json() { # write_daemon_json WITH_RUNC_WRAPPER(yes|no)
  local runtime=
  if [ "$1" = yes ]; then
    runtime='
  "runtimes": { "runc-bnd": { "path": "/usr/local/bin/runc-bnd" } },
  "default-runtime": "runc-bnd",'
  fi
  mkdir -p /etc/docker
  # bip away from 172.17/16 so a DinD engine's docker0 does not shadow ours; a large pool so
  # per-job networks and parallel suites do not run out (the default gives about 31).
  cat >/etc/docker/daemon.json <<JSON
{$runtime
  "bip": "10.200.0.1/24",
  "default-address-pools": [{ "base": "10.201.0.0/16", "size": 24 }]
}
JSON
}

install_and_start_engine() {
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers, and installing one needs root"
  local packages
  read -r -a packages <<<"$(missing_host_packages "${IMAGE_ORDER[@]}" | tr '\n' ' ')"
  command -v dockerd >/dev/null || packages=(docker.io "${packages[@]}")
  if [ "${#packages[@]}" -gt 0 ]; then apt_install "${packages[@]}"; fi
  if ! mountpoint -q /sys/fs/cgroup; then
    command -v cgroupfs-mount >/dev/null || apt_install cgroupfs-mount
    cgroupfs-mount
  fi

  if [ -e /etc/docker/daemon.json ] && ! grep -q '"10.200.0.1/24"' /etc/docker/daemon.json; then
    log "engine: keeping the existing /etc/docker/daemon.json"
  else
    local wrapper=no
    # Docker 20.10 asks runc for every capability on --privileged, which fails when the
    # bounding set lacks some (CAP_SYS_RESOURCE on these VMs); the wrapper drops those.
    if bounding_set_is_reduced; then
      install -m 0755 "$IMAGES/dind/runc-bnd" /usr/local/bin/runc-bnd
      wrapper=yes
      log "engine: capability bounding set is reduced; runc-bnd wrapper is the default runtime"
    fi
    write_daemon_json "$wrapper"
  fi

  log "engine: starting dockerd (log: /var/log/dockerd.log)"
  # setsid: the daemon outlives this script and is not in its process group.
  setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 300); do
    engine_answers && break
    sleep 0.1
  done
  engine_answers || { tail -n 20 /var/log/dockerd.log >&2; fail "dockerd did not answer within 30 s"; }
  # shellcheck disable=SC2034 # read by scripts/testenv
  ENGINE_IS_OURS=yes
}
