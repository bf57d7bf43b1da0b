// Waits until every running reconciler and webhook of a test system decides under a given
// kubevirt-config version, as each one reports on its /metrics. A config edit in a test is followed
// by this wait instead of a sleep: what follows then runs under the new values, provably.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { CONFIG_IN_FORCE_METRIC } from '../../common/config-in-force-metric.js';
import type { LocalSystemState } from '../../hack/system/local-system.js';

function httpsText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: new Agent({ ca }), timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

interface Decider {
  name: string;
  port: number;
}

/** The resourceVersion a component names as in force, or undefined when it names none. */
export async function versionInForce(process: Decider, webhookCaPem?: string): Promise<string | undefined> {
  let text: string;
  if (process.name === 'webhook') {
    if (webhookCaPem === undefined) throw new Error('the webhook serves /metrics over TLS: its CA is needed');
    text = await httpsText(`https://127.0.0.1:${process.port}/metrics`, webhookCaPem);
  } else {
    text = await (await fetch(`http://127.0.0.1:${process.port}/metrics`)).text();
  }
  const line = text.split('\n').find((l) => l.startsWith(`${CONFIG_IN_FORCE_METRIC}{`));
  return line?.match(/resource_version="([^"]*)"/)?.[1];
}

/** Resolves once each of `deciders()` names `resourceVersion` as in force. */
export async function waitDecidersOnVersion(deciders: () => Decider[], resourceVersion: string, webhookCaPem?: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let behind: string[] = [];
  while (Date.now() < deadline) {
    behind = [];
    for (const p of deciders()) {
      const seen = await versionInForce(p, webhookCaPem).catch((error: unknown) => `error: ${String(error)}`);
      if (seen !== resourceVersion) behind.push(`${p.name} has ${seen ?? 'none'}`);
    }
    if (behind.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`kubevirt-config resourceVersion ${resourceVersion} not in force within ${ms} ms: ${behind.join(', ')}`);
}

/** Resolves once every reconciler and webhook process of a local system names `resourceVersion` as in force. */
export async function waitConfigInForce(state: LocalSystemState, resourceVersion: string): Promise<void> {
  const deciders = () => state.processes.filter((p) => p.name === 'webhook' || p.name.startsWith('reconciler'));
  await waitDecidersOnVersion(deciders, resourceVersion, readFileSync(state.pki.caCert, 'utf8'));
}
