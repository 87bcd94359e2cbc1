#!/bin/sh
# The official docker image's contract: without DOCKER_HOST, talk to the "docker" service over
# TLS on 2376 when $DOCKER_TLS_CERTDIR/client holds the client certificates, else plain 2375
# (or the socket, when one is mounted). Arguments that look like docker options or subcommands
# go to docker; anything else runs as given.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- docker "$@"
elif docker help "$1" >/dev/null 2>&1; then
  set -- docker "$@"
fi

client_certs_present() {
  [ -n "${DOCKER_TLS_CERTDIR:-}" ] &&
    [ -s "$DOCKER_TLS_CERTDIR/client/ca.pem" ] &&
    [ -s "$DOCKER_TLS_CERTDIR/client/cert.pem" ] &&
    [ -s "$DOCKER_TLS_CERTDIR/client/key.pem" ]
}

if [ -z "${DOCKER_HOST:-}" ]; then
  if [ -S /var/run/docker.sock ]; then
    export DOCKER_HOST=unix:///var/run/docker.sock
  elif client_certs_present || [ -n "${DOCKER_TLS_VERIFY:-}" ]; then
    export DOCKER_HOST=tcp://docker:2376
  else
    export DOCKER_HOST=tcp://docker:2375
  fi
fi
if [ "${DOCKER_HOST#tcp://}" != "$DOCKER_HOST" ] && client_certs_present; then
  export DOCKER_TLS_VERIFY=1
  export DOCKER_CERT_PATH="$DOCKER_TLS_CERTDIR/client"
fi
exec "$@"
