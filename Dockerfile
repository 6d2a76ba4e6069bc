# One image for every stickless process: sessiond (default), the proxy and the demo cart app.
# Node 24 runs the TypeScript sources directly (type stripping); only production dependencies.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# npm ci runs the preinstall hook (the Node version guard) first.
COPY scripts/check-node.cjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY proto ./proto
COPY server ./server
COPY client ./client
COPY proxy ./proxy
COPY demo ./demo
COPY cli ./cli
# The `stickless` command on PATH, for `docker compose exec proxy stickless proxy routes`: the
# compose proxy's admin API listens on its container's loopback only.
RUN printf '#!/bin/sh\nexec node /app/cli/main.ts "$@"\n' >/usr/local/bin/stickless && chmod 755 /usr/local/bin/stickless
USER node
EXPOSE 50051 8080 9901 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["node", "server/healthcheck.ts"]
CMD ["node", "server/main.ts"]
