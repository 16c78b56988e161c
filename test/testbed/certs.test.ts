import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { makeTestbedCerts } from '../../src/testbed/certs.js';

describe('testbed certificates', () => {
  it('the server certificate is issued by the testbed CA, names every host, and its SPKI hash is the one Chromium gets', () => {
    const hosts = ['social.testbed', 'media.chat.testbed'];
    const c = makeTestbedCerts(hosts);
    const ca = new X509Certificate(c.caPem);
    const leaf = new X509Certificate(c.certPem);
    assert.ok(ca.ca);
    assert.ok(!leaf.ca);
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.verify(ca.publicKey));
    assert.equal(leaf.subjectAltName, 'DNS:social.testbed, DNS:media.chat.testbed');
    assert.equal(leaf.checkHost('media.chat.testbed'), 'media.chat.testbed');
    assert.equal(c.spkiSha256, createHash('sha256').update(leaf.publicKey.export({ type: 'spki', format: 'der' })).digest('base64'));
    assert.ok(new Date(leaf.validTo).getTime() > Date.now() + 7 * 86400_000);
  });
});
