# govsync container image: `docker build -t govsync .`
#
# Stage 1 builds the release binary with the pinned toolchain (rust-version in
# Cargo.toml), without the default feature `mock` (no mock servers, no demo in the
# image); the dependencies are compiled in their own layer, so a change to the
# source rebuilds only govsync's crates. Stage 2 is distroless: the binary, the default config,
# CA roots and glibc, running as a non-root user on a read-only root filesystem.

FROM docker.io/library/rust:1.95.0-slim-bookworm AS builder
WORKDIR /build
# Dependencies first: the workspace's manifests and lockfile with empty targets
# (the benches are declared in Cargo.toml, so they get empty files too).
COPY Cargo.toml Cargo.lock ./
COPY crates/core/Cargo.toml crates/core/
COPY crates/mock/Cargo.toml crates/mock/
RUN mkdir -p src benches crates/core/src crates/mock/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs crates/core/src/lib.rs crates/mock/src/lib.rs \
    && echo 'fn main() {}' > benches/scale.rs \
    && echo 'fn main() {}' > benches/retries.rs \
    && cargo build --locked --release --no-default-features \
    && rm -rf src crates/core/src crates/mock/src
# Then govsync itself (the built-in mapping table is compiled in from config/).
COPY src ./src
COPY crates ./crates
COPY config ./config
RUN touch src/main.rs src/lib.rs crates/core/src/lib.rs \
    && cargo build --locked --release --no-default-features \
    && strip target/release/govsync

# distroless/cc: glibc, libgcc, CA certificates and a `nonroot` user (65532), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /build/target/release/govsync /usr/local/bin/govsync
COPY --from=builder /build/config /etc/govsync
# The Amazon RDS CA bundle, for a PostgreSQL state store on RDS or Aurora with
# sslmode=verify-full&sslrootcert=/etc/govsync/rds-global-bundle.pem.
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/govsync/rds-global-bundle.pem
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
# No shell or curl in the image: govsync asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["govsync", "healthcheck"]
ENTRYPOINT ["govsync"]
CMD ["run"]
