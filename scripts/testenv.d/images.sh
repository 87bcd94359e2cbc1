# shellcheck shell=bash
# The test images: recipes are the folders under images/, built locally from Debian packages
# and host binaries (nothing is pulled). Each image carries the hash of its recipe (its folder
# plus the hashes of the images it is made from) as the label pier.recipe, and is rebuilt only
# when that hash changes.

declare -A TAG=(
  [busybox]=pier-test/busybox:1
  [debian-minbase]=pier-test/debian:bookworm-minbase
  [debian]=pier-test/debian:bookworm
  [postgres]=pier-test/postgres:15
  [dind-base]=pier-test/dind-base:1
  [dind]=pier-test/dind:1
  [docker-cli]=pier-test/docker-cli:1
  [registry]=pier-test/registry:2
)

# What each image is made from (its hash includes theirs).
declare -A DEPENDS_ON=(
  [busybox]=""
  [debian-minbase]=""
  [debian]="debian-minbase"
  [postgres]="debian-minbase"
  [dind-base]="debian-minbase"
  [registry]="busybox"
  [docker-cli]="busybox"
  [dind]="dind-base registry busybox debian postgres docker-cli"
)
IMAGE_ORDER=(busybox debian-minbase debian postgres dind-base registry docker-cli dind)

# Names real pipelines use, and the image standing in for each. The non-DinD ones are also
# served inside the DinD image by its baked-in mirror (as library/<name>).
OFFICIAL_NAMES=(
  busybox:latest=busybox
  alpine:3=busybox
  alpine:latest=busybox
  debian:bookworm=debian
  postgres:15=postgres
  postgres:11.7-alpine=postgres
  docker:19.03.13=docker-cli
  docker:19.03=docker-cli
  docker:24=docker-cli
  docker:latest=docker-cli
  docker:cli=docker-cli
  registry:2=registry
  docker:19.03.13-dind=dind
  docker:24-dind=dind
  docker:dind=dind
)

declare -A HASH=()

folder_hash() {
  (
    cd "$IMAGES/$1" || exit 1
    find . -type f -printf '%m %p\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  ) | sha256sum | cut -c1-20
}

compute_hashes() {
  local name dep
  for name in "${IMAGE_ORDER[@]}"; do
    HASH[$name]=$(
      {
        folder_hash "$name"
        for dep in ${DEPENDS_ON[$name]}; do echo "$dep ${HASH[$dep]}"; done
      } | sha256sum | cut -c1-20
    )
  done
}

is_current() { # is_current NAME: the image exists and was built from the current recipe
  [ "$(docker image inspect -f '{{index .Config.Labels "pier.recipe"}}' "${TAG[$1]}" 2>/dev/null)" = "${HASH[$1]}" ]
}

static_busybox() {
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    is_static "$candidate" && { echo "$candidate"; return 0; }
  done
  return 1
}

docker_cli_binary() { # prefers a static CLI; the image gets the libraries of a dynamic one
  local candidate
  for candidate in /usr/local/bin/docker "$(command -v docker)" /usr/bin/docker; do
    is_static "$candidate" && { echo "$candidate"; return 0; }
  done
  command -v docker
}

# Host packages the builds of the given images need and this host lacks, printed.
missing_host_packages() { # missing_host_packages NAME...
  local name
  for name in "$@"; do
    case $name in
      busybox) static_busybox >/dev/null || echo busybox-static ;;
      debian-minbase) command -v mmdebstrap >/dev/null || echo mmdebstrap ;;
      registry) command -v docker-registry >/dev/null || echo docker-registry ;;
    esac
  done
}

ensure_host_tools() { # ensure_host_tools NAME...: installs them in one apt run before any build
  local packages
  read -r -a packages <<<"$(missing_host_packages "$@" | tr '\n' ' ')"
  if [ "${#packages[@]}" -gt 0 ]; then apt_install "${packages[@]}"; fi
}

