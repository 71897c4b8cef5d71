// dynamodb://TABLE?region=R&endpoint=URL&timeout_ms=N -> DynamoDbUrl.
#include "store/dynamodb/dynamodb_url.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

namespace otpd::store {
namespace {

constexpr std::string_view kScheme = "dynamodb://";

bool valid_table(std::string_view name) {
  return name.size() >= 3 && name.size() <= 255 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
         });
}

}  // namespace

std::optional<DynamoDbUrl> parse_dynamodb_url(std::string_view url, std::string& why) {
  if (!url.starts_with(kScheme)) {
    why = "not a dynamodb:// URL";
    return std::nullopt;
  }
  // The table is the authority: boost.url would read "a:b" there as a host and a port.
  const std::string_view rest = url.substr(kScheme.size());
  const auto query_at = rest.find('?');
  const std::string_view table = rest.substr(0, query_at);
  if (!valid_table(table)) {
    why =
        "expected dynamodb://TABLE?region=R: a table name of 3 to 255 letters, digits, '_', '.' "
        "or '-'";
    return std::nullopt;
  }
  DynamoDbUrl out;
  out.table = std::string(table);
  if (query_at == std::string_view::npos) return out;

  // A url_view points into the text it parsed: the text must outlive it.
  const std::string query_url = "dynamodb://t" + std::string(rest.substr(query_at));
  const auto parsed = boost::urls::parse_uri(query_url);
  if (!parsed || parsed->has_fragment()) {
    why = "the part after '?' is not a URL query (region=R&endpoint=URL)";
    return std::nullopt;
  }
  bool seen_region = false, seen_endpoint = false, seen_timeout = false;
  for (const auto& param : parsed->params()) {
    const std::string& key = param.key;
    auto once = [&](bool& seen) {
      if (seen) why = "\"" + key + "\" is given twice";
      seen = true;
      return why.empty();
    };
    if (key == "region") {
      if (!once(seen_region)) return std::nullopt;
      out.region = param.value;
    } else if (key == "endpoint") {
      if (!once(seen_endpoint)) return std::nullopt;
      out.endpoint = param.value;
    } else if (key == "timeout_ms") {
      if (!once(seen_timeout)) return std::nullopt;
      long long ms = 0;
      const auto* end = param.value.data() + param.value.size();
      const auto [ptr, ec] = std::from_chars(param.value.data(), end, ms);
      if (ec != std::errc() || ptr != end || ms < 100 || ms > 60'000) {
        why = "timeout_ms must be a number of milliseconds between 100 and 60000";
        return std::nullopt;
      }
      out.timeout = std::chrono::milliseconds(ms);
    } else {
      why = "unknown parameter \"" + (key.size() <= 32 ? key : key.substr(0, 32) + "...") +
            "\" (known: region, endpoint, timeout_ms)";
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace otpd::store
