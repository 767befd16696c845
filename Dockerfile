# syntax=docker/dockerfile:1
# Multi-stage build: compile in the official Rust image, run in distroless (no shell, non-root,
# read-only root filesystem friendly).
#
#   docker build -t github-stats-exporter .                       # the published way
#
# Every base image is a build argument, so that a machine without a registry can use local
# stand-ins (scripts/container-test does: a Debian rootfs from mmdebstrap as the runtime base, and
# BUILD_FROM=prebuilt to copy a binary built on the host instead of compiling here):
#
#   buildah bud --build-arg RUNTIME_IMAGE=localhost/runtime-base --build-arg BUILD_FROM=prebuilt .
ARG BUILD_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
# source: compile in BUILD_IMAGE; prebuilt: take target/release/github-stats-exporter as built.
ARG BUILD_FROM=source

FROM ${BUILD_IMAGE} AS build-source
WORKDIR /src
# Manifests first so that dependency builds are cached across source changes.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY actors/Cargo.toml actors/Cargo.toml
COPY fake-github/Cargo.toml fake-github/Cargo.toml
RUN mkdir -p src actors/src fake-github/src benches \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs actors/src/lib.rs fake-github/src/lib.rs \
 && echo 'fn main() {}' > fake-github/src/main.rs \
 && for b in $(grep -A1 '^\[\[bench\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"$/\1/p'); do echo 'fn main() {}' > benches/$b.rs; done \
 && cargo build --release --locked -p github-stats-exporter
COPY . .
RUN touch src/main.rs src/lib.rs actors/src/lib.rs fake-github/src/lib.rs \
 && cargo build --release --locked -p github-stats-exporter \
 && install -D target/release/github-stats-exporter /out/github-stats-exporter

FROM scratch AS build-prebuilt
COPY target/release/github-stats-exporter /out/github-stats-exporter

FROM build-${BUILD_FROM} AS build

# `--target fake-github`: the fake GitHub of fake-github/ (deploy/compose's credential-free demo
# data source). Not part of the exporter image; built only when targeted.
FROM ${BUILD_IMAGE} AS fake-github-build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p fake-github \
 && install -D target/release/fake-github /out/fake-github

FROM ${RUNTIME_IMAGE} AS fake-github
COPY --from=fake-github-build /out/fake-github /usr/local/bin/fake-github
USER 65532:65532
EXPOSE 9400
ENTRYPOINT ["/usr/local/bin/fake-github", "--listen", "0.0.0.0:9400"]

FROM ${RUNTIME_IMAGE} AS exporter
COPY --from=build /out/github-stats-exporter /usr/local/bin/github-stats-exporter
COPY config/default.toml /etc/github-stats-exporter/default.toml
# distroless's "nonroot" user, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# The listen address is set here so that the server and --healthcheck agree whatever file
# configuration is mounted (the environment wins over the file).
ENV GITHUB_STATS_SERVER__LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
# The binary checks its own /readyz: no curl or wget in the image. It reads only the listen
# address, so it works with configuration from the environment or from a mounted file.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/github-stats-exporter", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/github-stats-exporter"]
