// PKCS#10 certificate signing requests (RFC 2986): built by the agent for its migration certificate,
// read back by the signer, which must see exactly what is asked for (subject, every SAN, the key) and
// that the requester holds the key (the request's own signature).
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  TAG, bitString, children, contextConstructed, contextPrimitive, decodeOid, expectTag, nullValue, octetString, oid, parseDer, pem, pemBlocks,
  sequence, set, smallInteger, utf8String, type DerNode,
} from './der.js';

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
} as const;

/** The signature algorithm a key signs with here: its AlgorithmIdentifier and node:crypto's digest name. */
export function signatureAlgorithm(key: KeyObject): { identifier: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { identifier: sequence(oid(OID.ecdsaWithSha256)), digest: 'sha256' };
    case 'rsa':
      return { identifier: sequence(oid(OID.sha256WithRsa), nullValue()), digest: 'sha256' };
    case 'ed25519':
      return { identifier: sequence(oid(OID.ed25519)), digest: null };
    default:
      throw new Error(`cannot sign with a ${key.asymmetricKeyType ?? 'unknown'} key (EC, RSA or Ed25519 only)`);
  }
}

function digestOf(algorithm: string): string | null {
  const digests: Record<string, string | null> = { [OID.ecdsaWithSha256]: 'sha256', [OID.ecdsaWithSha384]: 'sha384', [OID.sha256WithRsa]: 'sha256', [OID.ed25519]: null };
  if (!(algorithm in digests)) throw new Error(`signature algorithm ${algorithm} is not supported`);
  return digests[algorithm] ?? null;
}

export function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  if (isIP(address) !== 6) throw new Error(`${address} is not an IP address`);
  const [head = '', tail] = address.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return Buffer.concat(all.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

/** The canonical text of an address (so `::0:1` and `::1` compare equal). */
export function canonicalIp(address: string): string {
  if (isIP(address) === 4) return address.split('.').map(Number).join('.');
  if (isIP(address) === 6) return new URL(`http://[${address}]/`).hostname.replace(/^\[|\]$/g, '');
  return address;
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) return canonicalIp(Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':'));
  throw new Error(`an iPAddress SAN of ${bytes.length} bytes`);
}

export interface SubjectAltNames {
  dnsNames: string[];
  ipAddresses: string[];
}

/** GeneralNames with dNSName [2] and iPAddress [7] entries. */
export function encodeSubjectAltNames(names: SubjectAltNames): Buffer {
  return sequence(...names.dnsNames.map((d) => contextPrimitive(2, Buffer.from(d, 'ascii'))), ...names.ipAddresses.map((ip) => contextPrimitive(7, ipBytes(ip))));
}

const GENERAL_NAME_KINDS: Record<number, string> = { 0: 'otherName', 1: 'email', 3: 'x400Address', 4: 'directoryName', 5: 'ediPartyName', 6: 'URI', 8: 'registeredID' };

/** A SAN extension's value → its names; kinds other than DNS and IP are listed in `others`. */
export function decodeSubjectAltNames(value: Buffer): SubjectAltNames & { others: string[] } {
  const out = { dnsNames: [] as string[], ipAddresses: [] as string[], others: [] as string[] };
  for (const name of children(expectTag(parseDer(value), TAG.SEQUENCE, 'subjectAltName'))) {
    const kind = name.tag & 0x1f;
    if (name.tag === 0x82) out.dnsNames.push(name.value.toString('ascii'));
    else if (name.tag === 0x87) out.ipAddresses.push(ipText(name.value));
    else out.others.push(`${GENERAL_NAME_KINDS[kind] ?? `[${kind}]`} ${kind === 1 || kind === 6 ? name.value.toString('ascii') : ''}`.trim());
  }
  return out;
}

/** A Name of one CN (and optionally one O), each in its own RDN. */
export function encodeName(subject: { commonName: string; organization?: string }): Buffer {
  const rdn = (type: string, text: string) => set(sequence(oid(type), utf8String(text)));
  return sequence(rdn(OID.commonName, subject.commonName), ...(subject.organization ? [rdn(OID.organization, subject.organization)] : []));
}

