# syntax=docker/dockerfile:1
#
# One Dockerfile for every service: `docker build --build-arg SERVICE=orders --build-arg PORT=8081 .`
#
# Why one and not one per service: the seven images differ only in which workspace package they
# ship and its port. They share the chassis, the lockfile, the Node version and every step below,
# so one file keeps them identical where they must be (user, health check, signals, entry point)
# and a change to the recipe cannot reach six services and miss the seventh. docker-compose.yml,
# the CI workflow and k8s/ all build from it with SERVICE and PORT as build arguments.
#
# Node 24 LTS on Debian slim (glibc: the prebuilt binaries of the dependencies just work).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: the whole workspace, dev dependencies included --------------------------------------
FROM ${NODE_IMAGE} AS build
# the same pnpm as packageManager in package.json
RUN npm install --global pnpm@10.34.8
WORKDIR /repo
# the lockfile alone first: this layer (every package from the registry) is cached until it changes
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<services/ directory name>" >&2; exit 1; }
RUN pnpm exec turbo run build --filter="@simplebank/${SERVICE}" --output-logs=errors-only
# Production dependencies only, the workspace packages (chassis, contracts) copied in as real
# directories: /bundle is self-contained. Offline: only what the frozen install above put in the
# store, never a fresh resolution (not --legacy: it re-resolves from pnpm's metadata cache, empty on
# a new machine). deploy/test/image.test.ts runs this same command with an empty cache and starts
# a service from its output with the ENTRYPOINT below.
RUN pnpm --filter "@simplebank/${SERVICE}" deploy --prod --offline /bundle

# --- runtime: Node, the bundle, nothing else ---------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ARG PORT
ARG VERSION=0.1.0
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="simplebank-${SERVICE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.source="https://github.com/simplebank/simplebank"
# GIT_COMMIT is what /version and `--version` report; HOST: reachable from other containers.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=${PORT} \
    GIT_COMMIT=${GIT_COMMIT} \
    SERVICE=${SERVICE}
WORKDIR /app
# owned by root, readable by all: the service cannot change its own code (read-only root in k8s)
COPY --from=build /bundle /app
# the `node` user of the official image, by number so Kubernetes can check runAsNonRoot
USER 1000:1000
EXPOSE ${PORT}
# no curl in slim images: Node's own fetch. /health/live: the process answers (readiness is
# the orchestrator's business: compose and k8s ask /health/ready).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (no shell, no npm in between); the chassis
# handles it (runService: stop taking work, drain, close, exit). The same command as the
# services' `start` script and `pnpm start`; arguments after the image name go to the service:
# `docker run simplebank/orders --version`, `--help`, `init`.
ENTRYPOINT ["node", "--enable-source-maps", "--import", "@simplebank/chassis/telemetry", "dist/server.js"]
STOPSIGNAL SIGTERM
