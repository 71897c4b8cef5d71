// AWS Signature Version 4 for outbound requests (header signing, as SES, SNS and DynamoDB
// expect it): the canonical request of the AWS spec, hashed and signed with a key derived
// from the secret, date, region and service.
#pragma once

#include <string>
#include <string_view>

#include "aws/credentials.hpp"
#include "core/types.hpp"
#include "net/http_client.hpp"

namespace otpd::aws {

// Adds X-Amz-Date, X-Amz-Security-Token (when the credentials carry a session token) and
// Authorization to `request`, replacing any earlier copies so a retry can sign again. Every
// header of the request is signed (names case-insensitively, values trimmed, repeated names
// joined with ','), plus `host` as HttpClient will send it, except those the client owns
// (Content-Length, Connection, Transfer-Encoding), User-Agent, Expect and X-Amzn-Trace-Id.
// The body is hashed as is: no X-Amz-Content-Sha256 is added (S3 would need it).
// A URL HttpClient cannot parse is left unsigned: sending it fails anyway.
//
// The URL must already be percent-encoded. Its path is signed as the spec asks for services
// other than S3: dot segments and empty segments removed, then encoded once more. Query
// parameters are decoded, encoded again with only unreserved bytes kept (so a space is %20),
// and sorted; a '+' in a query is a literal plus sign (RFC 3986), not a space.
void sign_sigv4(net::HttpRequest& request, const Credentials& credentials, std::string_view region,
                std::string_view service, core::TimePoint now);

namespace sigv4_detail {
// Parts of the canonical request, exposed for tests.
std::string canonical_uri(std::string_view encoded_path);
std::string canonical_query(std::string_view encoded_query);
std::string amz_date(core::TimePoint now);  // "20150830T123600Z"
// The whole canonical request of `request` as sign_sigv4 would sign it (headers included).
std::string canonical_request(const net::HttpRequest& request);
}  // namespace sigv4_detail

}  // namespace otpd::aws
