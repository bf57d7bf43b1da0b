import { describe, expect, it } from '@jest/globals';
import { AgentClientPool } from './client.js';

describe('AgentClientPool', () => {
  it('holds one client per node: a new endpoint replaces the old client, whatever the number of calls', () => {
    const pool = new AgentClientPool({ tls: { ca: 'ca', cert: 'cert', key: 'key' } });
    const first = pool.client('node-1', 'https://10.0.0.1:8443');
    for (let i = 0; i < 10_000; i++) expect(pool.client('node-1', 'https://10.0.0.1:8443')).toBe(first);
    for (let port = 9000; port < 9100; port++) pool.client('node-1', `https://10.0.0.1:${port}`);
    expect(pool.client('node-1', 'https://10.0.0.1:9099/').baseUrl).toBe('https://10.0.0.1:9099');
    pool.client('node-2', 'https://10.0.0.2:8443');
    expect(pool.size).toBe(2);
    pool.forget('node-1');
    expect(pool.size).toBe(1);
    pool.close();
  });
});
