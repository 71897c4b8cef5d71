// Reply's constructors and its debug text.
#include "store/redis/reply.hpp"

namespace otpd::store::redis {

Reply Reply::integer(long long value) {
  Reply reply;
  reply.type_ = Type::kInteger;
  reply.integer_ = value;
  return reply;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply reply;
  reply.type_ = Type::kArray;
  reply.elements_ = std::move(elements);
  return reply;
}

std::string Reply::debug_string() const {
  switch (type_) {
    case Type::kNil:
      return "nil";
    case Type::kStatus:
      return "status \"" + string_ + "\"";
    case Type::kError:
      return "error \"" + string_ + "\"";
    case Type::kInteger:
      return "int " + std::to_string(integer_);
    case Type::kBulk:
      return "bulk \"" + string_ + "\"";
    case Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements_[i].debug_string();
      }
      return out + "]";
    }
  }
  return "?";
}

}  // namespace otpd::store::redis
