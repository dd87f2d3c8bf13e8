# The broker image used by manifests/. Build: docker build -t ghcr.io/logbroker/broker:0.1.0 .
# Only the product goes in: .dockerignore keeps bench/, k6/, tests and test-support out of the build context, so the
# npm workspace bench/ is absent here and `npm ci` installs none of its dependencies (hdr-histogram-js, nats).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# tsconfig.build.json compiles the product folders only (no tests, no test-support, no bench).
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production BROKER_DATA_DIR=/var/lib/broker
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
COPY package.json ./
USER 1000
EXPOSE 50051 9464
# --min-semi-space-size=16: a 16 MB young generation from the start (README, "GC").
ENTRYPOINT ["node", "--min-semi-space-size=16", "dist/api/cli.js"]
CMD ["serve"]
