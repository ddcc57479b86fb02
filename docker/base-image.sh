#!/bin/sh
# A local Python base image for machines that reach Debian's mirror but no image registry:
# debootstrap Debian bookworm with Python 3.11, then `docker import`. Prints the image's tag.
#
#   docker/base-image.sh                # -> paper-digest-base:<key>
#   docker build -f docker/Dockerfile --build-arg PYTHON_IMAGE=paper-digest-base:<key> .
#
# The image and the root filesystem's tarball are cached, keyed by the package list: the tarball
# under BASE_IMAGE_CACHE (/var/cache/paper-digest-containers), so a restarted engine re-imports in
# seconds instead of re-running debootstrap (minutes). The mirror is the one apt already uses
# (MIRROR overrides it). Needs root (debootstrap).
set -eu

suite=bookworm
packages="python3,python3-venv,python-is-python3,ca-certificates"
cache="${BASE_IMAGE_CACHE:-/var/cache/paper-digest-containers}"
docker="${DOCKER:-docker}"
key="$(printf '%s %s\n' "$suite" "$packages" | sha256sum | cut -c1-12)"
tag="paper-digest-base:$key"

if "$docker" image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi

mirror="${MIRROR:-}"
if [ -z "$mirror" ]; then
    # The first Debian mirror of apt's own sources (deb822 `URIs:` or one-line `deb URL suite`).
    mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')"
fi
if [ -z "$mirror" ]; then
    mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}')"
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in apt's sources; set MIRROR" >&2; exit 1; }

mkdir -p "$cache"
tarball="$cache/base-$key.tar"
if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    root="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$root"' EXIT
    echo "debootstrap $suite from $mirror into $root" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
    # No apt lists or caches in the image: the Dockerfile installs nothing with apt.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
fi
"$docker" import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    "$tarball" "$tag" >&2
echo "$tag"
