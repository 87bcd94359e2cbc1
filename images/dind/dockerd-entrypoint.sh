#!/bin/sh
# Like the official docker:dind entrypoint.
#   DOCKER_TLS_CERTDIR=/certs (default): generate CA, server and client certificates there
#     (client ones world-readable in $DOCKER_TLS_CERTDIR/client) and serve TLS on 2376.
#   DOCKER_TLS_CERTDIR="": plain TCP on 2375 (--tls=false, which also skips dockerd's 15 s wait).
#   Arguments starting with "-" (a service "command:") are passed to dockerd.
#   DIND_KEY=ec for instant EC keys (default rsa:2048; the official image uses rsa:4096).
# Also starts the baked-in read-only mirror of test images on 127.0.0.1 (PIER_DIND_MIRROR=0 to
# disable), a DNS forwarder for inner containers, and gives the inner engine its own bridge and
# address pool, so it does not shadow the outer engine's networks.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- dockerd "$@"
fi
if [ "$1" != dockerd ]; then
  exec "$@"
fi
shift

has_option() { # has_option NAME ARGS...: is --NAME given, as "--NAME value" or "--NAME=value"?
  name=$1
  shift
  for arg in "$@"; do
    case "$arg" in "$name" | "$name"=*) return 0 ;; esac
  done
  return 1
}

new_key() {
  if [ "${DIND_KEY:-rsa:2048}" = ec ]; then
    openssl ecparam -genkey -name prime256v1 -noout -out "$1"
  else
    bits=${DIND_KEY:-rsa:2048}
    openssl genrsa -out "$1" "${bits#rsa:}" 2>/dev/null
  fi
}

generate_certs() {
  dir=$1
  mkdir -p "$dir/ca" "$dir/server" "$dir/client"
  (
    umask 077
    if [ ! -s "$dir/ca/key.pem" ]; then
      new_key "$dir/ca/key.pem"
      openssl req -new -x509 -key "$dir/ca/key.pem" -out "$dir/ca/cert.pem" -days 825 -subj '/CN=docker:dind CA'
    fi
    if [ ! -s "$dir/server/cert.pem" ]; then
      new_key "$dir/server/key.pem"
      san="DNS:$(hostname),DNS:docker,DNS:localhost,IP:127.0.0.1,IP:::1"
      for ip in $(hostname -i 2>/dev/null || true); do san="$san,IP:$ip"; done
      openssl req -new -key "$dir/server/key.pem" -out "$dir/server/csr.pem" -subj '/CN=docker:dind server'
      printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" > "$dir/server/openssl.cnf"
      openssl x509 -req -in "$dir/server/csr.pem" -CA "$dir/ca/cert.pem" -CAkey "$dir/ca/key.pem" \
        -CAcreateserial -out "$dir/server/cert.pem" -days 825 -extfile "$dir/server/openssl.cnf" 2>/dev/null
      cp "$dir/ca/cert.pem" "$dir/server/ca.pem"
    fi
    if [ ! -s "$dir/client/cert.pem" ]; then
      new_key "$dir/client/key.pem"
      openssl req -new -key "$dir/client/key.pem" -out "$dir/client/csr.pem" -subj '/CN=docker:dind client'
      printf 'extendedKeyUsage=clientAuth\n' > "$dir/client/openssl.cnf"
      openssl x509 -req -in "$dir/client/csr.pem" -CA "$dir/ca/cert.pem" -CAkey "$dir/ca/key.pem" \
        -CAcreateserial -out "$dir/client/cert.pem" -days 825 -extfile "$dir/client/openssl.cnf" 2>/dev/null
      cp "$dir/ca/cert.pem" "$dir/client/ca.pem"
      # Job containers may run as another user; they only need to read these.
      chmod 644 "$dir/client/ca.pem" "$dir/client/cert.pem" "$dir/client/key.pem"
    fi
  )
}

if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs none /sys/kernel/security 2>/dev/null || true
fi
mountpoint -q /tmp || mount -t tmpfs none /tmp 2>/dev/null || true
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  # cgroup v2: move ourselves out of the root group so controllers can be delegated.
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
    > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi

# --privileged inside needs the runc wrapper when our bounding set lacks capabilities.
bnd=
while read -r key value; do [ "$key" = CapBnd: ] && bnd=$value; done < /proc/self/status
last=$(cat /proc/sys/kernel/cap_last_cap)
if [ -n "$bnd" ] && [ $((0x$bnd)) -ne $(((1 << (last + 1)) - 1)) ] && ! has_option --default-runtime "$@"; then
  set -- --add-runtime runc-bnd=/usr/local/bin/runc-bnd --default-runtime runc-bnd "$@"
fi

has_option --bip "$@" || set -- --bip 10.250.0.1/24 "$@"
has_option --default-address-pool "$@" || set -- --default-address-pool base=10.251.0.0/16,size=24 "$@"

# Docker's embedded DNS (127.0.0.11) is unusable by inner containers, so the inner engine would
# give them 8.8.8.8: unreachable offline, and blind to service aliases. A forwarder on our own
# address makes inner containers resolve what this container resolves.
if ! has_option --dns "$@" && grep -q '^nameserver 127\.0\.0\.11' /etc/resolv.conf 2>/dev/null; then
  own_ip=$(hostname -i 2>/dev/null | awk '{print $1}')
  if [ -n "$own_ip" ] && [ "${own_ip#*:}" = "$own_ip" ] &&
    dnsmasq --no-resolv --no-hosts --server=127.0.0.11 --listen-address="$own_ip" --bind-interfaces \
      --user=nobody --group=nogroup --pid-file=/run/pier-dns.pid --log-facility=/var/log/pier-dns.log; then
    set -- "$@" --dns "$own_ip"
  fi
fi

if [ "${PIER_DIND_MIRROR:-1}" != 0 ] && [ -d /var/lib/pier-mirror/docker ]; then
  pier-mirror-registry serve /etc/pier-mirror/config.yml >/var/log/pier-mirror.log 2>&1 &
  set -- "$@" --registry-mirror http://127.0.0.1:61555
fi

certdir=${DOCKER_TLS_CERTDIR:-}
if ! has_option --host "$@" && ! has_option -H "$@"; then
  if [ -n "$certdir" ]; then
    generate_certs "$certdir"
    set -- --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2376 --tlsverify \
      --tlscacert "$certdir/server/ca.pem" --tlscert "$certdir/server/cert.pem" \
      --tlskey "$certdir/server/key.pem" "$@"
  else
    set -- --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false "$@"
  fi
fi
exec dockerd "$@"
