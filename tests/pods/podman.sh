# tests/pods/podman.sh: podman set up to play pod specs on this kind of machine,
# sourced by tests/pods/run (the pod tests) and scripts/demo (make demo), so that
# the set-up is written once. Facts behind it: /work/shared/E2E-NOTES.md.
#
#   podman_need      root, podman & co. (installed on Debian when missing), a static
#                    busybox in $BUSYBOX. Returns 2 where podman cannot run as set
#                    up here (not root, not Debian): the caller skips; 1 when
#                    something could not be installed. $PODMAN_WHY says why.
#   podman_storage   a storage of this run's own, $STATE under $PODS_STATE (default
#                    /var/tmp/pods-state), with the configuration below from the
#                    first podman call on; sets RUN, STATE, WORK and exports
#                    CONTAINERS_CONF and CONTAINERS_STORAGE_CONF. The machine's own
#                    podman storage is never touched.
#   podman_images    the tools' image from $DIST/image.oci.tar (make image first when
#                    a binary is newer than it) tagged $TOOLS_IMAGE and each of
#                    $TOOLS_TAGS, and the step image $STEPS_IMAGE (FROM scratch, a
#                    static busybox and its applet links). 1 on failure, $PODMAN_WHY.
#   podman_cleanup   removes everything of the run's storage, and the storage
#                    (KEEP=1: keeps it, and says where).
#
# The caller sets DIST, TOOLS_IMAGE, STEPS_IMAGE (and TOOLS_TAGS) and runs from the
# repository's root.

podman_need() {
  PODMAN_WHY=
  if [ "$(id -u)" -ne 0 ]; then
    PODMAN_WHY="not root: podman runs as root on a storage of its own"
    return 2
  fi
  if ! command -v podman >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
    PODMAN_WHY="podman is missing and this is not Debian (no apt-get)"
    return 2
  fi
  # runc: apt picks crun for podman otherwise, and crun 1.8 refuses hybrid cgroups;
  # catatonit: the pause process of kube play's infra container.
  scripts/need podman runc catatonit skopeo qemu-aarch64-static:qemu-user-static ||
    { PODMAN_WHY="cannot install what podman needs"; return 1; }
  # A static busybox for the step image (Debian's busybox-static; the busybox package
  # is dynamic and would not run in a scratch image).
  BUSYBOX=
  local b
  for b in /bin/busybox /usr/bin/busybox; do podman_is_static "$b" && { BUSYBOX=$b; break; }; done
  if [ -z "$BUSYBOX" ]; then
    if command -v apt-get >/dev/null 2>&1; then
      echo "podman: installing busybox-static" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static \
        >/tmp/need-apt.log 2>&1 || { apt-get update -q >>/tmp/need-apt.log 2>&1;
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends busybox-static \
        >>/tmp/need-apt.log 2>&1; }
    fi
    for b in /bin/busybox /usr/bin/busybox; do podman_is_static "$b" && { BUSYBOX=$b; break; }; done
    [ -n "$BUSYBOX" ] || { PODMAN_WHY="no static busybox (apt-get install busybox-static)"; return 1; }
  fi
}

podman_is_static() {
  [ -x "$1" ] && { LC_ALL=C ldd "$1" 2>&1 || true; } | grep -q -E 'not a dynamic|statically linked'
}

podman_storage() {
  RUN=r$(printf '%x%x' "$(date +%s)" $$ | tail -c 8)
  STATE_BASE=${PODS_STATE:-/var/tmp/pods-state}
  STATE=$STATE_BASE/$RUN
  WORK=$STATE/work
  mkdir -p "$STATE/tmp" "$STATE/networks" "$WORK" || return 1
  cat >"$STATE/containers.conf" <<EOF
[containers]
# podman's default rlimits cannot be set here (no CAP_SYS_RESOURCE, hard limit 20000)
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
tmp_dir = "$STATE/tmp"
events_logger = "file"
[network]
network_config_dir = "$STATE/networks"
EOF
  cat >"$STATE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$STATE/root"
runroot = "$STATE/run"
EOF
  export CONTAINERS_CONF=$STATE/containers.conf CONTAINERS_STORAGE_CONF=$STATE/storage.conf
}

podman_cleanup() {
  [ -n "${STATE:-}" ] || return 0
  if [ -n "${KEEP:-}" ]; then
    echo "podman: kept $STATE (CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF)"
    return
  fi
  podman rm -a -f >/dev/null 2>&1 || true
  podman pod rm -a -f >/dev/null 2>&1 || true
  podman volume rm -a -f >/dev/null 2>&1 || true
  podman rmi -a -f >/dev/null 2>&1 || true
  # anything still mounted under the state (overlay, shm) goes before the files do
  awk -v s="$STATE/" 'index($2, s) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$STATE"
  rmdir "$STATE_BASE" 2>/dev/null || true
}

podman_images() {
  PODMAN_WHY=
  local archive=$DIST/image.oci.tar newer= a t f loaded id tag
  for a in x86_64 aarch64; do
    for t in copier waitfor entrypoint; do
      f=$DIST/$a/$t
      [ -f "$f" ] || { PODMAN_WHY="$f missing: run make build first"; return 1; }
      [ -f "$archive" ] && [ "$f" -nt "$archive" ] && newer=$f
    done
  done
  if [ ! -f "$archive" ] || [ -n "$newer" ]; then
    echo "podman: ${newer:+$newer is newer than $archive: }make image" >&2
    # make image runs scripts/image on a storage of its own, not this run's
    (unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF; make --no-print-directory image) ||
      { PODMAN_WHY="make image failed"; return 1; }
  fi
  loaded=$(podman load -i "$archive" 2>&1) || { PODMAN_WHY="cannot load $archive: $loaded"; return 1; }
  id=$(sed -n 's/^Loaded image[^:]*: *//p' <<<"$loaded" | tail -n 1)
  [ -n "$id" ] || { PODMAN_WHY="cannot load $archive: $loaded"; return 1; }
  for tag in "$TOOLS_IMAGE" ${TOOLS_TAGS:-}; do
    podman tag "$id" "$tag" || { PODMAN_WHY="cannot tag the tools' image $tag"; return 1; }
  done

  # The step image: FROM scratch, a static busybox and its applet links.
  local ctx=$WORK/steps-image applet out
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  cp "$BUSYBOX" "$ctx/rootfs/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$ctx/rootfs/bin/$applet"
  done
  cat >"$ctx/Containerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
EOF
  out=$(podman build --quiet --network none -t "$STEPS_IMAGE" "$ctx" 2>&1) ||
    { PODMAN_WHY="cannot build the step image: $out"; return 1; }
}
