// A tiny DER reader and writer: just what a PKCS#10 request and an X.509 certificate need (node:crypto
// verifies and signs, but neither parses a CSR nor builds a certificate, and no dependency of ours does).
// Definite lengths only, as DER requires; anything malformed throws with what and where.

export interface DerNode {
  /** The identifier octet (e.g. 0x30 SEQUENCE, 0xa0 [0] constructed). */
  tag: number;
  /** The whole encoding (tag, length, value): what a signature covers. */
  raw: Buffer;
  /** The value octets. */
  value: Buffer;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads one TLV at `offset`; returns it and where the next begins. */
export function readDer(buffer: Buffer, offset = 0): { node: DerNode; next: number } {
  if (offset + 2 > buffer.length) throw new Error(`DER: truncated at byte ${offset}`);
  const tag = buffer[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new Error(`DER: multi-byte tag at byte ${offset} is not supported`);
  let length = buffer[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw new Error(`DER: unsupported length form at byte ${offset + 1}`);
    if (start + octets > buffer.length) throw new Error(`DER: truncated length at byte ${offset + 1}`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (buffer[start + i] ?? 0);
    start += octets;
  }
  const end = start + length;
  if (end > buffer.length) throw new Error(`DER: value at byte ${start} runs past the end (${length} bytes, ${buffer.length - start} left)`);
  return { node: { tag, raw: buffer.subarray(offset, end), value: buffer.subarray(start, end) }, next: end };
}

/** The one TLV a buffer holds (nothing may follow it). */
export function parseDer(buffer: Buffer): DerNode {
  const { node, next } = readDer(buffer, 0);
  if (next !== buffer.length) throw new Error(`DER: ${buffer.length - next} bytes after the end`);
  return node;
}

/** The TLVs inside a constructed value (SEQUENCE, SET, [n]). */
export function children(node: DerNode): DerNode[] {
  if (!(node.tag & 0x20)) throw new Error(`DER: tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let offset = 0; offset < node.value.length; ) {
    const { node: child, next } = readDer(node.value, offset);
    out.push(child);
    offset = next;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new Error(`${what}: missing`);
  if (node.tag !== tag) throw new Error(`${what}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`);
  return node;
}

export function decodeOid(node: DerNode): string {
  const bytes = expectTag(node, TAG.OID, 'OID').value;
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

// Writing.

function lengthOctets(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthOctets(value.length), value]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(TAG.SET, Buffer.concat(items));
/** [n] constructed (EXPLICIT, or an IMPLICIT SEQUENCE/SET). */
export const contextConstructed = (n: number, value: Buffer): Buffer => tlv(0xa0 | n, value);
/** [n] primitive (IMPLICIT), e.g. a GeneralName's dNSName [2] or iPAddress [7]. */
export const contextPrimitive = (n: number, value: Buffer): Buffer => tlv(0x80 | n, value);
export const octetString = (value: Buffer): Buffer => tlv(TAG.OCTET_STRING, value);
export const bitString = (value: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), value]));
export const utf8String = (text: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
export const booleanTrue = (): Buffer => tlv(TAG.BOOLEAN, Buffer.from([0xff]));
export const nullValue = (): Buffer => tlv(TAG.NULL, Buffer.alloc(0));

/** A non-negative INTEGER from its big-endian magnitude (a leading zero added when the top bit is set). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let bytes = magnitude;
  while (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0) bytes = bytes.subarray(1);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.INTEGER, bytes);
}

export const smallInteger = (n: number): Buffer => unsignedInteger(Buffer.from([n]));

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = parts;
  const bytes: number[] = [];
  for (const n of [first * 40 + second, ...rest]) {
    const groups: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
export function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(TAG.UTC_TIME, Buffer.from(iso.slice(2), 'ascii')) : tlv(TAG.GENERALIZED_TIME, Buffer.from(iso, 'ascii'));
}

export function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of every PEM block with this label, in order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const pattern = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(pattern)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}
