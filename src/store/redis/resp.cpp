// RESP2 encoding, and the redisReader callbacks that build Reply trees without going
// through hiredis' own redisReply objects.
#include "store/redis/resp.hpp"

#include <hiredis/read.h>

#include <charconv>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

namespace otpd::store::redis {
namespace {

// A server announcing more elements than this is treated as broken rather than trusted
// with an allocation of that size.
constexpr int kMaxArrayElements = 1 << 20;

void append_number(std::string& out, char prefix, std::size_t n) {
  char buffer[24];
  buffer[0] = prefix;
  auto [end, ec] = std::to_chars(buffer + 1, buffer + sizeof buffer, n);
  out.append(buffer, end);
  out += "\r\n";
}

// hiredis hands each new value to its parent by index (`task->idx`); the parent array was
// sized when it was created, so children are stored in place and only the root is owned
// by the pointer hiredis keeps (and frees through free_object on error).
void* place(const redisReadTask* task, Reply&& value) noexcept {
  try {
    if (task->parent != nullptr) {
      auto* parent = static_cast<Reply*>(task->parent->obj);
      auto& slot = parent->elements().at(static_cast<std::size_t>(task->idx));
      slot = std::move(value);
      return &slot;
    }
    return new Reply(std::move(value));
  } catch (const std::exception&) {
    return nullptr;  // hiredis reports it as out of memory and the connection is closed
  }
}

void* create_string(const redisReadTask* task, char* data, size_t size) {
  try {
    std::string text(data, size);
    switch (task->type) {
      case REDIS_REPLY_STATUS:
        return place(task, Reply::status(std::move(text)));
      case REDIS_REPLY_ERROR:
        return place(task, Reply::error(std::move(text)));
      default:
        return place(task, Reply::bulk(std::move(text)));
    }
  } catch (const std::exception&) {
    return nullptr;
  }
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || elements > kMaxArrayElements) return nullptr;
  try {
    return place(task, Reply::array(std::vector<Reply>(static_cast<std::size_t>(elements))));
  } catch (const std::exception&) {
    return nullptr;
  }
}

void* create_integer(const redisReadTask* task, long long value) {
  return place(task, Reply::integer(value));
}

void* create_nil(const redisReadTask* task) { return place(task, Reply::nil()); }

void free_object(void* object) { delete static_cast<Reply*>(object); }

redisReplyObjectFunctions kFunctions = {create_string, create_array, create_integer, create_nil,
                                        free_object};

Error protocol_error(std::string what) { return Error{Errc::kProtocol, std::move(what)}; }

}  // namespace

void append_array_header(std::string& out, std::size_t count) { append_number(out, '*', count); }

void append_bulk(std::string& out, std::string_view arg) {
  append_number(out, '$', arg.size());
  out.append(arg);
  out += "\r\n";
}

void append_command(std::string& out, std::span<const std::string> args) {
  append_array_header(out, args.size());
  for (const auto& arg : args) append_bulk(out, arg);
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_array_header(out, args.size());
  for (auto arg : args) append_bulk(out, arg);
}

ReplyReader::ReplyReader(std::size_t max_pending_bytes)
    : reader_(redisReaderCreateWithFunctions(&kFunctions)), max_pending_bytes_(max_pending_bytes) {
  if (reader_ == nullptr) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

Result<void> ReplyReader::feed(const char* data, std::size_t size) {
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) {
    return protocol_error(std::string("reply parser: ") + reader_->errstr);
  }
  return {};
}

Result<std::optional<Reply>> ReplyReader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    return protocol_error(std::string("reply parser: ") + reader_->errstr);
  }
  if (raw == nullptr) {
    if (reader_->len - reader_->pos > max_pending_bytes_) {
      return protocol_error("reply larger than " + std::to_string(max_pending_bytes_) + " bytes");
    }
    return std::optional<Reply>();
  }
  std::unique_ptr<Reply> owned(static_cast<Reply*>(raw));
  return std::optional<Reply>(std::move(*owned));
}

}  // namespace otpd::store::redis