built() { # built NAME START_US
  log "built ${TAG[$1]} in $(seconds_since "$2")s ($(docker image inspect -f '{{.Size}}' "${TAG[$1]}" | awk '{printf "%d MB", $1 / 1e6}'))"
}

import_rootfs() { # import_rootfs NAME < rootfs.tar: imports, prints the image id, tags nothing
  local name=$1 line changes=()
  while IFS= read -r line; do
    [ -n "$line" ] && changes+=(-c "$line")
  done <"$IMAGES/$name/import-changes"
  docker import "${changes[@]}" -c "LABEL pier.recipe=${HASH[$name]}" -
}

# docker import also succeeds on a truncated stream, so the tag is set only once the producer
# succeeded too: a broken image must never look current.
import_and_tag() { # import_and_tag NAME PRODUCER...
  local name=$1 id
  shift
  if id=$("$@" | import_rootfs "$name"); then
    docker tag "$id" "${TAG[$name]}"
  else
    [[ $id == sha256:* ]] && docker rmi "$id" >/dev/null 2>&1
    return 1
  fi
}

docker_build() { # docker_build NAME CONTEXT
  local name=$1 context=$2 logfile=$WORK/$1.log
  if ! docker build --force-rm --label "pier.recipe=${HASH[$name]}" \
    --build-arg BASE="${TAG[$(first_dependency "$name")]}" \
    --build-arg BUSYBOX="${TAG[busybox]}" --build-arg REGISTRY="${TAG[registry]}" \
    -t "${TAG[$name]}" "$context" >"$logfile" 2>&1; then
    tail -n 40 "$logfile" >&2
    fail "docker build ${TAG[$name]}"
  fi
}

first_dependency() {
  local deps
  read -r -a deps <<<"${DEPENDS_ON[$1]}"
  echo "${deps[0]:-busybox}"
}

build_context() { # build_context NAME: a scratch copy of the recipe folder, printed
  local context=$WORK/context-$1
  rm -rf "$context"
  cp -a "$IMAGES/$1" "$context"
  echo "$context"
}

build_busybox() {
  local start bb
  start=$(now_us)
  log "building ${TAG[busybox]}"
  bb=$(static_busybox) || fail "no static busybox on this host (apt-get install busybox-static)"
  BUSYBOX=$bb import_and_tag busybox "$IMAGES/busybox/rootfs.sh" || fail "import ${TAG[busybox]}"
  built busybox "$start"
}

build_debian_minbase() {
  local start
  start=$(now_us)
  log "building ${TAG[debian-minbase]} (mmdebstrap)"
  if ! import_and_tag debian-minbase "$IMAGES/debian-minbase/rootfs.sh" 2>"$WORK/debian-minbase.log"; then
    tail -n 40 "$WORK/debian-minbase.log" >&2
    fail "mmdebstrap ${TAG[debian-minbase]}"
  fi
  built debian-minbase "$start"
}

build_plain() { # build_plain NAME: a Dockerfile recipe needing nothing from the host
  local start context
  start=$(now_us)
  log "building ${TAG[$1]}"
  context=$(build_context "$1")
  docker_build "$1" "$context"
  built "$1" "$start"
}

build_registry() {
  local start context
  start=$(now_us)
  log "building ${TAG[registry]}"
  context=$(build_context registry)
  copy_with_libraries "$(command -v docker-registry)" "$context/rootfs" bin/registry
  docker_build registry "$context"
  built registry "$start"
}

build_docker_cli() {
  local start context
  start=$(now_us)
  log "building ${TAG[docker-cli]}"
  context=$(build_context docker-cli)
  copy_with_libraries "$(docker_cli_binary)" "$context/rootfs" usr/local/bin/docker
  docker_build docker-cli "$context"
  built docker-cli "$start"
}

# DinD's mirror: the library/* stand-ins are pushed, each as soon as it is built, to a
# temporary registry container published on a loopback port the engine picks; its storage is
# then copied into the DinD build context.
MIRROR_REGISTRY=
MIRROR_PORT=

