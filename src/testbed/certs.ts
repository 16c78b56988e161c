import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

/**
 * The testbed's own certificate authority and one server certificate for all its host names. Keys come from
 * node:crypto (fast, native); node-forge only assembles and signs the X.509 structures, which node:crypto cannot.
 * Chromium is told to trust the server key by its SPKI hash (--ignore-certificate-errors-spki-list), so no
 * system or profile trust store is touched.
 */
export interface TestbedCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** base64(SHA-256(SubjectPublicKeyInfo)) of the server key, for --ignore-certificate-errors-spki-list. */
  spkiSha256: string;
}

function keyPair(): { pub: forge.pki.PublicKey; priv: forge.pki.PrivateKey; privPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { pub: forge.pki.publicKeyFromPem(publicKey), priv: forge.pki.privateKeyFromPem(privateKey), privPem: privateKey };
}

/** A positive DER INTEGER in hex without a leading zero byte (OpenSSL rejects the padding). */
function serial(n: number): string {
  return (0x10 + n).toString(16);
}

type Name = forge.pki.CertificateField[];

function signed(pub: forge.pki.PublicKey, subject: Name, issuer: Name, signer: forge.pki.PrivateKey, n: number, extensions: object[]): forge.pki.Certificate {
  const now = Date.now();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pub;
  cert.serialNumber = serial(n);
  cert.validity.notBefore = new Date(now - 86400_000);
  cert.validity.notAfter = new Date(now + 30 * 86400_000);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  cert.setExtensions(extensions);
  cert.sign(signer as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

export function makeTestbedCerts(hosts: readonly string[]): TestbedCerts {
  const ca = keyPair();
  const caName: Name = [
    { name: 'commonName', value: 'cipherscope testbed CA' },
    { name: 'organizationName', value: 'cipherscope testbed' },
  ];
  const caCert = signed(ca.pub, caName, caName, ca.priv, 1, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const leaf = keyPair();
  const leafName: Name = [
    { name: 'commonName', value: hosts[0] },
    { name: 'organizationName', value: 'cipherscope testbed' },
  ];
  const cert = signed(leaf.pub, leafName, caName, ca.priv, 2, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => ({ type: 2, value: h })) },
  ]);
  const certPem = forge.pki.certificateToPem(cert);
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem,
    keyPem: leaf.privPem,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}
