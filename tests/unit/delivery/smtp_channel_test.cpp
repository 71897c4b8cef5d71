// The SMTP channel against a scripted SMTP server in the test process, over real loopback
// sockets: the dialogue, the message it carries, the outcome of each kind of answer, TLS
// (STARTTLS and implicit, certificates checked against the trust store and the host name),
// AUTH, and the deadline.
#include "delivery/smtp_channel.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../support/test_certificate.hpp"
#include "core/clock.hpp"

namespace otpd::delivery {
namespace {

using namespace std::chrono_literals;
using testing_support::Credentials;
using testing_support::make_self_signed;
using testing_support::remove_trust_file;
using testing_support::server_context;
using testing_support::trust_file;
using testing_support::write_trust_file;

constexpr long long kNowMs = 1'700'000'000'500;  // Tue, 14 Nov 2023 22:13:20.5 UTC
constexpr const char* kRecipient = "alice@example.com";
constexpr const char* kCode = "918273";

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Decoding written here rather than borrowed from the code under test.
std::string base64_decode(const std::string& in) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    const auto index = alphabet.find(c);
    if (index == std::string::npos) continue;  // CRLF, padding
    buffer = (buffer << 6) | static_cast<unsigned>(index);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string base64(const std::string& in) {
  // Encoding for building expected AUTH lines, again independent of the channel's code.
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

// RFC 2047: "=?UTF-8?B?...?=" words decoded, whitespace between adjacent words dropped.
std::string decode_words(const std::string& value) {
  static const std::regex word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=)", std::regex::icase);
  std::string out;
  auto it = value.cbegin();
  bool after_word = false;
  std::smatch m;
  while (std::regex_search(it, value.cend(), m, word)) {
    std::string between(it, m[0].first);
    if (!(after_word && between.find_first_not_of(" \t") == std::string::npos)) out += between;
    out += base64_decode(m[1].str());
    it = m[0].second;
    after_word = true;
  }
  out.append(it, value.cend());
  return out;
}

// A message or MIME part: unfolded headers (names lower-cased) and the body.
struct Part {
  std::map<std::string, std::string> headers;
  std::string body;
};

Part parse_part(const std::string& text) {
  Part part;
  const auto split = text.find("\r\n\r\n");
  std::string head = text.substr(0, split);
  part.body = split == std::string::npos ? "" : text.substr(split + 4);
  head = std::regex_replace(head, std::regex("\r\n[ \t]"), " ");  // unfold
  std::size_t start = 0;
  while (start < head.size()) {
    auto end = head.find("\r\n", start);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(start, end - start);
    const auto colon = line.find(':');
    part.headers[lower(line.substr(0, colon))] =
        line.substr(line.find_first_not_of(' ', colon + 1));
    start = end + 2;
  }
  return part;
}

// The parts of a multipart body, split at the boundary's delimiter lines.
std::vector<Part> split_multipart(const std::string& body, const std::string& boundary) {
  std::vector<Part> parts;
  const std::string delimiter = "--" + boundary;
  auto at = body.find(delimiter + "\r\n");
  while (at != std::string::npos) {
    const auto start = at + delimiter.size() + 2;
    const auto next = body.find("\r\n" + delimiter, start);
    if (next == std::string::npos) break;
    parts.push_back(parse_part(body.substr(start, next - start)));
    at = body.compare(next + 2 + delimiter.size(), 2, "--") == 0 ? std::string::npos : next + 2;
  }
  return parts;
}

// --- the fake server -----------------------------------------------------------------

// What the server does; the stages are the command verbs, plus "greeting" (the banner)
// and "message" (the reply after the terminating dot).
struct Script {
  bool implicit_tls = false;
  bool offer_starttls = false;
  std::vector<std::string> auth;  // mechanisms listed in EHLO
  bool auth_only_after_tls = false;
  std::string user = "user";  // the credentials AUTH accepts
  std::string password = "secret";
  std::string fail_at;  // answer `fail_reply` at this stage instead of the normal reply
  std::string fail_reply;
  std::string silent_at;  // never answer from this stage on
};

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

// One accepted connection, plain until start_tls().
class ServerConnection {
 public:
  ServerConnection(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
  ~ServerConnection() {
    if (ssl_) SSL_free(ssl_);
    ::close(fd_);
  }
  bool start_tls(SSL_CTX* context) {
    ssl_ = SSL_new(context);
    SSL_set_fd(ssl_, fd_);
    const bool ok = SSL_accept(ssl_) == 1;
    ERR_clear_error();
    return ok;
  }
  std::optional<std::string> read_line() {
    std::size_t end = 0;
    while ((end = input_.find("\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    std::string line = input_.substr(0, end);
    input_.erase(0, end + 2);
    return line;
  }
  void send(const std::string& data) {
    if (ssl_) {
      SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    } else {
      ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    }
  }
  // Says nothing more; returns once the client hangs up.
  void hold() {
    while (fill()) input_.clear();
  }

 private:
  bool fill() {
    while (!stopping_) {
      if (!(ssl_ && SSL_pending(ssl_) > 0) && !readable(fd_, 20ms)) continue;
      char scratch[4096];
      const int n = ssl_ ? SSL_read(ssl_, scratch, sizeof scratch)
                         : static_cast<int>(::recv(fd_, scratch, sizeof scratch, 0));
      if (n <= 0) return false;
      input_.append(scratch, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  int fd_;
  const std::atomic<bool>& stopping_;
  SSL* ssl_ = nullptr;
  std::string input_;
};

// Serves one connection at a time on a thread, following a Script, and records every line
// the client sent ("<tls>" marks a completed handshake) and the DATA as it travelled.
class FakeSmtpServer {
 public:
  explicit FakeSmtpServer(Script script, const Credentials* tls = nullptr,
                          const std::string& address = "127.0.0.1")
      : script_(std::move(script)) {
    ::signal(SIGPIPE, SIG_IGN);  // SSL_write to a client that hung up
    if (tls) context_ = server_context(*tls);
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    socklen_t length = sizeof sa;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&sa), length) != 0 ||
        ::listen(listener_, 16) != 0) {
      throw std::runtime_error("cannot listen on " + address);
    }
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&sa), &length);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~FakeSmtpServer() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
    if (context_) SSL_CTX_free(context_);
  }

  std::string port() const { return std::to_string(port_); }
  std::vector<std::string> commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  // The DATA as received (dot-stuffed, without the terminating line).
  std::string wire_data() {
    std::lock_guard lock(mutex_);
    return data_;
  }
  // The message after undoing the dot-stuffing.
  std::string message() {
    std::string out;
    const std::string wire = wire_data();
    std::size_t start = 0;
    while (start < wire.size()) {
      const auto end = wire.find("\r\n", start) + 2;
      out += wire.substr(wire[start] == '.' ? start + 1 : start,
                         end - (wire[start] == '.' ? start + 1 : start));
      start = end;
    }
    return out;
  }
  int handshakes() const { return handshakes_.load(); }
  bool finished() const { return finished_.load(); }

 private:
  void record(const std::string& line) {
    std::lock_guard lock(mutex_);
    commands_.push_back(line);
  }

  void accept_loop() {
    while (!stopping_) {
      if (!readable(listener_, 20ms)) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      ServerConnection connection(fd, stopping_);
      serve(connection);
      finished_ = true;
    }
  }

  // The reply to `stage`, or the scripted failure; false to stop answering.
  bool reply(ServerConnection& c, const std::string& stage, const std::string& normal) {
    if (script_.silent_at == stage) {
      c.hold();
      return false;
    }
    c.send(script_.fail_at == stage ? script_.fail_reply : normal);
    return true;
  }

  std::string ehlo_reply(bool tls) const {
    std::string out = "250-fake.test greets you\r\n250-PIPELINING\r\n";
    if (script_.offer_starttls && !tls) out += "250-STARTTLS\r\n";
    if (!script_.auth.empty() && (tls || !script_.auth_only_after_tls)) {
      out += "250-AUTH";
      for (const auto& m : script_.auth) out += " " + m;
      out += "\r\n";
    }
    return out + "250 8BITMIME\r\n";
  }

  void serve(ServerConnection& c) {
    bool tls = false;
    if (script_.implicit_tls) {
      if (!c.start_tls(context_)) return;
      ++handshakes_;
      tls = true;
      record("<tls>");
    }
    if (!reply(c, "greeting", "220 fake.test ESMTP ready\r\n")) return;
    while (auto line = c.read_line()) {
      record(*line);
      const std::string verb = upper(line->substr(0, line->find_first_of(" :")));
      if (verb == "AUTH" && !authenticate(c, *line)) return;
      if (verb == "AUTH") continue;
      if (verb == "DATA") {
        if (!reply(c, "DATA", "354 end with <CRLF>.<CRLF>\r\n")) return;
        if (script_.fail_at == "DATA") continue;
        std::string data;
        while (auto data_line = c.read_line()) {
          if (*data_line == ".") break;
          data += *data_line + "\r\n";
        }
        {
          std::lock_guard lock(mutex_);
          data_ = data;
        }
        if (!reply(c, "message", "250 2.0.0 queued as 42\r\n")) return;
        continue;
      }
      if (verb == "STARTTLS" && script_.offer_starttls && !tls && script_.fail_at != verb) {
        if (!reply(c, verb, "220 2.0.0 ready to start TLS\r\n")) return;
        if (!c.start_tls(context_)) {
          record("<tls failed>");
          return;
        }
        ++handshakes_;
        tls = true;
        record("<tls>");
        continue;
      }
      std::string normal = "250 2.0.0 ok\r\n";
      if (verb == "EHLO") normal = ehlo_reply(tls);
      if (verb == "RCPT") normal = "250 2.1.5 <" + line->substr(9) + "> ok\r\n";
      if (verb == "QUIT") normal = "221 2.0.0 bye\r\n";
      if (verb == "STARTTLS") normal = "454 4.7.0 TLS not available\r\n";
      if (!reply(c, verb, normal)) return;
      if (verb == "QUIT") return;
    }
  }

  // AUTH PLAIN with its initial response, or AUTH LOGIN's two challenges.
  bool authenticate(ServerConnection& c, const std::string& line) {
    const std::string expected_plain =
        base64(std::string(1, '\0') + script_.user + '\0' + script_.password);
    bool accepted = false;
    if (upper(line.substr(0, 11)) == "AUTH PLAIN ") {
      accepted = line.substr(11) == expected_plain;
    } else if (upper(line) == "AUTH LOGIN") {
      c.send("334 VXNlcm5hbWU6\r\n");
      const auto user = c.read_line();
      if (!user) return false;
      record(*user);
      c.send("334 UGFzc3dvcmQ6\r\n");
      const auto password = c.read_line();
      if (!password) return false;
      record(*password);
      accepted = *user == base64(script_.user) && *password == base64(script_.password);
    }
    return reply(c, "AUTH",
                 accepted ? "235 2.7.0 authenticated\r\n" : "535 5.7.8 bad credentials\r\n");
  }

  Script script_;
  SSL_CTX* context_ = nullptr;
  int listener_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_{0};
  std::atomic<bool> finished_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> commands_;
  std::string data_;
};

// --- the tests -------------------------------------------------------------------------

Message sample() {
  Message m;
  m.tenant = core::TenantId("acme");
  m.id = core::VerificationId("v_abc");
  m.channel = core::ChannelKind::kEmail;
  m.to = kRecipient;
  m.code = kCode;
  m.locale = "de";
  m.expires_at = core::from_unix_ms(kNowMs + 300'000);
  m.subject = "Dein Code für Acme";
  m.text = std::string("Dein Code: ") + kCode + "\nEr läuft in 5 Minuten ab.";
  m.html = std::string("<p>Dein Code: <b>") + kCode + "</b></p>";
  return m;
}

std::string crlf(std::string s) { return std::regex_replace(s, std::regex("\n"), "\r\n"); }

class SmtpChannelTest : public ::testing::Test {
 protected:
  Attempt deliver(SmtpChannel& channel, const Message& message) {
    std::optional<Attempt> result;
    std::exception_ptr failure;
    boost::asio::co_spawn(io_, channel.deliver(message), [&](std::exception_ptr e, Attempt a) {
      failure = e;
      result = std::move(a);
    });
    io_.restart();
    io_.run();
    if (failure) std::rethrow_exception(failure);
    return *result;
  }

  std::unique_ptr<SmtpChannel> channel(const std::string& url,
                                       const std::string& from = "Acme <no-reply@acme.test>",
                                       std::chrono::milliseconds timeout = 10s) {
    return std::make_unique<SmtpChannel>(io_.get_executor(), clock_, url, from, timeout);
  }

  // Neither the code nor the recipient nor the password may reach a log line.
  static void expect_clean_detail(const Attempt& attempt) {
    EXPECT_EQ(attempt.detail.find(kRecipient), std::string::npos) << attempt.detail;
    EXPECT_EQ(attempt.detail.find("alice"), std::string::npos) << attempt.detail;
    EXPECT_EQ(attempt.detail.find(kCode), std::string::npos) << attempt.detail;
    EXPECT_EQ(attempt.detail.find("secret"), std::string::npos) << attempt.detail;
  }

  boost::asio::io_context io_;
  core::ManualTimeSource clock_{core::from_unix_ms(kNowMs)};
};

TEST_F(SmtpChannelTest, PlainDialogueCarriesAMultipartMessage) {
  FakeSmtpServer server(Script{});
  auto smtp = channel("smtp://127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  EXPECT_EQ(attempt.detail, "smtp message answered 250");
  EXPECT_EQ(server.commands(),
            (std::vector<std::string>{"EHLO [127.0.0.1]", "MAIL FROM:<no-reply@acme.test>",
                                      "RCPT TO:<alice@example.com>", "DATA", "QUIT"}));

  const std::string wire = server.message();
  EXPECT_FALSE(std::regex_search(wire, std::regex("[^\r]\n")));  // CRLF line ends only
  const Part message = parse_part(wire);
  EXPECT_EQ(message.headers.at("from"), "Acme <no-reply@acme.test>");
  EXPECT_EQ(message.headers.at("to"), kRecipient);
  EXPECT_NE(message.headers.at("subject").find("=?UTF-8?B?"), std::string::npos);
  EXPECT_EQ(decode_words(message.headers.at("subject")), "Dein Code für Acme");
  EXPECT_EQ(message.headers.at("date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_TRUE(
      std::regex_match(message.headers.at("message-id"), std::regex("<[0-9a-f]{32}@acme\\.test>")))
      << message.headers.at("message-id");
  EXPECT_EQ(message.headers.at("mime-version"), "1.0");

  std::smatch boundary;
  const std::string content_type = message.headers.at("content-type");
  ASSERT_TRUE(std::regex_search(content_type, boundary,
                                std::regex("^multipart/alternative; boundary=\"([^\"]+)\"$")))
      << content_type;
  const auto parts = split_multipart(message.body, boundary[1].str());
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].headers.at("content-type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(parts[0].headers.at("content-transfer-encoding"), "base64");
  EXPECT_EQ(base64_decode(parts[0].body), crlf(sample().text));
  EXPECT_EQ(parts[1].headers.at("content-type"), "text/html; charset=UTF-8");
  EXPECT_EQ(parts[1].headers.at("content-transfer-encoding"), "base64");
  EXPECT_EQ(base64_decode(parts[1].body), sample().html);
  for (const auto& part : parts) {  // base64 lines of at most 76 characters
    EXPECT_TRUE(
        std::regex_match(part.body, std::regex("([A-Za-z0-9+/=]{1,76}\r\n)*[A-Za-z0-9+/=]{1,76}")))
        << part.body;
  }
}

TEST_F(SmtpChannelTest, TextOnlyMessageIsOnePartAndLinesStartingWithADotAreStuffed) {
  FakeSmtpServer server(Script{});
  auto smtp = channel("smtp://127.0.0.1:" + server.port(), "no-reply@acme.test");
  Message message = sample();
  message.subject = "Your code";
  message.html.clear();
  message.text = "Your code is 918273.\n.\n..two dots\n.hidden\nend";
  const Attempt attempt = deliver(*smtp, message);
  ASSERT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;

  const std::string wire = server.wire_data();
  EXPECT_NE(wire.find("\r\n..\r\n...two dots\r\n..hidden\r\nend\r\n"), std::string::npos) << wire;
  const Part received = parse_part(server.message());
  EXPECT_EQ(received.headers.at("from"), "no-reply@acme.test");
  EXPECT_EQ(received.headers.at("subject"), "Your code");
  EXPECT_EQ(received.headers.at("content-type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(received.headers.at("content-transfer-encoding"), "7bit");
  EXPECT_EQ(received.body, crlf(message.text) + "\r\n");
}

TEST_F(SmtpChannelTest, TransientReplyAtRcptIsTransient) {
  Script script;
  script.fail_at = "RCPT";
  script.fail_reply = "450 4.2.1 <alice@example.com> mailbox busy, try later\r\n";
  FakeSmtpServer server(script);
  auto smtp = channel("smtp://127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail, "smtp RCPT answered 450");
  expect_clean_detail(attempt);
  const auto commands = server.commands();
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.back(), "QUIT");  // no DATA after a refused recipient
}

TEST_F(SmtpChannelTest, PermanentMultiLineReplyAtRcptIsPermanentAndNamesNoRecipient) {
  Script script;
  script.fail_at = "RCPT";
  script.fail_reply =
      "550-5.1.1 <alice@example.com>: recipient address rejected\r\n"
      "550 5.1.1 user unknown in virtual mailbox table\r\n";
  FakeSmtpServer server(script);
  auto smtp = channel("smtp://127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kPermanent);
  EXPECT_EQ(attempt.detail, "smtp RCPT answered 550");
  expect_clean_detail(attempt);
}

TEST_F(SmtpChannelTest, RepliesAtOtherStagesMapTheSameWay) {
  struct Case {
    std::string stage, reply, detail;
    AttemptResult result;
  };
  for (const Case& c : {
           Case{"greeting", "421 4.3.2 shutting down\r\n", "smtp greeting answered 421",
                AttemptResult::kTransient},
           Case{"greeting", "554 5.3.2 no service\r\n", "smtp greeting answered 554",
                AttemptResult::kPermanent},
           Case{"MAIL", "451 4.3.0 try later\r\n", "smtp MAIL answered 451",
                AttemptResult::kTransient},
           Case{"DATA", "554 5.5.1 no valid recipients\r\n", "smtp DATA answered 554",
                AttemptResult::kPermanent},
           Case{"message", "552 5.3.4 message too big\r\n", "smtp message answered 552",
                AttemptResult::kPermanent},
           Case{"message", "452 4.3.1 insufficient storage\r\n", "smtp message answered 452",
                AttemptResult::kTransient},
           Case{"MAIL", "garbage\r\n", "smtp MAIL: malformed reply", AttemptResult::kTransient},
       }) {
    SCOPED_TRACE(c.stage + " " + c.reply);
    Script script;
    script.fail_at = c.stage;
    script.fail_reply = c.reply;
    FakeSmtpServer server(script);
    auto smtp = channel("smtp://127.0.0.1:" + server.port());
    const Attempt attempt = deliver(*smtp, sample());
    EXPECT_EQ(attempt.result, c.result);
    EXPECT_EQ(attempt.detail, c.detail);
  }
}

TEST_F(SmtpChannelTest, HeloWhenEhloIsRefused) {
  Script script;
  script.fail_at = "EHLO";
  script.fail_reply = "502 5.5.2 command not recognized\r\n";
  FakeSmtpServer server(script);
  auto smtp = channel("smtp://127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  const auto commands = server.commands();
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[0], "EHLO [127.0.0.1]");
  EXPECT_EQ(commands[1], "HELO [127.0.0.1]");
  EXPECT_EQ(commands[2], "MAIL FROM:<no-reply@acme.test>");
}

TEST_F(SmtpChannelTest, ServerThatNeverAnswersTimesOut) {
  for (const std::string stage : {"greeting", "RCPT", "message"}) {
    SCOPED_TRACE(stage);
    Script script;
    script.silent_at = stage;
    FakeSmtpServer server(script);
    auto smtp = channel("smtp://127.0.0.1:" + server.port(), "no-reply@acme.test", 300ms);
    const auto started = std::chrono::steady_clock::now();
    const Attempt attempt = deliver(*smtp, sample());
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_EQ(attempt.result, AttemptResult::kTransient);
    EXPECT_EQ(attempt.detail, "smtp " + stage + ": timeout");
  }
}

TEST_F(SmtpChannelTest, RefusedConnectionIsTransient) {
  std::string port;
  {
    FakeSmtpServer server(Script{});
    port = server.port();
  }  // closed: nothing listens there now
  auto smtp = channel("smtp://127.0.0.1:" + port);
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail.rfind("smtp connect: ", 0), 0u) << attempt.detail;
}

TEST_F(SmtpChannelTest, HeaderInjectionIsRefusedBeforeConnecting) {
  FakeSmtpServer server(Script{});
  auto smtp = channel("smtp://127.0.0.1:" + server.port());
  Message bad_subject = sample();
  bad_subject.subject = "Your code\r\nBcc: everyone@example.com";
  Message bad_to = sample();
  bad_to.to = "alice@example.com>\r\nRCPT TO:<bob@example.com";
  for (const Message& message : {bad_subject, bad_to}) {
    const Attempt attempt = deliver(*smtp, message);
    EXPECT_EQ(attempt.result, AttemptResult::kPermanent);
    expect_clean_detail(attempt);
  }
  EXPECT_TRUE(server.commands().empty());
}

TEST_F(SmtpChannelTest, StartTlsRequiredButNotOfferedIsPermanent) {
  FakeSmtpServer server(Script{});
  auto smtp = channel("smtp://127.0.0.1:" + server.port() + "?tls=starttls");
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kPermanent);
  EXPECT_EQ(attempt.detail, "smtp STARTTLS required but not offered");
  const auto commands = server.commands();
  EXPECT_EQ(std::count(commands.begin(), commands.end(), "MAIL FROM:<no-reply@acme.test>"), 0);
}

TEST_F(SmtpChannelTest, AuthPlainWithPercentDecodedCredentialsOnLoopback) {
  Script script;
  script.auth = {"LOGIN", "PLAIN"};
  script.user = "us@er";
  script.password = "p:ss%/secret";
  FakeSmtpServer server(script);
  auto smtp = channel("smtp://us%40er:p%3Ass%25%2Fsecret@127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  const auto commands = server.commands();
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[1], "AUTH PLAIN " + base64(std::string("\0us@er\0p:ss%/secret", 19)));
  EXPECT_EQ(commands[2], "MAIL FROM:<no-reply@acme.test>");
}

TEST_F(SmtpChannelTest, AuthLoginWhenPlainIsNotOffered) {
  Script script;
  script.auth = {"CRAM-MD5", "LOGIN"};
  script.user = "us@er";
  FakeSmtpServer server(script);
  auto smtp = channel("smtp://us%40er:secret@127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  const auto commands = server.commands();
  ASSERT_GE(commands.size(), 5u);
  EXPECT_EQ(commands[1], "AUTH LOGIN");
  EXPECT_EQ(commands[2], base64("us@er"));
  EXPECT_EQ(commands[3], base64("secret"));
  EXPECT_EQ(commands[4], "MAIL FROM:<no-reply@acme.test>");
}

TEST_F(SmtpChannelTest, RejectedCredentialsArePermanentAndNotLogged) {
  Script script;
  script.auth = {"PLAIN"};
  FakeSmtpServer server(script);
  auto smtp = channel("smtp://user:wrong-secret@127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kPermanent);
  EXPECT_EQ(attempt.detail, "smtp AUTH answered 535");
  expect_clean_detail(attempt);
}

TEST_F(SmtpChannelTest, CredentialsWithoutAnAuthMechanismArePermanent) {
  FakeSmtpServer server(Script{});
  auto smtp = channel("smtp://user:secret@127.0.0.1:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kPermanent);
  EXPECT_EQ(attempt.detail, "smtp server offers neither AUTH PLAIN nor LOGIN");
}

// A non-loopback address of this machine, if it has one: the connection stays local, but
// the channel sees a peer that is not loopback.
std::optional<std::string> non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* sa = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if ((ntohl(sa->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text);
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

TEST_F(SmtpChannelTest, CredentialsAreNeverSentInPlainTextToAnotherHost) {
  const auto address = non_loopback_ipv4();
  if (!address) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  Script script;
  script.auth = {"PLAIN", "LOGIN"};
  FakeSmtpServer server(script, nullptr, *address);
  auto smtp = channel("smtp://user:secret@" + *address + ":" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kPermanent);
  EXPECT_NE(attempt.detail.find("unencrypted"), std::string::npos) << attempt.detail;
  for (const auto& command : server.commands()) {
    EXPECT_EQ(command.rfind("AUTH", 0), std::string::npos) << command;
  }
}

TEST_F(SmtpChannelTest, BadUrlsAndSendersThrow) {
  const std::string from = "Acme <no-reply@acme.test>";
  for (const std::string url :
       {"", "not a url", "http://mail.example.com", "smtp://", "smtp://:25",
        "smtp://mail.example.com:0", "smtp://mail.example.com:99999", "smtp://mail.example.com:x",
        "smtp://mail.example.com?tls=yes", "smtp://mail.example.com?starttls=1",
        "smtps://mail.example.com?tls=starttls", "smtp://user@mail.example.com",
        "smtp://:secret@mail.example.com", "smtp://mail.example.com/path",
        "smtp://mail.example.com#frag", "smtp://us%00er:secret@mail.example.com"}) {
    SCOPED_TRACE(url);
    try {
      SmtpChannel(io_.get_executor(), clock_, url, from);
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind("smtp url: ", 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
  }
  for (const std::string sender : {"", "Acme", "Acme <>", "Acme <no-reply>", "<@acme.test>",
                                   "a@acme.test\r\nBcc: x@y.test", "Acme <no reply@acme.test>"}) {
    SCOPED_TRACE(sender);
    EXPECT_THROW(SmtpChannel(io_.get_executor(), clock_, "smtp://mail.example.com", sender),
                 std::invalid_argument);
  }
  // And the forms that are fine.
  for (const std::string url :
       {"smtp://mail.example.com", "smtps://u%40x:p%3Aw@mail.example.com:2465",
        "smtp://mail.example.com:587?tls=starttls", "SMTP://[::1]:25", "smtp://127.0.0.1/"}) {
    SCOPED_TRACE(url);
    EXPECT_NO_THROW(SmtpChannel(io_.get_executor(), clock_, url, from));
  }
}

TEST_F(SmtpChannelTest, NonAsciiDisplayNameIsAnEncodedWord) {
  FakeSmtpServer server(Script{});
  auto smtp = channel("smtp://127.0.0.1:" + server.port(), "Bäckerei Müller <otp@baecker.test>");
  ASSERT_EQ(deliver(*smtp, sample()).result, AttemptResult::kDelivered);
  const Part message = parse_part(server.message());
  const std::string from = message.headers.at("from");
  EXPECT_EQ(from.rfind("=?UTF-8?B?", 0), 0u) << from;
  EXPECT_EQ(decode_words(from), "Bäckerei Müller <otp@baecker.test>");
}

// --- TLS ---------------------------------------------------------------------------------

class SmtpTlsTest : public SmtpChannelTest {
 protected:
  void SetUp() override {
    credentials_ = make_self_signed();
    trust_file_ = write_trust_file("otpd-smtp-test-", credentials_.certificate_pem);
  }
  void TearDown() override { remove_trust_file(trust_file_); }
  // The channel reads the trust store at its first handshake, through the standard OpenSSL
  // variable rather than any switch in the channel.
  void trust_test_certificate() { trust_file(trust_file_); }

  Credentials credentials_;
  std::filesystem::path trust_file_;
};

TEST_F(SmtpTlsTest, OpportunisticStartTlsUpgradesAndSaysEhloAgain) {
  trust_test_certificate();
  Script script;
  script.offer_starttls = true;
  FakeSmtpServer server(script, &credentials_);
  auto smtp = channel("smtp://localhost:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  EXPECT_EQ(server.handshakes(), 1);
  EXPECT_EQ(server.commands(),
            (std::vector<std::string>{"EHLO [127.0.0.1]", "STARTTLS", "<tls>", "EHLO [127.0.0.1]",
                                      "MAIL FROM:<no-reply@acme.test>",
                                      "RCPT TO:<alice@example.com>", "DATA", "QUIT"}));
  const Part message = parse_part(server.message());
  EXPECT_EQ(decode_words(message.headers.at("subject")), "Dein Code für Acme");
}

TEST_F(SmtpTlsTest, RequiredStartTlsWithAuthOfferedOnlyAfterTls) {
  trust_test_certificate();
  Script script;
  script.offer_starttls = true;
  script.auth = {"PLAIN"};
  script.auth_only_after_tls = true;
  FakeSmtpServer server(script, &credentials_);
  auto smtp = channel("smtp://user:secret@localhost:" + server.port() + "?tls=starttls");
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  const auto commands = server.commands();
  ASSERT_GE(commands.size(), 6u);
  EXPECT_EQ(commands[2], "<tls>");
  EXPECT_EQ(commands[3], "EHLO [127.0.0.1]");
  EXPECT_EQ(commands[4], "AUTH PLAIN " + base64(std::string("\0user\0secret", 12)));
  EXPECT_EQ(commands[5], "MAIL FROM:<no-reply@acme.test>");
}

TEST_F(SmtpTlsTest, ImplicitTls) {
  trust_test_certificate();
  Script script;
  script.implicit_tls = true;
  script.auth = {"PLAIN"};
  FakeSmtpServer server(script, &credentials_);
  auto smtp = channel("smtps://user:secret@localhost:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered) << attempt.detail;
  EXPECT_EQ(server.handshakes(), 1);
  const auto commands = server.commands();
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[0], "<tls>");
  EXPECT_EQ(commands[1], "EHLO [127.0.0.1]");
  EXPECT_EQ(commands[2].rfind("AUTH PLAIN ", 0), 0u);
  EXPECT_EQ(parse_part(server.message()).headers.at("to"), kRecipient);
}

TEST_F(SmtpTlsTest, CertificateForAnotherHostIsNotDelivered) {
  trust_test_certificate();  // trusted, but issued to "localhost", not to 127.0.0.1
  for (const bool implicit : {true, false}) {
    SCOPED_TRACE(implicit ? "smtps" : "starttls");
    Script script;
    script.implicit_tls = implicit;
    script.offer_starttls = !implicit;
    script.auth = {"PLAIN"};
    FakeSmtpServer server(script, &credentials_);
    auto smtp = channel((implicit ? "smtps://user:secret@127.0.0.1:" : "smtp://127.0.0.1:") +
                        server.port());
    const Attempt attempt = deliver(*smtp, sample());
    EXPECT_EQ(attempt.result, AttemptResult::kTransient);
    EXPECT_EQ(attempt.detail.rfind("smtp TLS handshake: ", 0), 0u) << attempt.detail;
    EXPECT_EQ(server.handshakes(), 0);
    for (const auto& command : server.commands()) {
      EXPECT_EQ(command.rfind("MAIL", 0), std::string::npos);
      EXPECT_EQ(command.rfind("AUTH", 0), std::string::npos);
    }
  }
}

TEST_F(SmtpTlsTest, UntrustedCertificateIsNotDelivered) {
  Script script;
  script.implicit_tls = true;
  FakeSmtpServer server(script, &credentials_);
  auto smtp = channel("smtps://localhost:" + server.port());
  const Attempt attempt = deliver(*smtp, sample());
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail.rfind("smtp TLS handshake: ", 0), 0u) << attempt.detail;
  EXPECT_EQ(server.handshakes(), 0);
}

}  // namespace
}  // namespace otpd::delivery
