// The sample application (app/) written against Twilio Verify completes sign-up and login
// against the real otpd, its client built by app/client.js (the one file that changed).
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');

const makeClient = require('../app/client');
const { createApp } = require('../app/server');
const { Otpd, SERVICES, ACCOUNT_SID, AUTH_TOKEN, newPhone } = require('../lib/otpd');

describe('a Twilio Verify application on otpd', () => {
  const otpd = new Otpd();
  let app;
  let base;

  before(async () => {
    await otpd.start();
    const client = makeClient({
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, OTPD_URL: otpd.url,
    });
    app = createApp({ client, serviceSid: SERVICES.app });
    await new Promise((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${app.server.address().port}`;
  });
  after(async () => {
    if (app) await new Promise((resolve) => app.server.close(resolve));
    await otpd.stop();
  });

  async function post(path, body) {
    const r = await fetch(base + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  }

  it('signs up and logs in with codes received by SMS', async () => {
    const phone = newPhone();
    assert.deepEqual(await post('/signup', { phone }), { status: 202, body: { status: 'pending' } });
    const code = await otpd.sms.code(phone);
    const wrong = await post('/signup/confirm', { phone, code: code === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    const created = await post('/signup/confirm', { phone, code });
    assert.equal(created.status, 201);
    assert.equal(created.body.phone, phone);
    // A code is single use: the application hears 20404 and says so.
    assert.equal((await post('/signup/confirm', { phone, code })).status, 410);

    assert.equal((await post('/login', { phone })).status, 202);
    const loginCode = await otpd.sms.code(phone, 1);
    const session = await post('/login/confirm', { phone, code: loginCode });
    assert.equal(session.status, 200);
    assert.match(session.body.session, /^[0-9a-f]{32}$/);
    assert.equal(app.sessions.get(session.body.session), phone);
  });

  it('an unknown user cannot log in, and too many wrong codes lock the login', async () => {
    assert.equal((await post('/login', { phone: newPhone() })).status, 404);
    const phone = newPhone();
    await post('/signup', { phone });
    const code = await otpd.sms.code(phone);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await post('/signup/confirm', { phone, code: wrong })).status, 401);
    }
    assert.equal((await post('/signup/confirm', { phone, code })).status, 429);
  });
});
