import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildDashboard } from '../../src/server/app.js';
import { loadFlowStore } from '../../src/server/flow-store.js';
import { PCAPS } from '../helpers/tshark.js';

/** The dashboard under malformed and sly requests: answers with 4xx, never a 500, never data without the token. */
describe('serve: hostile requests', () => {
  const token = 'hostile-token-0123456789abcdef';
  let app: FastifyInstance;
  before(async () => {
    app = buildDashboard({ flows: await loadFlowStore([join(PCAPS, 'tls12-sni-chrome34-google.pcap')], {}), reports: [] }, token);
    await app.ready();
  });
  after(async () => app.close());
  const bearer = { authorization: `Bearer ${token}` };

  it('a cookie that is not valid percent-encoding is a 400, not a 500', async () => {
    for (const cookie of ['cipherscope_token=%E0%A4%A', 'cipherscope_token=%', 'a=1; cipherscope_token=%zz']) {
      const r = await app.inject({ url: '/api/captures', headers: { cookie } });
      assert.equal(r.statusCode, 400, cookie);
      assert.doesNotMatch(r.body, /chrome|google/i);
    }
  });

  it('vendor file names are looked up as own properties: constructor, toString, __proto__ are 404', async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'vega.min.js.map']) {
      const r = await app.inject({ url: `/vendor/${name}`, headers: bearer });
      assert.equal(r.statusCode, 404, name);
    }
    assert.equal((await app.inject({ url: '/vendor/vega.min.js', headers: bearer })).statusCode, 200);
  });

  it('the token in the query string opens a page, never an API call', async () => {
    const api = await app.inject({ url: `/api/captures?token=${token}` });
    assert.equal(api.statusCode, 401);
    const page = await app.inject({ url: `/?token=${token}` });
    assert.equal(page.statusCode, 303);
    assert.match(String(page.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    const withCookie = await app.inject({ url: '/api/captures', headers: { cookie: `cipherscope_token=${encodeURIComponent(token)}` } });
    assert.equal(withCookie.statusCode, 200);
  });
});
