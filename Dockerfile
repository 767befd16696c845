# syntax=docker/dockerfile:1
# Multi-stage build: compile in the official Rust image, run in distroless (no shell, non-root).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Manifests first so that dependency builds are cached across source changes.
COPY Cargo.toml Cargo.lock ./
COPY actors/Cargo.toml actors/Cargo.toml
COPY fake-github/Cargo.toml fake-github/Cargo.toml
RUN mkdir -p src actors/src fake-github/src benches \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs actors/src/lib.rs fake-github/src/lib.rs \
 && echo 'fn main() {}' > fake-github/src/main.rs && echo 'fn main() {}' > benches/store.rs \
 && cargo build --release --locked -p github-stats-exporter
COPY . .
RUN touch src/main.rs src/lib.rs actors/src/lib.rs fake-github/src/lib.rs \
 && cargo build --release --locked -p github-stats-exporter \
 && install -D target/release/github-stats-exporter /out/github-stats-exporter

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/github-stats-exporter /usr/local/bin/github-stats-exporter
COPY config/default.toml /etc/github-stats-exporter/default.toml
USER nonroot:nonroot
EXPOSE 8080
# The binary checks its own /readyz: no curl or wget in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/github-stats-exporter", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/github-stats-exporter"]
