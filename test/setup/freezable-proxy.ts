// A loopback TCP proxy to the test API server that can freeze: while frozen, open and new
// connections stay open but carry no bytes either way — an API server that hangs, not one that fails.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface FreezableProxy {
  port: number;
  /** A KubeConfig like `base`, pointed at the proxy (the API server's certificate covers 127.0.0.1). */
  kubeConfig(base: KubeConfig): KubeConfig;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

/** Forwards `from` to `to` unless frozen; a frozen side is paused, so bytes wait in the kernel. */
function forward(from: Socket, to: Socket, frozen: () => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => {
        if (!frozen()) from.resume();
      });
    }
  });
}

export async function startFreezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const waiting: Array<() => void> = [];

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const open = (): void => {
      if (client.destroyed) return;
      const upstream = connect(target.port, target.host);
      sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(upstream);
      };
      client.on('close', drop);
      upstream.on('close', drop).on('error', drop);
      forward(client, upstream, () => frozen);
      forward(upstream, client, () => frozen);
      if (!frozen) {
        client.resume();
        upstream.resume();
      } else {
        upstream.pause();
      }
    };
    // A connection made while frozen is accepted but goes nowhere until thawed.
    if (frozen) waiting.push(open);
    else open();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    kubeConfig(base) {
      const cluster = base.getCurrentCluster();
      if (!cluster) throw new Error('no cluster in kubeconfig');
      const proxied = new KubeConfig();
      proxied.loadFromOptions({
        clusters: [{ ...cluster, server: `https://127.0.0.1:${port}` }],
        users: base.getUsers(),
        contexts: base.getContexts(),
        currentContext: base.getCurrentContext(),
      });
      return proxied;
    },
    freeze() {
      frozen = true;
      for (const socket of sockets) socket.pause();
    },
    thaw() {
      frozen = false;
      for (const socket of sockets) socket.resume();
      for (const open of waiting.splice(0)) open();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
