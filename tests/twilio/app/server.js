// A small sign-up and login service written against Twilio Verify with the official Node SDK,
// as an application would be: phone numbers are confirmed with a code at sign-up and a code
// is the login. It knows nothing of otpd; only app/client.js decides where Verify is.
//
//   POST /signup          {"phone"}          sends a code           -> 202
//   POST /signup/confirm  {"phone","code"}   creates the account    -> 201 | 401 | 410 | 429
//   POST /login           {"phone"}          sends a code           -> 202 | 404
//   POST /login/confirm   {"phone","code"}   opens a session        -> 200 | 401 | 410 | 429
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

function createApp({ client, serviceSid }) {
  const verify = client.verify.v2.services(serviceSid);
  const users = new Map();  // phone -> { created }
  const sessions = new Map();  // token -> phone

  async function sendCode(phone) {
    const verification = await verify.verifications.create({ to: phone, channel: 'sms' });
    return { status: verification.status };
  }

  // Twilio's answers an application has to handle: a wrong code is a 200 that is not
  // "approved"; an expired or used verification is 20404; too many tries 60202.
  async function checkCode(phone, code) {
    try {
      const check = await verify.verificationChecks.create({ to: phone, code });
      return check.status === 'approved' ? { ok: true } : { status: 401, error: 'wrong code' };
    } catch (e) {
      if (e.code === 20404) return { status: 410, error: 'the code expired or was used; ask for a new one' };
      if (e.code === 60202) return { status: 429, error: 'too many wrong codes; ask for a new one' };
      if (e.code === 60200) return { status: 400, error: e.message };
      throw e;
    }
  }

  const routes = {
    '/signup': async ({ phone }) => [202, await sendCode(phone)],
    '/signup/confirm': async ({ phone, code }) => {
      const result = await checkCode(phone, code);
      if (!result.ok) return [result.status, { error: result.error }];
      users.set(phone, { created: new Date().toISOString() });
      return [201, { phone, created: users.get(phone).created }];
    },
    '/login': async ({ phone }) => {
      if (!users.has(phone)) return [404, { error: 'no such user' }];
      return [202, await sendCode(phone)];
    },
    '/login/confirm': async ({ phone, code }) => {
      if (!users.has(phone)) return [404, { error: 'no such user' }];
      const result = await checkCode(phone, code);
      if (!result.ok) return [result.status, { error: result.error }];
      const token = crypto.randomBytes(16).toString('hex');
      sessions.set(token, phone);
      return [200, { session: token }];
    },
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      if (body.length < 4096) body += chunk;
    });
    req.on('end', async () => {
      const route = req.method === 'POST' ? routes[req.url] : undefined;
      let status = 404;
      let payload = { error: 'not found' };
      if (route) {
        try {
          [status, payload] = await route(JSON.parse(body || '{}'));
        } catch (e) {
          // Twilio's errors the application does not handle itself (rate limits...).
          status = e.status === 429 ? 429 : 502;
          payload = { error: e.message, twilio_code: e.code };
        }
      }
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(payload));
    });
  });
  return { server, sessions };
}

module.exports = { createApp };

if (require.main === module) {
  const makeClient = require('./client');
  const { server } = createApp({
    client: makeClient(process.env), serviceSid: process.env.TWILIO_VERIFY_SERVICE_SID,
  });
  server.listen(Number(process.env.PORT || 3000), '127.0.0.1');
}
