// Runs sigv4_oracle.py (botocore's SigV4Auth under /usr/bin/python3, Debian's
// python3-botocore) on requests, so the tests check the signer against an implementation
// they did not write.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/credentials.hpp"
#include "core/crypto.hpp"
#include "net/http_client.hpp"

namespace otpd::aws::testing {

struct OracleCase {
  net::HttpRequest request;  // as it was before signing
  // The decoded query, handed to botocore to encode itself; the request's URL then carries
  // the same query encoded by the test, and botocore is given the URL without it.
  std::optional<std::vector<std::pair<std::string, std::string>>> params;
  Credentials credentials;
  std::string region;
  std::string service;
  std::string timestamp;  // "20150830T123600Z"
};

// ctest names the script (tests/CMakeLists.txt). __FILE__ is only a fallback for running the
// binary by hand: under `make`, ccache's CCACHE_BASEDIR makes it relative to the build
// directory, which is not where the tests run.
inline std::string oracle_script() {
  if (const char* configured = std::getenv("OTPD_SIGV4_ORACLE")) return configured;
  return (std::filesystem::path(__FILE__).parent_path() / "sigv4_oracle.py").string();
}

// The Authorization header botocore computes for each case; fails the test and returns
// nullopt when the oracle cannot run.
inline std::optional<std::vector<std::string>> botocore_sign(const std::vector<OracleCase>& cases) {
  boost::json::array input;
  for (const auto& c : cases) {
    boost::json::object o;
    o["method"] = c.request.method;
    std::string url = c.request.url;
    if (c.params) url = url.substr(0, url.find('?'));
    o["url"] = url;
    boost::json::array headers;
    for (const auto& [name, value] : c.request.headers) headers.push_back({name, value});
    o["headers"] = std::move(headers);
    o["body_b64"] = core::base64_encode(c.request.body);
    if (c.params) {
      boost::json::array params;
      for (const auto& [key, value] : *c.params) params.push_back({key, value});
      o["params"] = std::move(params);
    }
    o["access_key"] = c.credentials.access_key_id;
    o["secret_key"] = c.credentials.secret_access_key;
    o["token"] = c.credentials.session_token;
    o["region"] = c.region;
    o["service"] = c.service;
    o["timestamp"] = c.timestamp;
    input.push_back(std::move(o));
  }
  char path[] = "/tmp/otpd-sigv4-oracle-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    ADD_FAILURE() << "mkstemp failed";
    return std::nullopt;
  }
  ::close(fd);
  { std::ofstream(path, std::ios::binary) << boost::json::serialize(input); }
  const std::string command = "/usr/bin/python3 " + oracle_script() + " < " + path;
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    const int status = ::pclose(pipe);
    std::filesystem::remove(path);
    if (status != 0) {
      ADD_FAILURE() << "the botocore oracle failed (status " << status
                    << "); it needs /usr/bin/python3 with python3-botocore";
      return std::nullopt;
    }
  } else {
    std::filesystem::remove(path);
    ADD_FAILURE() << "cannot run " << command;
    return std::nullopt;
  }
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(output, ec);
  if (ec || !parsed.is_array()) {
    ADD_FAILURE() << "unexpected oracle output: " << output;
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& v : parsed.as_array()) out.emplace_back(v.as_string());
  return out;
}

}  // namespace otpd::aws::testing
