// The benchmark's baseline: an express HTTPS server that reads the body like the webhook does and
// answers a fixed AdmissionReview without deciding anything. Run as its own process.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import express from 'express';

const [certFile, keyFile, port] = process.argv.slice(2);
if (!certFile || !keyFile || !port) throw new Error('usage: noop-server.ts <cert> <key> <port>');
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/readyz', (_req, res) => {
  res.send('ok');
});
app.post('/noop', express.raw({ type: 'application/json', limit: 3 * 1024 * 1024 }), (_req, res) => {
  res.json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'noop', allowed: true } });
});
const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, app);
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