function decodeName(name: DerNode): { commonName?: string; organizations: string[] } {
  const out: { commonName?: string; organizations: string[] } = { organizations: [] };
  for (const rdn of children(expectTag(name, TAG.SEQUENCE, 'subject'))) {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      if (!type || !value) throw new Error('subject: an attribute without type or value');
      const text = value.value.toString('utf8');
      if (decodeOid(type) === OID.commonName) out.commonName = text;
      if (decodeOid(type) === OID.organization) out.organizations.push(text);
    }
  }
  return out;
}

export interface CsrSubject {
  commonName: string;
  organization?: string;
}

/** A PEM CSR for this key pair, asking for these names (the only extension requested). */
export function buildCsr(keys: { privateKey: KeyObject; publicKey: KeyObject }, subject: CsrSubject, names: SubjectAltNames): string {
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const extensions = sequence(sequence(oid(OID.subjectAltName), octetString(encodeSubjectAltNames(names))));
  const attributes = contextConstructed(0, sequence(oid(OID.extensionRequest), set(extensions)));
  const info = sequence(smallInteger(0), encodeName(subject), spki, attributes);
  const algorithm = signatureAlgorithm(keys.privateKey);
  const signature = sign(algorithm.digest, info, keys.privateKey);
  return pem('CERTIFICATE REQUEST', sequence(info, algorithm.identifier, bitString(signature)));
}

export interface ParsedCsr {
  subject: { commonName?: string; organizations: string[] };
  dnsNames: string[];
  ipAddresses: string[];
  /** SANs of other kinds (email, URI, …), described. */
  otherNames: string[];
  /** OIDs of requested extensions other than subjectAltName (the signer sets its own). */
  otherExtensions: string[];
  publicKey: KeyObject;
  /** The SubjectPublicKeyInfo's DER, copied into the certificate. */
  spki: Buffer;
  /** Whether the request is signed by its own key (proof that the requester holds the key). */
  signatureValid: boolean;
}

/** Reads a PEM (or DER) CSR; throws naming what is malformed. */
export function parseCsr(input: string | Buffer): ParsedCsr {
  const der = typeof input === 'string' ? pemBlocks(input, 'CERTIFICATE REQUEST')[0] : input;
  if (!der) throw new Error('not a PEM CERTIFICATE REQUEST');
  const [info, algorithm, signature] = children(expectTag(parseDer(der), TAG.SEQUENCE, 'CertificationRequest'));
  const [version, subject, spkiNode, attributes] = children(expectTag(info, TAG.SEQUENCE, 'certificationRequestInfo'));
  if (!expectTag(version, TAG.INTEGER, 'version').value.equals(Buffer.from([0]))) throw new Error('version: not 0 (v1)');
  const spki = expectTag(spkiNode, TAG.SEQUENCE, 'subjectPKInfo').raw;
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const out: ParsedCsr = { subject: decodeName(subject as DerNode), dnsNames: [], ipAddresses: [], otherNames: [], otherExtensions: [], publicKey, spki, signatureValid: false };
  for (const attribute of attributes ? children(expectTag(attributes, 0xa0, 'attributes')) : []) {
    const [type, values] = children(attribute);
    if (!type || !values || decodeOid(type) !== OID.extensionRequest) continue;
    for (const extensions of children(values)) {
      for (const extension of children(expectTag(extensions, TAG.SEQUENCE, 'extensionRequest'))) {
        const parts = children(extension);
        const id = decodeOid(parts[0] as DerNode);
        const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, `extension ${id}`).value;
        if (id !== OID.subjectAltName) {
          out.otherExtensions.push(id);
          continue;
        }
        const names = decodeSubjectAltNames(value);
        out.dnsNames.push(...names.dnsNames);
        out.ipAddresses.push(...names.ipAddresses);
        out.otherNames.push(...names.others);
      }
    }
  }
  const algorithmOid = decodeOid(children(expectTag(algorithm, TAG.SEQUENCE, 'signatureAlgorithm'))[0] as DerNode);
  const bits = expectTag(signature, TAG.BIT_STRING, 'signature').value;
  try {
    out.signatureValid = verify(digestOf(algorithmOid), (info as DerNode).raw, publicKey, bits.subarray(1));
  } catch {
    out.signatureValid = false;
  }
  return out;
}
