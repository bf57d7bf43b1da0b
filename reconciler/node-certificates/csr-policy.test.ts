import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { buildCsr } from '../../common/pkcs10.js';
import { NODE_NAME_EXTRA, decideNodeMigrationCsr, type CsrRequest } from './csr-policy.js';

const AGENT = 'system:serviceaccount:live-migration:live-migration-agent';
const nodes: Record<string, { status: { addresses: Array<{ type: string; address: string }> } }> = {
  'node-a': { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'ExternalIP', address: 'fd00::5' }, { type: 'Hostname', address: 'node-a' }] } },
  'node-b': { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.6' }] } },
};
const nodeOf = (name: string) => nodes[name];
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function request(overrides: Partial<CsrRequest> & { cn?: string; dns?: string[]; ips?: string[]; organization?: string; keys?: typeof ec } = {}): CsrRequest {
  const { cn = 'node-a.agent.live-migration.io', dns = ['node-a.agent.live-migration.io'], ips = ['10.0.0.5', 'fd00::5'], organization, keys = ec, ...rest } = overrides;
  return {
    username: AGENT,
    extra: { [NODE_NAME_EXTRA]: ['node-a'] },
    usages: ['digital signature', 'server auth', 'client auth'],
    request: buildCsr(keys, { commonName: cn, ...(organization ? { organization } : {}) }, { dnsNames: dns, ipAddresses: ips }),
    ...rest,
  };
}

describe('decideNodeMigrationCsr', () => {
  it("approves node A's agent asking for A's agent name and A's addresses", () => {
    const decision = decideNodeMigrationCsr(request(), AGENT, nodeOf);
    expect(decision).toMatchObject({ approve: true, node: 'node-a', reason: 'the agent of node node-a asks for its own names (node-a.agent.live-migration.io, 10.0.0.5, fd00::5)' });
  });

  it('approves a subset of the addresses, without the DNS name, and an RSA 2048 key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(decideNodeMigrationCsr(request({ dns: [], ips: ['10.0.0.5'], keys: rsa }), AGENT, nodeOf).approve).toBe(true);
  });

  it.each<[string, Parameters<typeof request>[0], string]>([
    ["another node's address", { ips: ['10.0.0.5', '10.0.0.6'] }, '10.0.0.6 is not an address of Node node-a (InternalIP/ExternalIP: 10.0.0.5, fd00::5)'],
    ["another node's agent name", { dns: ['node-b.agent.live-migration.io'] }, 'an agent on node node-a may be named only node-a.agent.live-migration.io, not node-b.agent.live-migration.io'],
    ['another subject', { cn: 'node-b.agent.live-migration.io' }, 'the subject must be CN=node-a.agent.live-migration.io only, got CN=node-b.agent.live-migration.io'],
    ['an organization (a group, for client certificates)', { organization: 'system:masters' }, 'got CN=node-a.agent.live-migration.io, O=system:masters'],
    ['no IP address', { ips: [] }, 'the request names no IP address of Node node-a'],
    ['the Node’s Hostname entry as an IP-less name', { dns: ['node-a'] }, 'not node-a'],
    ['another user', { username: 'system:serviceaccount:default:default' }, "requested by system:serviceaccount:default:default, not by the agents' ServiceAccount"],
    ['a token bound to no node', { extra: {} }, `no single ${NODE_NAME_EXTRA}`],
    ['missing client auth', { usages: ['server auth'] }, 'usages ["server auth"]: need server auth and client auth'],
    ['a CA-ish usage', { usages: ['server auth', 'client auth', 'cert sign'] }, 'and not cert sign'],
    ['garbage', { request: 'hello' }, 'spec.request is not a PKCS#10 request: not a PEM CERTIFICATE REQUEST'],
  ])('denies %s, saying why', (_what, overrides, reason) => {
    const decision = decideNodeMigrationCsr(request(overrides), AGENT, nodeOf);
    expect(decision.approve).toBe(false);
    expect(decision.reason).toContain(reason);
  });

  it('denies a Node that does not exist', () => {
    expect(decideNodeMigrationCsr(request({ extra: { [NODE_NAME_EXTRA]: ['node-z'] }, cn: 'node-z.agent.live-migration.io', dns: [] }), AGENT, nodeOf).reason).toBe('Node node-z does not exist');
  });

  it('denies weak keys and a request signed by another key', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(decideNodeMigrationCsr(request({ keys: small }), AGENT, nodeOf).reason).toBe('spec.request has an RSA key of 1024 bits (2048 to 8192 only)');
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    expect(decideNodeMigrationCsr(request({ keys: k1 }), AGENT, nodeOf).reason).toBe('spec.request has an EC curve secp256k1 (P-256 or P-384 only)');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(decideNodeMigrationCsr(request({ keys: { privateKey: other.privateKey, publicKey: ec.publicKey } }), AGENT, nodeOf).reason).toBe('spec.request is not signed by its own key');
  });
});