start_mirror_registry() {
  MIRROR_REGISTRY=pier-testenv-mirror-$$-$RANDOM
  CLEANUP_CONTAINERS+=("$MIRROR_REGISTRY")
  docker run -d --name "$MIRROR_REGISTRY" "${RUN_LABELS[@]}" -p 127.0.0.1::5000 "${TAG[registry]}" >/dev/null ||
    fail "start the temporary registry"
  MIRROR_PORT=$(docker port "$MIRROR_REGISTRY" 5000/tcp | head -n 1)
  MIRROR_PORT=${MIRROR_PORT##*:}
  for _ in $(seq 1 100); do
    registry_answers "$MIRROR_PORT" && break
    sleep 0.1
  done
  registry_answers "$MIRROR_PORT" || fail "temporary registry on 127.0.0.1:$MIRROR_PORT does not answer"
  log "mirror: temporary registry on 127.0.0.1:$MIRROR_PORT"
}

mirror_names() { # mirror_names SOURCE: the library/* names the mirror serves from that image
  local entry
  for entry in "${OFFICIAL_NAMES[@]}"; do
    if [ "${entry#*=}" = "$1" ]; then echo "library/${entry%%=*}"; fi
  done
}

# Images whose official names the mirror serves (DinD itself cannot be inside its own image).
MIRRORED_SOURCES=(busybox debian postgres docker-cli registry)

is_mirrored() { [[ " ${MIRRORED_SOURCES[*]} " == *" $1 "* ]]; }

push_to_mirror() { # push_to_mirror SOURCE
  local start name logfile=$WORK/push-$1.log
  start=$(now_us)
  for name in $(mirror_names "$1"); do
    docker tag "${TAG[$1]}" "127.0.0.1:$MIRROR_PORT/$name"
    if ! docker push "127.0.0.1:$MIRROR_PORT/$name" >>"$logfile" 2>&1; then
      tail -n 20 "$logfile" >&2
      fail "push ${TAG[$1]} to the mirror"
    fi
  done
  log "mirror: pushed ${TAG[$1]} in $(seconds_since "$start")s"
}

start_push() { # start_push SOURCE: in the background; its tags are removed on exit
  local name
  for name in $(mirror_names "$1"); do CLEANUP_TAGS+=("127.0.0.1:$MIRROR_PORT/$name"); done
  run_in_background "push-$1" push_to_mirror "$1"
}

wait_for_pushes() {
  local source
  for source in "${MIRRORED_SOURCES[@]}"; do wait_for "push-$source"; done
}

build_dind() {
  local start context
  start=$(now_us)
  context=$(build_context dind)
  docker cp "$MIRROR_REGISTRY:/var/lib/registry" "$context/mirror" || fail "copy the mirror storage"
  docker rm -fv "$MIRROR_REGISTRY" >/dev/null
  docker rmi "${CLEANUP_TAGS[@]}" >/dev/null
  log "building ${TAG[dind]} (mirror: $(du -sm "$context/mirror" | cut -f1) MB)"
  docker_build dind "$context"
  built dind "$start"
}

registry_answers() { # registry_answers PORT: GET /v2/ answers 200 (busybox wget would crash here)
  local status
  status=$(
    {
      exec 3<>"/dev/tcp/127.0.0.1/$1" &&
        printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
        IFS= read -r -t 2 line <&3 &&
        echo "$line"
    } 2>/dev/null
  ) || return 1
  [[ $status == HTTP/1.?" 200"* ]]
}

tag_official_names() {
  local entry
  for entry in "${OFFICIAL_NAMES[@]}"; do
    docker tag "${TAG[${entry#*=}]}" "${entry%%=*}"
  done
}

build_and_push() { # build_and_push NAME BUILD(yes|no) PUSH(yes|no)
  if [ "$2" = yes ]; then build_plain "$1"; fi
  if [ "$3" = yes ]; then push_to_mirror "$1"; fi
}
