// `kubectl migrate console VMI [-f]`: the guest's serial console as the VMI's current node has it,
// read from that node's agent (GET /v1/vms/<ns>/<name>/console, mutual TLS: the agents answer only
// callers they allow, so the plugin shows a client certificate — flags or $LIVE_MIGRATION_AGENT_*).
// With -f it polls every second and follows the VMI when it migrates: on a new node it prints a
// marker line and then only what that node's log adds from then on, so nothing is printed twice.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { agentDialTarget, agentServerName } from '../../agent/node-identity.js';
import type { AgentTlsFlags } from './args.js';
import type { Io } from './main.js';

/** The node annotation the agents register their endpoint in (agent/registration.ts). */
const AGENT_ENDPOINT_ANNOTATION = 'live-migration.io/agent-endpoint';
const FOLLOW_MS = 1_000;

export interface ConsoleCommand {
  vmi: string;
  follow: boolean;
  agentTls: AgentTlsFlags;
}

function tlsFiles(flags: AgentTlsFlags): { cert: Buffer; key: Buffer; ca: Buffer } {
  const env = process.env;
  const pick = (flag: string | undefined, name: string, what: string) => {
    const path = flag ?? env[name];
    if (!path) throw new Error(`console: a client certificate the agents allow is needed: --agent-${what} or $${name}`);
    return readFileSync(path);
  };
  return { cert: pick(flags.cert, 'LIVE_MIGRATION_AGENT_CERT', 'cert'), key: pick(flags.key, 'LIVE_MIGRATION_AGENT_KEY', 'key'), ca: pick(flags.ca, 'LIVE_MIGRATION_AGENT_CA', 'ca') };
}

/** One node's agent, checked as the reconciler checks it: that node's own certificate name. */
function fetchConsole(endpoint: string, nodeName: string, namespace: string, name: string, tls: { cert: Buffer; key: Buffer; ca: Buffer }): Promise<string | undefined> {
  const url = new URL(`/v1/vms/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/console`, endpoint);
  const identity = agentServerName(nodeName);
  return new Promise((resolve, reject) => {
    const verify = { servername: identity, checkServerIdentity: (_host: string, peer: PeerCertificate) => checkServerIdentity(identity, peer) };
    const req = request(url, { method: 'GET', ...tls, ...verify, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(body);
        else if (res.statusCode === 404) resolve(undefined);
        else reject(new Error(`agent ${endpoint}: HTTP ${res.statusCode}: ${body}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`agent ${endpoint}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

export async function runConsole(command: ConsoleCommand, namespace: string, kubeConfig: KubeConfig, io: Io): Promise<number> {
  const tls = tlsFiles(command.agentTls);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let node: string | undefined;
  let printed = 0;
  for (;;) {
    let vmi: { status?: { nodeName?: string; phase?: string } };
    try {
      vmi = (await custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace, plural: 'virtualmachineinstances', name: command.vmi })) as typeof vmi;
    } catch (error) {
      // Followed to its end: a VMI deleted while we watched ends the console quietly.
      if (node !== undefined && (error as { code?: number }).code === 404) return 0;
      throw error;
    }
    const now = vmi.status?.nodeName;
    if (!now) {
      if (!command.follow) {
        io.stderr.write(`error: VMI ${namespace}/${command.vmi} runs on no node (phase ${vmi.status?.phase ?? 'none'})\n`);
        return 1;
      }
    } else {
      const nodeObject = await core.readNode({ name: now });
      const endpoint = nodeObject.metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION];
      if (!endpoint) throw new Error(`node ${now} has no agent endpoint (annotation ${AGENT_ENDPOINT_ANNOTATION})`);
      // Only an address of the Node itself, as the reconciler dials: never wherever the annotation points.
      const target = agentDialTarget(now, nodeObject, endpoint);
      if (!target.ok) throw new Error(target.reason);
      const text = (await fetchConsole(target.url, now, namespace, command.vmi, tls)) ?? '';
      if (now !== node) {
        // A new node: what its log holds already was printed from the old one (or precedes us).
        if (node !== undefined) {
          io.stdout.write(`--- ${command.vmi} now on ${now} ---\n`);
          printed = text.length;
        } else {
          io.stdout.write(text);
          printed = text.length;
        }
        node = now;
      } else if (text.length >= printed) {
        io.stdout.write(text.slice(printed));
        printed = text.length;
      } else {
        // The agent keeps the last part of a long log: it moved on.
        io.stdout.write(text);
        printed = text.length;
      }
    }
    if (!command.follow) return 0;
    await io.sleep(FOLLOW_MS);
  }
}
