# banstream's image for the fleet roles of docker-compose.yml (one image, the role is the command).
FROM node:20-bookworm
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends nftables conntrack iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/banstream
COPY package.json package-lock.json tsconfig.json ./
COPY src src
COPY streams streams
COPY sinks sinks
COPY schemas schemas
COPY config config
COPY bench bench
COPY test test
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENTRYPOINT ["node", "/opt/banstream/dist/bin/banstream.js"]
