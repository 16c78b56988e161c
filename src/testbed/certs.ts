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

export function makeTestbedCerts(hosts: readonly string[]): TestbedCerts {
  const now = new Date();
  const notAfter = new Date(now.getTime() + 30 * 86400_000);
  const notBefore = new Date(now.getTime() - 86400_000);

  const ca = keyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.pub;
  caCert.serialNumber = serial(1);
  caCert.validity.notBefore = notBefore;
  caCert.validity.notAfter = notAfter;
  const caName = [{ name: 'commonName', value: 'cipherscope testbed CA' }, { name: 'organizationName', value: 'cipherscope testbed' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(ca.priv as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  const leaf = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = leaf.pub;
  cert.serialNumber = serial(2);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: hosts[0] }, { name: 'organizationName', value: 'cipherscope testbed' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => ({ type: 2, value: h })) },
  ]);
  cert.sign(ca.priv as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  const certPem = forge.pki.certificateToPem(cert);
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem,
    keyPem: leaf.privPem,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}
