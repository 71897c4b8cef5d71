// Starts the real otpd binary for the Twilio SDK tests, as tests/e2e/harness.py does: a
// temporary config and data dir, `otpd store init`, `otpd serve --unsafe-test-clock` on a free
// loopback port, /healthz polled with a deadline. Also a fake Twilio Messages API (the sms
// channel's peer) that records every SMS, so a test reads the code a person would receive.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const OTPD = process.env.OTPD_BIN || path.resolve(__dirname, '../../../build/bin/otpd');

const ACCOUNT_SID = 'AC' + crypto.randomBytes(16).toString('hex');
const AUTH_TOKEN = crypto.randomBytes(16).toString('hex');
const API_KEY_SID = 'SK' + crypto.randomBytes(16).toString('hex');
const API_KEY_SECRET = crypto.randomBytes(16).toString('hex');
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

// Verify Services, one tenant each, with the policies the tests need.
const SERVICES = {
  shop: 'VA' + crypto.randomBytes(16).toString('hex'),  // otpd's defaults
  strict: 'VA' + crypto.randomBytes(16).toString('hex'),  // 2 sends per window, no cooldown
  rated: 'VA' + crypto.randomBytes(16).toString('hex'),  // tenant send rate: 1 per ~17 min
  app: 'VA' + crypto.randomBytes(16).toString('hex'),  // the sample application's Service
};

async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Twilio's Messages API as otpd's sms channel calls it: a form POST to
// /2010-04-01/Accounts/{AC}/Messages.json, answered 201. Bodies are kept (bounded).
class SmsPeer {
  constructor() {
    this.messages = [];
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        if (body.length < 16384) body += chunk;
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (this.messages.length < 10000) {
          this.messages.push({ to: form.get('To'), body: form.get('Body') || '' });
        }
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ sid: 'SM' + crypto.randomBytes(16).toString('hex'), status: 'queued' }));
      });
    });
  }
  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }
  close() {
    this.server.closeAllConnections?.();
    return new Promise((resolve) => this.server.close(resolve));
  }
  count(to) {
    return this.messages.filter((m) => m.to === to).length;
  }
  // The code in the newest SMS to `to` once there are more than `seen` of them.
  async code(to, seen = 0) {
    const message = await waitFor(() => {
      const all = this.messages.filter((m) => m.to === to);
      return all.length > seen ? all[all.length - 1] : null;
    }, 10000, `an SMS to ${to}`);
    const match = /(\d{6})/.exec(message.body);
    if (!match) throw new Error(`no code in ${JSON.stringify(message.body)}`);
    return match[1];
  }
}

function toml(port, smsUrl) {
  const sms = (name) => `[tenants.${name}.channels.sms]
provider = "twilio"
account_sid = "AC00000000000000000000000000000000"
auth_token = "peer-token"
from = "+15005550006"
base_url = "${smsUrl}"
`;
  return `listen = "127.0.0.1:${port}"
log_level = "warn"
secrets = ["twilio-sdk-e2e-secret-0123456789"]

[twilio]
account_sid = "${ACCOUNT_SID}"
auth_tokens = ["sha256:${sha256(AUTH_TOKEN)}"]
api_keys = ["${API_KEY_SID}:sha256:${sha256(API_KEY_SECRET)}"]

[tenants.shop]
twilio_service_sid = "${SERVICES.shop}"
app_name = "Shop"
twilio_channels = { sms = "sms", email = "console" }
${sms('shop')}
[tenants.shop.channels.console]

[tenants.strict]
twilio_service_sid = "${SERVICES.strict}"
resend_cooldown_seconds = 0
max_sends_per_window = 2
${sms('strict')}
[tenants.rated]
twilio_service_sid = "${SERVICES.rated}"
send_rate_per_second = 0.001
${sms('rated')}
[tenants.app]
twilio_service_sid = "${SERVICES.app}"
app_name = "Sample App"
${sms('app')}`;
}

class Otpd {
  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otpd-twilio-'));
    this.sms = await new SmsPeer().start();
    this.port = await freePort();
    this.config = path.join(this.dir, 'otpd.toml');
    fs.writeFileSync(this.config, `data_dir = "${this.dir}/data"\n` + toml(this.port, this.sms.url));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTPD_')));
    delete env.AWS_LAMBDA_RUNTIME_API;
    const init = spawnSync(OTPD, ['store', 'init', '--config', this.config], { env, timeout: 30000 });
    if (init.status !== 0) throw new Error(`otpd store init failed: ${init.stderr}`);
    this.stdout = '';
    this.stderr = '';
    this.proc = spawn(OTPD, ['serve', '--config', this.config, '--unsafe-test-clock'], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.on('data', (d) => { if (this.stdout.length < 1 << 20) this.stdout += d; });
    this.proc.stderr.on('data', (d) => { if (this.stderr.length < 1 << 20) this.stderr += d; });
    this.url = `http://127.0.0.1:${this.port}`;
    await waitFor(async () => {
      if (this.proc.exitCode !== null) throw new Error(`otpd exited ${this.proc.exitCode}: ${this.stderr}`);
      try {
        return (await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        return false;
      }
    }, 15000, 'otpd /healthz');
    return this;
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    if (this.sms) await this.sms.close();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // Moves otpd's clock forward (serve --unsafe-test-clock).
  async advance(seconds) {
    const r = await fetch(`${this.url}/_test/clock`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ advance_seconds: seconds }),
    });
    if (r.status !== 200) throw new Error(`POST /_test/clock: ${r.status}`);
  }

  // The code the console channel printed for verification `sid` (email, in these tests).
  async consoleCode(sid) {
    return waitFor(() => {
      for (const line of this.stdout.split('\n')) {
        try {
          const m = JSON.parse(line);
          if (m.id === sid) return m.code;
        } catch { /* not a delivery line */ }
      }
      return null;
    }, 10000, `the console delivery of ${sid}`);
  }
}

let counter = Math.floor(Math.random() * 1e6);
// A fresh E.164 number, so tests never share a recipient's limits.
function newPhone() {
  counter += 1;
  return `+1415${String(counter % 1e7).padStart(7, '0')}`;
}

module.exports = {
  Otpd, SmsPeer, SERVICES, ACCOUNT_SID, AUTH_TOKEN, API_KEY_SID, API_KEY_SECRET, newPhone, waitFor,
};
