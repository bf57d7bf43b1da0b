# One image for every component; its command picks which: webhook | reconciler | agent.
#   docker build -t live-migration .   &&   docker run live-migration webhook --help
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY api api
COPY cli cli
COPY common common
COPY kube kube
COPY cmd cmd
COPY webhook webhook
COPY reconciler reconciler
COPY agent agent
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# virsh and virt-admin (both in libvirt-clients), for the agent's libvirt driver: it talks to the
# node's libvirtd through its socket, and reloads libvirtd's TLS listener after a certificate
# rotation (virt-admin server-update-tls) through the admin socket beside it.
RUN apt-get update && apt-get install -y --no-install-recommends libvirt-clients \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# V8 otherwise grows its heap far beyond what is live after a burst of watch events (measured: RSS
# 320 MiB for 88 MiB of live heap with 10,000 VMIs cached). Raise the cap for clusters with more
# than ~20,000 VMIs; `npm run bench -- scale` measures it.
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=192"
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
# The distroless "nonroot" uid: no shell login, no write access to the image.
USER 65532:65532
ENTRYPOINT ["node", "dist/cmd/live-migration.js"]
CMD ["webhook"]
