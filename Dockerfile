# Likeness: one image for every role (`all`, `serve`, `worker`, `migrate`, and the CLI front-end).
#
#   docker build -t likeness .
#   docker run --rm -e DATABASE_URL=… -e REDIS_URL=… -v likeness-data:/data -p 8080:8080 likeness   # all-in-one
#   docker run --rm -e DATABASE_URL=… -e REDIS_URL=… -v likeness-data:/data likeness worker        # a GPU worker
#
# Debian (glibc) rather than Alpine: sharp's prebuilt libvips packages for linux-x64 and
# linux-arm64 (glibc) come in through package-lock.json, so no system packages are needed.
# Where a registry cannot be reached, NODE_IMAGE may name a local stand-in (test/container/).
# `npm run test:container` builds this image and runs every role of it.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- base: the manifests ----
# .npmrc: onnxruntime-node fetches no CUDA files at install (the CPU runtime ships in the
# package), and no peer dependency is installed (ESRGAN's package names all of TensorFlow.js as
# one, which Likeness does not run: its weights are converted to ONNX).
FROM ${NODE_IMAGE} AS base
WORKDIR /app
COPY package.json package-lock.json .npmrc ./

# ---- build: every dependency, then TypeScript to dist/ ----
FROM base AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Source maps stay behind: they point to TypeScript the image does not carry.
RUN npm run build && find dist -name '*.map' -delete

# ---- prod-deps: production dependencies only (sharp's prebuilt libvips included), trimmed ----
# Only what runs is kept:
# - onnxruntime-node carries binaries for every platform (~290 MB): only this one's;
# - @vladmandic/human is a whole face-analysis library: only its entry file (resolved, never
#   loaded) and the two face models Likeness converts;
# - @upscalerjs/esrgan-slim: only the 4x model;
# - source maps, type declarations and docs of every package.
FROM base AS prod-deps
RUN npm ci --omit=dev --no-audit --no-fund \
 && keep="linux/$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d | grep -v "/$keep\$" | xargs rm -rf \
 && (cd node_modules/@vladmandic/human \
     && find models -type f ! -name 'blazeface.*' ! -name 'faceres.*' -delete \
     && find dist -type f ! -name human.node.js -delete \
     && rm -rf demo assets src types) \
 && (cd node_modules/@upscalerjs/esrgan-slim && find models -mindepth 1 -maxdepth 1 ! -name x4 -exec rm -rf {} + && rm -rf assets dist/umd) \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -iname '*.md' \) -delete \
 && npm cache clean --force

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
# The public listener (signed downloads, /healthz, the Telegram webhook) is HTTP_PORT, 8080 by default;
# the operations listener (/readyz, /metrics, /admin) is OPS_PORT, 8081, bound to OPS_HOST (127.0.0.1).
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["all"]
