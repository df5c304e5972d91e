# govsync container image: `docker build -t govsync .`
#
# Stage 1 builds the release binary with the pinned toolchain (rust-version in
# Cargo.toml), without the default feature `mock` (no mock servers, no demo in the
# image). The cargo registry and the target directory are cache mounts: they stay
# outside the image, and a second build compiles only what changed. Stage 2 is
# distroless: the binary, the default config, CA roots and glibc, running as a
# non-root user on a read-only root filesystem.
#
# The two bases are build arguments whose defaults are the real ones; where no
# image registry can be reached, deploy/container/build-local.sh makes equivalent
# bases from Debian packages and passes them here (deploy/README.md).
ARG BUILDER_IMAGE=docker.io/library/rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# checkov:skip=CKV_DOCKER_7: the base is a build argument, whose default above pins rust:1.95.0-slim-bookworm
FROM ${BUILDER_IMAGE} AS builder
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY config ./config
# The benches are declared in Cargo.toml; they are not built, but must exist.
# The binary is copied out of the cache mount into /out, the runtime's tree; the
# state directory is made there too, owned by the runtime's user (the runtime has
# no shell to make it), so that an empty volume mounted on it is writable.
RUN --mount=type=cache,id=govsync-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=govsync-target,target=/build/target \
    mkdir -p benches \
    && echo 'fn main() {}' > benches/scale.rs \
    && echo 'fn main() {}' > benches/retries.rs \
    && cargo build --locked --release --no-default-features \
    && mkdir -p /out/usr/local/bin /out/var/lib/govsync \
    && cp target/release/govsync /out/usr/local/bin/govsync \
    && strip /out/usr/local/bin/govsync

# distroless/cc: glibc, libgcc, CA certificates and a `nonroot` user (65532), no shell.
FROM ${RUNTIME_IMAGE}
COPY --from=builder /out/usr/local/bin/govsync /usr/local/bin/govsync
COPY --from=builder /build/config /etc/govsync
COPY --from=builder --chown=65532:65532 /out/var/lib/govsync /var/lib/govsync
# The state store lives on a mounted volume; the root filesystem can stay read-only.
# A deployment on PostgreSQL sets GOVSYNC_STATE_URL=postgres://… instead.
ENV GOVSYNC_CONFIG=/etc/govsync/govsync.toml \
    GOVSYNC_STATE_URL=sqlite:///var/lib/govsync/state.db \
    GOVSYNC_SERVER_LISTEN=0.0.0.0:9464 \
    GOVSYNC_LOG_FORMAT=json
VOLUME ["/var/lib/govsync"]
USER 65532:65532
# /healthz, /readyz and /metrics.
EXPOSE 9464
# No shell or curl in the image: govsync asks its own /healthz (on the port
# GOVSYNC_SERVER_LISTEN names).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["govsync", "healthcheck"]
ENTRYPOINT ["govsync"]
CMD ["run"]
