# Likeness: one image for every role (`all`, `serve`, `worker`, `migrate`, and the CLI front-end).
#
#   docker build -t likeness .
#   docker run --rm -e DATABASE_URL=… -e REDIS_URL=… -v likeness-data:/data -p 8080:8080 likeness   # all-in-one
#   docker run --rm -e DATABASE_URL=… -e REDIS_URL=… -v likeness-data:/data likeness worker        # a GPU worker
#
# Debian (glibc) rather than Alpine: sharp's prebuilt libvips packages for linux-x64 and
# linux-arm64 (glibc) come in through package-lock.json, so no system packages are needed.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- base: the manifests ----
# .npmrc tells onnxruntime-node not to fetch its optional CUDA files at install: the CPU runtime
# the face models use ships in the package.
FROM ${NODE_IMAGE} AS base
WORKDIR /app
COPY package.json package-lock.json .npmrc ./

# ---- build: every dependency, then TypeScript to dist/ ----
FROM base AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- prod-deps: production dependencies only (sharp's prebuilt libvips included) ----
# onnxruntime-node carries binaries for every platform (~250 MB): only this one's are kept.
FROM base AS prod-deps
RUN npm ci --omit=dev --no-audit --no-fund \
 && keep="linux/$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d | grep -v "/$keep\$" | xargs rm -rf

# ---- runtime: node, production node_modules, compiled code, migrations, sample photo ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Applied at every start (src/db/client.ts resolves them as ../../migrations from dist/db).
COPY migrations ./migrations
COPY samples ./samples
# /data belongs to `node` before it becomes a volume, so a fresh named volume starts out writable
# by it. The application files stay owned by root: the process cannot modify its own code.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# The HTTP server (health, metrics, admin, signed downloads) listens on HTTP_PORT, 8080 by default.
EXPOSE 8080
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["all"]
