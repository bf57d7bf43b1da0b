import { describe, expect, it } from '@jest/globals';
import { metadataXml, parseMetadata, type MigrationMetadata } from './domain-metadata.js';
import { classifyLibvirtError } from './parse.js';

const m: MigrationMetadata = { migrationUid: '5d1c3b7e-0000-4000-8000-000000000001', sourceNode: 'node-a', targetNode: 'n&"<b>', startedAt: '2026-01-01T00:00:00.000Z' };

describe('domain metadata', () => {
  it('round-trips through the XML libvirt stores, with or without the namespace prefix it prints', () => {
    const xml = metadataXml(m);
    expect(xml).toBe('<migration uid="5d1c3b7e-0000-4000-8000-000000000001" source-node="node-a" target-node="n&amp;&quot;&lt;b&gt;" started-at="2026-01-01T00:00:00.000Z"/>');
    expect(parseMetadata(`${xml}\n\n`)).toEqual(m);
    expect(parseMetadata(xml.replace('<migration', '<lm:migration xmlns:lm="https://live-migration.io/agent/migration/v1"'))).toEqual(m);
  });

  it('is undefined for another element or a missing field', () => {
    expect(parseMetadata('<other uid="x"/>')).toBeUndefined();
    expect(parseMetadata('<migration uid="x" source-node="a"/>')).toBeUndefined();
    expect(parseMetadata('')).toBeUndefined();
  });

  it("libvirt's answer for a domain without it (libvirt 9.0)", () => {
    expect(classifyLibvirtError('metadata not found: Requested metadata element is not present')).toBe('no-metadata');
  });
});
