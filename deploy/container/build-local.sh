#!/usr/bin/env bash
# Builds govsync's image with podman where no image registry can be reached.
#
# The Dockerfile's two bases come from registries (the Rust image and distroless
# `cc`); this script makes equivalent bases from Debian packages instead, then
# builds the real Dockerfile with them:
#   builder  Debian bookworm (debootstrap, minbase) with gcc, and the Rust
#            toolchain installed on this machine copied in (no toolchain can be
#            downloaded here); it must be the version rust-version in Cargo.toml names
#   runtime  what distroless `cc` holds: the files of Debian's base-files, netbase,
#            tzdata, libc6, libgcc-s1, libgomp1, libstdc++6 and libssl3 packages, the
#            CA roots, and the users root and nonroot (65532); no shell, no package
#            manager
# The bases are made once and kept (their tag names the toolchain; GOVSYNC_REBASE=1
# makes them again). The build keeps the cargo registry and the target directory
# in cache mounts outside the image, so a second build compiles only what changed.
#
# Usage: deploy/container/build-local.sh [TAG]   (default govsync:test)
# Environment: GOVSYNC_DEBIAN_MIRROR (default: the mirror apt uses here).
# Needs root, podman, runc and debootstrap (apt-get install podman runc debootstrap).
set -euo pipefail
cd "$(dirname "$0")/../.."

tag="${1:-govsync:test}"
# The flags that work on these machines (hybrid cgroups; see deploy/README.md).
podman=(podman --runtime runc --cgroup-manager=cgroupfs)

for program in podman runc debootstrap; do
  command -v "$program" >/dev/null 2>&1 || {
    echo "build-local.sh: $program is missing (apt-get install podman runc debootstrap)" >&2
    exit 1
  }
done
[ "$(id -u)" -eq 0 ] || { echo "build-local.sh: debootstrap and podman here need root" >&2; exit 1; }

# The toolchain: this machine's, and it must be the one Cargo.toml pins.
wanted="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
have="$(rustc --version | cut -d' ' -f2)"
case "$have" in
  "$wanted" | "$wanted".*) ;;
  *) echo "build-local.sh: Cargo.toml's rust-version is $wanted, this machine's rustc is $have" >&2; exit 1 ;;
esac
sysroot="$(rustc --print sysroot)"

mirror="${GOVSYNC_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
fi
if [ -z "$mirror" ]; then
  mirror="$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

builder="localhost/govsync-builder:$have-bookworm"
runtime="localhost/govsync-runtime:bookworm"
runtime_packages=(base-files netbase tzdata libc6 libgcc-s1 libgomp1 libstdc++6 libssl3)

if [ "${GOVSYNC_REBASE:-0}" = 1 ] || ! "${podman[@]}" image exists "$builder" \
  || ! "${podman[@]}" image exists "$runtime"; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  echo "== debootstrap bookworm from $mirror"
  includes="ca-certificates,gcc,g++,libc6-dev,$(IFS=,; echo "${runtime_packages[*]}")"
  debootstrap --variant=minbase --include="$includes" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

  echo "== runtime base $runtime"
  python3 - "$root" "$work/runtime" "${runtime_packages[@]}" <<'PY'
import os, shutil, stat, sys
root, out, packages = sys.argv[1], sys.argv[2], sys.argv[3:]
info = os.path.join(root, "var/lib/dpkg/info")

def canonical(path):
    """The path inside root with its parent's symlinks resolved (merged /usr)."""
    parent = os.path.realpath(os.path.join(root, os.path.dirname(path.lstrip("/"))))
    return os.path.relpath(os.path.join(parent, os.path.basename(path)), root)

os.makedirs(out)
for package in packages:
    names = [n for n in (f"{package}.list", f"{package}:amd64.list") if os.path.exists(os.path.join(info, n))]
    if not names:
        sys.exit(f"runtime base: package {package} is not installed in the debootstrap root")
    for line in open(os.path.join(info, names[0])):
        path = line.rstrip("\n")
        if path in ("", "/."):
            continue
        src = os.path.join(root, path.lstrip("/"))
        if not os.path.lexists(src):
            continue
        dst = os.path.join(out, canonical(path))
        if os.path.isdir(src) and not os.path.islink(src):
            os.makedirs(dst, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst):
            continue
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
# Merged /usr, as Debian 12 lays it out.
for top in ("bin", "lib", "lib64", "sbin"):
    if os.path.isdir(os.path.join(out, "usr", top)) and not os.path.lexists(os.path.join(out, top)):
        os.symlink(f"usr/{top}", os.path.join(out, top))
# CA roots (the bundle update-ca-certificates made), users, and the usual directories.
os.makedirs(os.path.join(out, "etc/ssl/certs"), exist_ok=True)
shutil.copy2(os.path.join(root, "etc/ssl/certs/ca-certificates.crt"), os.path.join(out, "etc/ssl/certs"))
with open(os.path.join(out, "etc/passwd"), "w") as f:
    f.write("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
            "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
with open(os.path.join(out, "etc/group"), "w") as f:
    f.write("root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n")
for d, mode, owner in (("tmp", 0o1777, 0), ("root", 0o700, 0), ("home/nonroot", 0o700, 65532)):
    os.makedirs(os.path.join(out, d), exist_ok=True)
    os.chmod(os.path.join(out, d), mode)
    os.chown(os.path.join(out, d), owner, owner)
for shell in ("bin/sh", "bin/bash", "bin/dash", "usr/bin/dpkg", "usr/bin/apt"):
    if os.path.lexists(os.path.join(out, shell)):
        sys.exit(f"runtime base: {shell} came in with the packages")
PY
  tar --numeric-owner -C "$work/runtime" -c . | "${podman[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
    - "$runtime" >/dev/null

  echo "== builder base $builder (rustc $have from $sysroot)"
  mkdir -p "$root/usr/local/rust/bin" "$root/usr/local/cargo"
  cp -a "$sysroot/bin/cargo" "$sysroot/bin/rustc" "$root/usr/local/rust/bin/"
  # The compiler's libraries and the standard library; not the docs (800 MB).
  cp -a "$sysroot/lib" "$root/usr/local/rust/"
  # The builder trusts what this machine trusts (cargo reaches crates.io from the
  # build, through this machine's proxy if it has one); the runtime keeps Debian's.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  tar --numeric-owner -C "$root" -c . | "${podman[@]}" import \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    - "$builder" >/dev/null
fi

echo "== podman build $tag"
# --format docker keeps HEALTHCHECK (the OCI format has none); --network host
# lets cargo reach crates.io from the build; --layers=false keeps no intermediate
# image (1.1 GB a build: the builder stage), the cache mounts make rebuilds quick.
previous="$("${podman[@]}" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
"${podman[@]}" build --format docker --network host --layers=false \
  --build-arg BUILDER_IMAGE="$builder" --build-arg RUNTIME_IMAGE="$runtime" \
  --tag "$tag" .
"${podman[@]}" image inspect --format '{{.Size}}' "$tag" \
  | awk -v tag="$tag" '{ printf "== %s: %.1f MB\n", tag, $1 / 1e6 }'
# The image this tag named before, unless a container still uses it.
if [ -n "$previous" ] && [ "$previous" != "$("${podman[@]}" image inspect --format '{{.Id}}' "$tag")" ]; then
  "${podman[@]}" rmi "$previous" >/dev/null 2>&1 || true
fi
