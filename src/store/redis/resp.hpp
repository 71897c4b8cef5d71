// RESP2 on the wire: commands are encoded here (arrays of bulk strings); replies are parsed
// by hiredis' redisReader, which builds Reply values directly through its callbacks.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "store/redis/error.hpp"
#include "store/redis/reply.hpp"

struct redisReader;

namespace otpd::store::redis {

// Appends `*<count>\r\n`: the header of a command of `count` arguments.
void append_array_header(std::string& out, std::size_t count);
// Appends one argument as `$<len>\r\n<bytes>\r\n` (binary-safe).
void append_bulk(std::string& out, std::string_view arg);
// Appends a whole command.
void append_command(std::string& out, std::span<const std::string> args);
void append_command(std::string& out, std::initializer_list<std::string_view> args);

// Incremental reply parser for one connection. Not thread-safe.
class ReplyReader {
 public:
  // A reply still incomplete after `max_pending_bytes` of it were buffered is a protocol
  // error, so a broken or hostile server cannot make the client buffer without bound.
  explicit ReplyReader(std::size_t max_pending_bytes);
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // Buffers bytes read from the socket. kProtocol once the stream is known to be broken.
  Result<void> feed(const char* data, std::size_t size);
  // The next complete reply, or nullopt when more bytes are needed. After an error the
  // reader stays failed: the connection must be closed.
  Result<std::optional<Reply>> next();

 private:
  redisReader* reader_;
  std::size_t max_pending_bytes_;
};

}  // namespace otpd::store::redis
