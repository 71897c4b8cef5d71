// The bytes of a response head: status line, the handler's headers (framing ones excepted)
// and the framing this server decides, written into a buffer the connection reuses.
#pragma once

#include <string>

#include "api/message.hpp"

namespace otpd::http {

// Makes `response` sendable and writes its head into `out` (cleared first; its capacity is
// kept, so a connection's steady state allocates nothing here). A status Beast could not print
// or outside 200-599 becomes a 500 (keeping X-Request-Id); 204 and 304 lose their body. Header
// names that are not tokens, values holding CR, LF or NUL (they would forge headers or a second
// response), and framing fields (Content-Length, Transfer-Encoding, Connection, Keep-Alive) are
// dropped: framing belongs to the transport. The body to send after the head is
// `response.body`, unless the request was HEAD.
void write_head(api::Response& response, int version, bool keep_alive, std::string& out);

}  // namespace otpd::http
