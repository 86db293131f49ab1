# syntax=docker/dockerfile:1
# reitunnel, the agent, on Debian bookworm: runs next to private services (a
# Kubernetes pod, a container host) and exposes them through a reitunneld.
#
#   docker build -f deploy/docker/reitunnel.Dockerfile -t REGISTRY/reitunnel:0.1.0 .
#   docker run --rm -e REITUNNEL_TOKEN=... REGISTRY/reitunnel:0.1.0 \
#       --server=tunnel.example.com:7000 --tls --tunnel=web=20080:web:80
#
# The context is the repository root; reitunnel.Dockerfile.dockerignore keeps
# build trees and .git out of it. The build stage is byte-for-byte the one of
# reitunneld.Dockerfile and hooks.Dockerfile (checked by tests/deploy), so the
# images share one cached compile.

# ---- build ----------------------------------------------------------------
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DREITUNNEL_BUILD_TESTS=OFF \
 && cmake --build build -j "$(nproc)"

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# Only the shared libraries the agent loads (ldd build/bin/reitunnel, each
# library resolved to its package with dpkg -S; tests/deploy re-checks this
# list against the binary CI builds). libc6, libgcc-s1 and libstdc++6 come
# with the base image; ca-certificates verifies the server's certificate
# (--tls without --tls-ca uses the system roots).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libhttp-parser2.9 \
      libprotobuf32 \
      libssl3 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/reitunnel /usr/local/bin/
# 65532: the conventional "nonroot" id. The agent listens on nothing and
# writes nothing (the Kubernetes manifest mounts the root filesystem
# read-only).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/reitunnel"]
CMD ["--config=/etc/reitunnel/agent.yaml"]
