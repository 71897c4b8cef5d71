// A RESP2 reply as a value: status, error, integer, bulk string, nil or array (of replies).
// Produced by the client's reader; read by the store backend.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpd::store::redis {

class Reply {
 public:
  enum class Type { kNil, kStatus, kError, kInteger, kBulk, kArray };

  Reply() = default;  // nil
  static Reply nil() { return Reply(); }
  static Reply status(std::string text) { return Reply(Type::kStatus, std::move(text)); }
  static Reply error(std::string text) { return Reply(Type::kError, std::move(text)); }
  static Reply bulk(std::string bytes) { return Reply(Type::kBulk, std::move(bytes)); }
  static Reply integer(long long value);
  static Reply array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_status() const { return type_ == Type::kStatus; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_integer() const { return type_ == Type::kInteger; }
  bool is_bulk() const { return type_ == Type::kBulk; }
  bool is_array() const { return type_ == Type::kArray; }
  // A status or bulk reply that equals `text` ("OK", "PONG").
  bool is_text(std::string_view text) const {
    return (is_status() || is_bulk()) && string_ == text;
  }

  // The bytes of a bulk string, or the text of a status or error; empty for other types.
  const std::string& str() const { return string_; }
  std::string take_str() && { return std::move(string_); }
  // The value of an integer reply; 0 for other types.
  long long integer() const { return integer_; }
  // The elements of an array; empty for other types (an empty array is still kArray).
  const std::vector<Reply>& elements() const { return elements_; }
  std::vector<Reply>& elements() { return elements_; }

  // For tests and logs: RESP-like text, e.g. [bulk "a", int 3, nil]. Shows bulk bytes, so
  // never log a reply that can hold a secret.
  std::string debug_string() const;

  friend bool operator==(const Reply&, const Reply&) = default;

 private:
  Reply(Type type, std::string text) : type_(type), string_(std::move(text)) {}

  Type type_ = Type::kNil;
  long long integer_ = 0;
  std::string string_;
  std::vector<Reply> elements_;
};

}  // namespace otpd::store::redis
