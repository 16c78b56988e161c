import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addrText, parseAddr } from '../../src/common/addr.js';

describe('addresses', () => {
  it('formats IPv6 as RFC 5952 and parses it back', () => {
    const cases = ['2001:db8::1', '::1', '::', 'fe80::8c36:6ff:fe44:acaf', '2001:db8:0:1:1:1:1:1', '2001:0:0:1::1', '::ffff:192.0.2.1', '1::'];
    for (const text of cases) {
      const a = parseAddr(text);
      assert.ok(a, text);
      assert.equal(addrText(a[0], a[1], a[2], a[3], a[4]), text);
    }
    // the longest zero run is shortened, the first of equal runs; single zero groups are not
    const b = parseAddr('2001:0db8:0000:0000:0001:0000:0000:0001');
    assert.ok(b);
    assert.equal(addrText(b[0], b[1], b[2], b[3], b[4]), '2001:db8::1:0:0:1');
  });

  it('IPv4', () => {
    const a = parseAddr('192.168.1.254');
    assert.deepEqual(a, [4, 0, 0, 0, 0xc0a801fe]);
    assert.equal(addrText(4, 0, 0, 0, 0xc0a801fe), '192.168.1.254');
    assert.equal(parseAddr('256.1.1.1'), undefined);
    assert.equal(parseAddr('1:2:3'), undefined);
  });
});
