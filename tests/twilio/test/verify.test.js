// Twilio's official Node SDK against the real otpd binary: the flows an application runs,
// each with the SDK pointed at otpd both ways (base URL, custom httpClient). The SDK's own
// objects are checked: instances with Date fields, RestException with code and status.
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');
const twilio = require('twilio');

const { withBaseUrl, withHttpClient } = require('../lib/clients');
const {
  Otpd, SERVICES, ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, newPhone,
} = require('../lib/otpd');

const otpd = new Otpd();

const RestException = twilio.RestException;

async function rejectsWith(promise, status, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof RestException, `expected a RestException, got ${e}`);
    assert.equal(e.status, status, `status of ${e.message}`);
    assert.equal(e.code, code, `code of ${e.message}`);
    assert.equal(e.moreInfo, `https://www.twilio.com/docs/errors/${code}`);
    assert.ok(typeof e.message === 'string' && e.message.length > 0);
    return true;
  });
}

const wrongCode = (code) => (code === '000000' ? '111111' : '000000');

const CONSTRUCTIONS = [
  ['client.verify.baseUrl', (url) => withBaseUrl(url)],
  ['a custom httpClient (region and edge set)', (url) => withHttpClient(url, { region: 'ie1', edge: 'dublin' })],
];

describe('otpd as Twilio Verify', () => {
  before(() => otpd.start());
  after(() => otpd.stop());

  for (const [name, construct] of CONSTRUCTIONS) {
    describe(`Twilio SDK via ${name}`, () => {
      let client;
      let shop;
      before(() => {
        client = construct(otpd.url);
        shop = client.verify.v2.services(SERVICES.shop);
      });

      it('creates, checks wrong, checks right, checks again, fetches', async () => {
        const to = newPhone();
        const v = await shop.verifications.create({ to, channel: 'sms' });
        assert.match(v.sid, /^VE[0-9a-f]{32}$/);
        assert.equal(v.serviceSid, SERVICES.shop);
        assert.equal(v.accountSid, ACCOUNT_SID);
        assert.equal(v.channel, 'sms');
        assert.equal(v.status, 'pending');
        assert.equal(v.valid, false);
        assert.ok(v.dateCreated instanceof Date && !Number.isNaN(v.dateCreated.getTime()));
        assert.equal(v.sendCodeAttempts.length, 1);
        assert.equal(v.sendCodeAttempts[0].channel, 'SMS');
        assert.ok(v.url.endsWith(`/v2/Services/${SERVICES.shop}/Verifications/${v.sid}`));

        const code = await otpd.sms.code(to);
        const fetched = await shop.verifications(v.sid).fetch();
        assert.equal(fetched.sid, v.sid);
        assert.equal(fetched.status, 'pending');

        const wrong = await shop.verificationChecks.create({ to, code: wrongCode(code) });
        assert.equal(wrong.status, 'pending');
        assert.equal(wrong.valid, false);
        const right = await shop.verificationChecks.create({ to, code });
        assert.equal(right.status, 'approved');
        assert.equal(right.valid, true);
        assert.equal(right.sid, v.sid);
        assert.ok(right.dateUpdated instanceof Date);

        await rejectsWith(shop.verificationChecks.create({ to, code }), 404, 20404);
        await rejectsWith(shop.verifications(v.sid).fetch(), 404, 20404);
      });

      it('checks by VerificationSid, cancels and approves by update', async () => {
        const to = newPhone();
        const v = await shop.verifications.create({ to, channel: 'sms' });
        const code = await otpd.sms.code(to);
        const canceled = await shop.verifications(v.sid).update({ status: 'canceled' });
        assert.equal(canceled.status, 'canceled');
        await rejectsWith(shop.verificationChecks.create({ verificationSid: v.sid, code }), 404, 20404);

        const other = newPhone();
        const w = await shop.verifications.create({ to: other, channel: 'sms' });
        const approved = await shop.verifications(w.sid).update({ status: 'approved' });
        assert.equal(approved.status, 'approved');
        assert.equal(approved.valid, true);

        const third = newPhone();
        const x = await shop.verifications.create({ to: third, channel: 'sms' });
        const ok = await shop.verificationChecks.create({ verificationSid: x.sid, code: await otpd.sms.code(third) });
        assert.equal(ok.status, 'approved');
      });

      it('locks after the attempt limit with 60202', async () => {
        const to = newPhone();
        await shop.verifications.create({ to, channel: 'sms' });
        const code = await otpd.sms.code(to);
        for (let i = 0; i < 4; i += 1) {
          const r = await shop.verificationChecks.create({ to, code: wrongCode(code) });
          assert.equal(r.status, 'pending');
        }
        const last = await shop.verificationChecks.create({ to, code: wrongCode(code) });
        assert.equal(last.status, 'max_attempts_reached');
        assert.equal(last.valid, false);
        await rejectsWith(shop.verificationChecks.create({ to, code }), 429, 60202);
      });

      it('a resend waits for the cooldown (60212), then supersedes the first code', async () => {
        const to = newPhone();
        const first = await shop.verifications.create({ to, channel: 'sms' });
        const firstCode = await otpd.sms.code(to);
        await rejectsWith(shop.verifications.create({ to, channel: 'sms' }), 429, 60212);
        await otpd.advance(31);
        const second = await shop.verifications.create({ to, channel: 'sms' });
        assert.notEqual(second.sid, first.sid);
        const secondCode = await otpd.sms.code(to, 1);
        await rejectsWith(
          shop.verificationChecks.create({ verificationSid: first.sid, code: firstCode }), 404, 20404);
        const ok = await shop.verificationChecks.create({ to, code: secondCode });
        assert.equal(ok.status, 'approved');
      });

      it('rate limits: 60203 per recipient window, 20429 for the tenant', async () => {
        const strict = client.verify.v2.services(SERVICES.strict);
        const to = newPhone();
        await strict.verifications.create({ to, channel: 'sms' });
        await strict.verifications.create({ to, channel: 'sms' });
        await rejectsWith(strict.verifications.create({ to, channel: 'sms' }), 429, 60203);

        const rated = client.verify.v2.services(SERVICES.rated);
        // The bucket holds one send; the first construction's test may have used it.
        const results = [];
        for (let i = 0; i < 2; i += 1) {
          results.push(await rated.verifications.create({ to: newPhone(), channel: 'sms' }).then(
            () => 'sent', (e) => e));
        }
        const refused = results.filter((r) => r !== 'sent');
        assert.ok(refused.length >= 1);
        for (const e of refused) {
          assert.ok(e instanceof RestException);
          assert.equal(e.status, 429);
          assert.equal(e.code, 20429);
        }
      });

      it('bad parameters are 60200, a channel the Service lacks 60223', async () => {
        await rejectsWith(shop.verifications.create({ to: 'not-a-number', channel: 'sms' }), 400, 60200);
        await rejectsWith(shop.verifications.create({ to: newPhone(), channel: 'whatsapp' }), 400, 60223);
        await rejectsWith(shop.verifications.create({ to: newPhone(), channel: 'sms', customCode: '123456' }), 400, 60200);
        await rejectsWith(shop.verificationChecks.create({ code: '123456' }), 400, 60200);
        await rejectsWith(shop.verifications('VE00000000000000000000000000000000').update({ status: 'pending' }), 400, 60200);
      });

      it('email through the channel the Service maps it to', async () => {
        const to = `person${Date.now()}@example.com`;
        const v = await shop.verifications.create({ to, channel: 'email', locale: 'de' });
        assert.equal(v.channel, 'email');
        const ok = await shop.verificationChecks.create({ to, code: await otpd.consoleCode(v.sid) });
        assert.equal(ok.status, 'approved');
      });

      it('lists, pages through and fetches the Services; creating one is 501', async () => {
        const services = await client.verify.v2.services.list();
        assert.deepEqual(services.map((s) => s.sid).sort(), Object.values(SERVICES).sort());
        const paged = await client.verify.v2.services.list({ pageSize: 1 });
        assert.equal(paged.length, 4);  // the SDK followed next_page_url three times
        const page = await client.verify.v2.services.page({ pageSize: 2 });
        assert.equal(page.instances.length, 2);
        assert.ok(page.nextPageUrl);
        const app = await client.verify.v2.services(SERVICES.app).fetch();
        assert.equal(app.friendlyName, 'Sample App');
        assert.equal(app.codeLength, 6);
        await rejectsWith(client.verify.v2.services.create({ friendlyName: 'New' }), 501, 20501);
        await rejectsWith(client.verify.v2.services('VA00000000000000000000000000000000').fetch(), 404, 20404);
      });

      it('what otpd does not implement answers clearly', async () => {
        await rejectsWith(client.verify.v2.services(SERVICES.shop).entities('user-1').factors.list(), 501, 20501);
        await rejectsWith(
          client.verify.v2.services(SERVICES.shop).accessTokens.create({ identity: 'u', factorType: 'push' }),
          501, 20501);
      });
    });
  }

  describe('Twilio SDK credentials', () => {
    it('an API key and its secret (with the account SID) work', async () => {
      const client = withBaseUrl(otpd.url, {
        username: API_KEY_SID, password: API_KEY_SECRET, accountSid: ACCOUNT_SID,
      });
      const services = await client.verify.v2.services.list();
      assert.equal(services.length, 4);
    });

    it('a wrong auth token is 20003', async () => {
      const client = withBaseUrl(otpd.url, { password: 'not-the-token' });
      await rejectsWith(client.verify.v2.services.list(), 401, 20003);
      const other = withHttpClient(otpd.url, { username: 'AC00000000000000000000000000000000' });
      await rejectsWith(other.verify.v2.services(SERVICES.shop).verifications.create({ to: newPhone(), channel: 'sms' }), 401, 20003);
    });

    it('an expired verification is 20404', async () => {
      const shop = withBaseUrl(otpd.url).verify.v2.services(SERVICES.shop);
      const to = newPhone();
      const v = await shop.verifications.create({ to, channel: 'sms' });
      const code = await otpd.sms.code(to);
      await otpd.advance(301);
      await rejectsWith(shop.verificationChecks.create({ to, code }), 404, 20404);
      await rejectsWith(shop.verifications(v.sid).fetch(), 404, 20404);
    });
  });
});
