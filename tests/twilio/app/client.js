// How the sample application builds its Twilio client: the only file that differs between
// the application on Twilio Verify and the same application on otpd.
//
// On Twilio Verify this file read:
//
//   const twilio = require('twilio');
//   module.exports = (env) => twilio(env.TWILIO_ACCOUNT_SID, env.TWILIO_AUTH_TOKEN);
//
// On otpd, one line is added: the Verify domain's base URL.
'use strict';

const twilio = require('twilio');

module.exports = (env) => {
  const client = twilio(env.TWILIO_ACCOUNT_SID, env.TWILIO_AUTH_TOKEN);
  client.verify.baseUrl = env.OTPD_URL;
  return client;
};
