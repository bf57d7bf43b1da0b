// Free loopback ports for servers the harness starts. Taken below Linux's ephemeral range
// (32768–60999 by default): a port the kernel hands out for `listen(0)` is also one it hands to the
// next outgoing connection, so between our check and the server's bind a kubectl or watch
// connection could take it (seen as EADDRINUSE in CI). Below the range only listeners compete.
import { createServer } from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(LOW + Math.floor(Math.random() * (HIGH - LOW)));
    if (port !== undefined) return port;
  }
  const any = await tryListen(0);
  if (any === undefined) throw new Error('no free loopback port');
  return any;
}
