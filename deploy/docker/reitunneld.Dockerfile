# syntax=docker/dockerfile:1
# reitunneld + reitunnelctl on Debian bookworm.
#
#   docker build -f deploy/docker/reitunneld.Dockerfile -t REGISTRY/reitunneld:0.1.0 .
#
# The context is the repository root; reitunneld.Dockerfile.dockerignore (next
# to this file, read by BuildKit) keeps build trees and .git out of it.
#
# The build stage is identical in deploy/docker/hooks.Dockerfile (checked by
# tests/deploy), so building both images compiles the project once: the second
# build reuses the cached stage. It mirrors CI: scripts/install-deps.sh installs
# the toolchain and libraries, then the same CMake project is built (Release,
# no tests).

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
# Only the shared libraries the binaries load (ldd build/bin/reitunneld, each
# library resolved to its package with dpkg -S; tests/deploy re-checks this
# list against the binaries CI builds). libc6, libgcc-s1 and libstdc++6 come
# with the base image; ca-certificates verifies hook services over TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libc-ares2 \
      libcivetweb1 \
      libgrpc++1.51 \
      libgrpc29 \
      libhttp-parser2.9 \
      libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 \
      libprotobuf32 \
      libre2-9 \
      libssl3 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/reitunneld /src/build/bin/reitunnelctl /usr/local/bin/
# 65532: the conventional "nonroot" id; no home, no shell login, no writes
# needed (the Kubernetes manifests also mount the root filesystem read-only).
USER 65532:65532
# agent listener, admin gRPC (health, reflection, admin API), Prometheus metrics
EXPOSE 7000 7001 9100
ENTRYPOINT ["/usr/local/bin/reitunneld"]
CMD ["--config=/etc/reitunnel/server.yaml"]
