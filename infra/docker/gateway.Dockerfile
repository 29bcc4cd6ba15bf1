# Hive Gateway serving the committed supergraph (gateway/supergraph.graphql).
FROM node:24-slim

ENV NODE_ENV=production
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY gateway/package.json gateway/package-lock.json ./gateway/
# npm's postinstall applies these (patch-package): without them it would install Hive unpatched.
COPY gateway/patches ./gateway/patches
RUN npm ci --prefix gateway --no-audit --no-fund

COPY gateway ./gateway
USER node

EXPOSE 4000
CMD ["bash", "gateway/start.sh"]
