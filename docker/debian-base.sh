#!/usr/bin/env bash
# A base image for docker/Dockerfile on a host that reaches no image registry, only a
# Debian mirror: debootstrap bookworm (Python 3.11) from the mirror this host's apt uses
# and import it into podman. Prints the image name, for --build-arg PYTHON_IMAGE=...
#   Usage: docker/debian-base.sh [IMAGE]   (default localhost/nexus-base:bookworm)
# The root filesystem is cached as a tarball under $NEXUS_CACHE_DIR (/var/cache/nexus-wyoming)
# and the image is tagged with a key of its inputs, so an unchanged rerun does nothing.
set -euo pipefail
image="${1:-localhost/nexus-base:bookworm}"
suite=bookworm
packages=python3,python3-venv,ca-certificates
# shellcheck disable=SC2016  # $(REPO_URI) is apt's format field, not a shell expansion
mirror="${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' "Codename: $suite" 'Label: Debian' | head -n 1)}"
mirror="${mirror:-http://deb.debian.org/debian/}"
key="$(printf '%s\n' "$suite" "$mirror" "$packages" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
cache="${NEXUS_CACHE_DIR:-/var/cache/nexus-wyoming}"
tarball="$cache/debian-$suite-$key.tar"
keyed="${image%:*}:$suite-$key"

if ! podman image exists "$keyed"; then
  if [ ! -f "$tarball" ]; then
    mkdir -p "$cache"
    rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs" "$tarball.part"' EXIT
    echo "debootstrap $suite from $mirror (about a minute)" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
      { cat "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
    rm -f "$rootfs.log"
    # What slim images leave out: package caches and lists (apt-get update refills them), docs.
    rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
  fi
  podman import --change 'CMD ["/bin/bash"]' --change "LABEL nexus.base-key=$key" "$tarball" "$keyed" >/dev/null
fi
podman tag "$keyed" "$image"
echo "$image"
