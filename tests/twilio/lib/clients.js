// The two ways to point Twilio's official Node SDK at otpd without touching any call site:
// set the Verify domain's base URL, or hand the client an httpClient that sends Verify's
// requests to otpd. Both are what an application changes, and nothing else.
'use strict';

const twilio = require('twilio');
const { ACCOUNT_SID, AUTH_TOKEN } = require('./otpd');

// 1. client.verify.baseUrl: every Verify request (and the absolute next_page_url otpd
// returns) goes to otpd. The SDK rewrites host names when TWILIO_REGION / TWILIO_EDGE (or the
// region / edge options) are set, so leave those unset with this way.
function withBaseUrl(otpdUrl, options = {}) {
  const client = twilio(options.username || ACCOUNT_SID, options.password || AUTH_TOKEN, options);
  client.verify.baseUrl = otpdUrl;
  return client;
}

// 2. A custom httpClient: the SDK builds https://verify[.edge][.region].twilio.com/v2/… as
// usual and this client sends every /v2/ request to otpd instead. Works whatever region and
// edge say.
class OtpdRequestClient extends twilio.RequestClient {
  constructor(otpdUrl, options) {
    super(options);
    this.otpdUrl = otpdUrl;
  }

  request(opts) {
    const url = new URL(opts.uri);
    if (url.pathname.startsWith('/v2/')) {
      opts = { ...opts, uri: this.otpdUrl + url.pathname + url.search };
    }
    return super.request(opts);
  }
}

function withHttpClient(otpdUrl, options = {}) {
  return twilio(options.username || ACCOUNT_SID, options.password || AUTH_TOKEN, {
    ...options,
    httpClient: new OtpdRequestClient(otpdUrl),
  });
}

module.exports = { withBaseUrl, withHttpClient, OtpdRequestClient };
