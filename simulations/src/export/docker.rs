//! The container image: `parley` built from the repository in a Rust image, then copied into a slim
//! Debian with what the exported deployments run besides it.

/// The Dockerfile. It is built with the repository as the context (`docker build -f <export>/Dockerfile
/// -t parley:sim <repository>`), so the export directory can live anywhere.
pub(super) fn dockerfile() -> String {
    r#"# syntax=docker/dockerfile:1
# The `parley` binary in a container, for exported simulation scenarios (`parley simulate export`).
# Build it with the parley repository as the context:
#   docker build -f <this directory>/Dockerfile -t parley:sim <repository>
# (Dockerfile.dockerignore beside this file keeps build outputs and run data out of the context.)

# Stage 1: build the release binary. The cache mounts keep the registry and target directory between
# builds, so a rebuild after a change compiles only what changed.
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --bin parley \
 && cp target/release/parley /usr/local/bin/parley

# Stage 2: what runs. iproute2 gives `tc`, with which netem.sh shapes each container's links;
# curl answers the health checks; ca-certificates lets parley reach TLS servers (STUN/TURN, webhooks).
# setpriv (util-linux, part of the base image) drops root after the links are shaped.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# parley runs as this unprivileged user; /data (a node's store) and /results (the driver's outputs)
# are its own, so volumes mounted there start out writable by it.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin parley \
 && mkdir -p /data /results \
 && chown parley:parley /data /results
COPY --from=builder /usr/local/bin/parley /usr/local/bin/parley
USER parley
WORKDIR /data
# 8080/tcp: a node's REST + WebSocket API; 4433/udp: a node's federation (QUIC); 4001/udp: a
# bootstrap node's QUIC.
EXPOSE 8080/tcp 4433/udp 4001/udp
ENTRYPOINT ["parley"]
"#
    .to_owned()
}

/// The ignore file for that build. Named after the Dockerfile, BuildKit reads it in place of the
/// context's own `.dockerignore`, so it applies although the context is the repository and not this
/// directory.
pub(super) fn dockerignore() -> String {
    r#"# What the image build does not need from the repository: build outputs (large, and rebuilt inside),
# run data and outputs of simulations, and version control.
target/
data/
runs/
deploy/
.git/
"#
    .to_owned()
}
