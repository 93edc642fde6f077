# syntax=docker/dockerfile:1
#
# One image, both services:
#
#   docker build -t warden .
#   docker run --rm -p 3000:3000 warden                       # policy-service (the default)
#   docker run --rm -p 4000:4000 -e ... warden executor-service
#
# docker-compose.yml, the Helm chart and the kustomize base choose the command. The
# Postgres migrations are compiled into executor-service (sqlx::migrate!), and TLS is
# rustls, so the runtime needs neither the migrations directory nor OpenSSL.
# scripts/check-deploy checks the non-root USER, the EXPOSEd ports and the built packages.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# Only what the build reads; crates/ holds every workspace member, which cargo needs to
# load the workspace even when building two packages.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY migrations migrations
# target/ lives in a cache mount, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p policy-service -p executor-service \
 && install -D -m 0755 -t /out target/release/policy-service target/release/executor-service

# debian-slim rather than distroless: compose healthchecks run curl inside the container.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 warden \
 && useradd --uid 65532 --gid 65532 --home-dir /home/warden --create-home \
      --shell /usr/sbin/nologin warden
COPY --from=builder /out/ /usr/local/bin/
# The default policy; compose mounts ./policies over this directory, Kubernetes a ConfigMap.
COPY policies/default.yaml /etc/warden/policies/default.yaml
ENV POLICY_FILE=/etc/warden/policies/default.yaml \
    POLICY_BIND=0.0.0.0:3000 \
    EXECUTOR_BIND=0.0.0.0:4000
# No .env here: settings come from the environment (compose env_file, Kubernetes env).
WORKDIR /home/warden
USER 65532:65532
EXPOSE 3000 4000
CMD ["policy-service"]
