# syntax=docker/dockerfile:1
# The example hook services (hookd-sdk/examples) on Debian bookworm.
#
#   docker build -f deploy/docker/hooks.Dockerfile -t REGISTRY/reitunnel-hooks:0.1.0 .
#   docker build -f deploy/docker/hooks.Dockerfile --target python-hook \
#       -t REGISTRY/reitunnel-python-hook:0.1.0 .
#
# One image holds every C++ example: the container's command picks one
# (auth-hook, quota-hook, audit-hook, minimal-hook), each taking
# --listen=HOST:PORT and serving grpc.health.v1 next to the hook API.
# The build stage is byte-for-byte the one of reitunneld.Dockerfile, so the
# second image reuses the first one's compile (checked by tests/deploy).

# ---- build ----------------------------------------------------------------
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DREITUNNEL_BUILD_TESTS=OFF \
 && cmake --build build -j "$(nproc)"

# ---- python-hook (optional target) ------------------------------------------
# The Python example with its generated stubs, on Debian's python3-grpcio.
FROM debian:bookworm-slim AS python-hook
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-grpcio python3-protobuf \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/python /opt/reitunnel/python
# The root filesystem is read-only in the manifests: no .pyc writes.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 7100
ENTRYPOINT ["/usr/bin/python3", "/opt/reitunnel/python/hook_service.py"]
CMD ["--listen=0.0.0.0:7100"]

# ---- hooks (default target) -------------------------------------------------
FROM debian:bookworm-slim AS hooks
# Only the shared libraries the hook binaries load (ldd + dpkg -S; re-checked
# by tests/deploy). libc6, libgcc-s1 and libstdc++6 come with the base image;
# ca-certificates for hooks that call out over TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libc-ares2 \
      libgrpc++1.51 \
      libgrpc29 \
      libprotobuf32 \
      libre2-9 \
      libssl3 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/auth-hook /src/build/bin/quota-hook /src/build/bin/audit-hook \
     /src/build/bin/minimal-hook /usr/local/bin/
USER 65532:65532
EXPOSE 7100
# Kubernetes sets `command` to the hook it runs; plain `docker run` gets the
# audit hook, which allows everything and logs every event as JSON lines.
ENTRYPOINT ["/usr/local/bin/audit-hook"]
CMD ["--listen=0.0.0.0:7100"]
