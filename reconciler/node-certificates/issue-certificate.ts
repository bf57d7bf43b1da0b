// Builds and signs a node's migration certificate (X.509 v3) with the signer's CA: node:crypto signs,
// common/der.ts lays out the bytes. The signer decides every field; of the request it keeps only the
// public key and the names the policy approved.
import { X509Certificate, randomBytes, sign, type KeyObject } from 'node:crypto';
import { TAG, bitString, booleanTrue, children, contextConstructed, expectTag, octetString, oid, parseDer, pem, sequence, smallInteger, time, tlv, unsignedInteger } from '../../common/der.js';
import { encodeName, encodeSubjectAltNames, signatureAlgorithm, type SubjectAltNames } from '../../common/pkcs10.js';

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/** Issued certificates start this much before now, for clocks a little behind the signer's. */
export const BACKDATE_MS = 60_000;

export interface CertificateTemplate {
  commonName: string;
  names: SubjectAltNames;
  /** The requester's SubjectPublicKeyInfo (DER). */
  spki: Buffer;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

export interface SigningCa {
  cert: X509Certificate;
  key: KeyObject;
}

/** The CA certificate's subject (DER), the issued certificate's issuer. */
function subjectOf(ca: X509Certificate): Buffer {
  const tbs = children(expectTag(children(parseDer(ca.raw))[0], TAG.SEQUENCE, 'tbsCertificate'));
  const offset = tbs[0]?.tag === 0xa0 ? 1 : 0;
  return expectTag(tbs[offset + 4], TAG.SEQUENCE, 'CA subject').raw;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [booleanTrue()] : []), octetString(value));
}

/** keyUsage: digitalSignature, and keyEncipherment for RSA keys (TLS key transport); DER drops trailing zero bits. */
function keyUsage(publicKey: KeyObject): Buffer {
  return publicKey.asymmetricKeyType === 'rsa' ? tlv(TAG.BIT_STRING, Buffer.from([5, 0xa0])) : tlv(TAG.BIT_STRING, Buffer.from([7, 0x80]));
}

/** A PEM certificate for the template, issued by the CA. */
export function issueCertificate(template: CertificateTemplate, ca: SigningCa): string {
  const notAfter = Math.min(template.notAfter.getTime(), Date.parse(ca.cert.validTo));
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const algorithm = signatureAlgorithm(ca.key);
  const extensions = sequence(
    extension(OID.basicConstraints, true, sequence()),
    extension(OID.keyUsage, true, keyUsage(template.publicKey)),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
    extension(OID.subjectAltName, false, encodeSubjectAltNames(template.names)),
  );
  const tbs = sequence(
    contextConstructed(0, smallInteger(2)),
    unsignedInteger(serial),
    algorithm.identifier,
    subjectOf(ca.cert),
    sequence(time(template.notBefore), time(new Date(notAfter))),
    encodeName({ commonName: template.commonName }),
    template.spki,
    contextConstructed(3, extensions),
  );
  return pem('CERTIFICATE', sequence(tbs, algorithm.identifier, bitString(sign(algorithm.digest, tbs, ca.key))));
}
