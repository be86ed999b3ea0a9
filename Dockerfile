# syntax=docker/dockerfile:1
# Parley in a container: `docker build -t parley .`, then `docker run -p 8080:8080 -p 4433:4433/udp -p 4433:4433/tcp parley`.
# deploy/compose.yaml runs a small federation from it.

# Build stage. The tag pins the toolchain the project is built and tested with (edition 2024), and
# bookworm matches the runtime below, so the binary links against the same glibc it runs on.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the crate registry and the target directory between builds: copying stub manifests
# for seven workspace members (cargo-chef style) would be brittle, and a rebuild after a source change
# still compiles only what changed. The target directory is a mount, so the binary is copied out in the
# same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin parley \
 && cp target/release/parley /usr/local/bin/parley

# Runtime stage: slim Debian rather than distroless, because deploy/compose.yaml needs a shell to wait
# for the bootstrap node's address before starting a node.
FROM debian:bookworm-slim
# ca-certificates: the node reaches TLS servers (webhooks, STUN/TURN). Nothing else is added.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid, so a volume or bind mount can be chowned for it from outside the image.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/parley --no-create-home \
        --shell /usr/sbin/nologin parley \
 && install -d -o parley -g parley -m 0700 /var/lib/parley
COPY --from=build /usr/local/bin/parley /usr/local/bin/parley
USER parley
WORKDIR /var/lib/parley
# A new named volume copies this directory's owner, so the store is writable by parley from the start.
VOLUME ["/var/lib/parley"]
# `parley admin ...` run with `docker exec` then finds the node's data dir (and its operator token).
ENV PARLEY_DATA_DIR=/var/lib/parley
# 8080: REST + WebSocket API; 4433/udp and 4433/tcp: federation (QUIC, and TCP where UDP is blocked).
EXPOSE 8080/tcp 4433/udp 4433/tcp
# No curl in the image: bash (already in debian-slim) opens the TCP connection itself, and only a
# `200` status line passes, so a store that stops answering (503 UNHEALTHY) marks the container
# unhealthy. This adds no package, no extra attack surface and no second HTTP client to patch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q '^HTTP/1.1 200 '"]
ENTRYPOINT ["parley"]
# 0.0.0.0 so the published port reaches it; registration by token, since the API is then public
# (`docker exec <container> parley admin registration-token create` hands one out).
CMD ["node", "--http", "0.0.0.0:8080", "--p2p", "/ip4/0.0.0.0/udp/4433/quic-v1,/ip4/0.0.0.0/tcp/4433", "--data-dir", "/var/lib/parley", "--registration", "token"]
