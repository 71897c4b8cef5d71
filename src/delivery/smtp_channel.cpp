// The SMTP email channel (RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954) on plain Asio and
// OpenSSL. libcurl speaks SMTP too, but blocks a thread per transfer and is not a project
// dependency; the dialogue otpd needs (one message, one recipient) is short enough to write.
#include "delivery/smtp_channel.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "core/random.hpp"
#include "delivery/mime.hpp"

namespace otpd::delivery {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
// RFC 5321 4.5.3.1.5 allows reply lines of 512 octets; some servers send longer ones.
constexpr std::size_t kMaxReplyLine = 4096;
constexpr int kMaxReplyLines = 100;
// Once the outcome is known, QUIT is a courtesy: it must not hold a worker slot long.
constexpr std::chrono::seconds kQuitWait{2};

enum class TlsMode {
  kOpportunistic,  // smtp://: STARTTLS when offered, else plain (local relays)
  kRequired,       // smtp://...?tls=starttls
  kImplicit,       // smtps://
};

struct Server {
  TlsMode tls = TlsMode::kOpportunistic;
  std::string host;  // no brackets around an IPv6 address
  bool host_is_ip = false;
  std::string port;
  std::string user;  // percent-decoded; empty without credentials
  std::string password;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The messages never repeat the URL: it may hold a password.
Server parse_url(std::string_view url) {
  auto bad = [](const std::string& why) { return std::invalid_argument("smtp url: " + why); };
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw bad("not a URL (" + parsed.error().message() + ")");
  const boost::urls::url_view& u = *parsed;
  Server server;
  const std::string scheme = lower(u.scheme());
  if (scheme == "smtps") {
    server.tls = TlsMode::kImplicit;
    server.port = "465";
  } else if (scheme == "smtp") {
    server.port = "25";
  } else {
    throw bad("the scheme must be smtp or smtps");
  }
  switch (u.host_type()) {
    case boost::urls::host_type::name:
      server.host = u.host_name();
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      server.host = u.host_address();
      server.host_is_ip = true;
      break;
    default:
      break;
  }
  if (server.host.empty()) throw bad("no host");
  if (u.has_port()) {
    const std::string_view port = u.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      throw bad("bad port");
    }
    server.port = std::to_string(value);
  }
  if (u.has_userinfo()) {
    server.user = u.user();
    server.password = u.password();
    if (server.user.empty() || server.password.empty()) {
      throw bad("credentials need both a user and a password");
    }
    // AUTH PLAIN separates the fields with NUL; LOGIN sends each on a line of its own.
    for (const std::string* field : {&server.user, &server.password}) {
      if (field->find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
        throw bad("the user or password holds a NUL or a line break");
      }
    }
  }
  if (!u.encoded_path().empty() && u.encoded_path() != "/") throw bad("a path is not allowed");
  if (u.has_fragment()) throw bad("a fragment is not allowed");
  for (const auto param : u.params()) {
    if (param.key != "tls") throw bad("unknown query parameter (only tls=starttls is known)");
    if (param.value != "starttls") throw bad("tls must be starttls");
    if (server.tls == TlsMode::kImplicit) throw bad("tls=starttls does not go with smtps://");
    server.tls = TlsMode::kRequired;
  }
  return server;
}

// What the channel sends: everything is prepared before connecting.
struct Envelope {
  std::string from;  // addresses for MAIL FROM and RCPT TO
  std::string to;
  std::string data;  // dot-stuffed and terminated
};

// One reply, possibly of several lines ("250-first", "250 last").
struct Reply {
  error_code ec;  // the reply could not be read
  bool malformed = false;
  int code = 0;
  std::vector<std::string> lines;  // the text after the code and its separator
};

// The state of one connection. It lives in a shared_ptr because the deadline's timer
// handler may run after the dialogue has finished. Every member is used on one strand.
struct Session {
  explicit Session(const asio::any_io_executor& executor)
      : resolver(executor), timer(executor), socket(executor) {}

  tcp::resolver resolver;
  asio::steady_timer timer;
  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;  // after `socket`, so destroyed before it
  std::string input;                             // received and not yet parsed
  bool timed_out = false;
  bool broken = false;  // an I/O or framing error: the connection is no longer usable
};

// Closing the socket ends whatever operation is pending; there is no per-operation deadline
// on a plain socket, and Beast's tcp_stream stays in net/ and http/. Re-arming replaces the
// previous deadline (its handler sees operation_aborted).
void arm_deadline(const std::shared_ptr<Session>& session, SteadyClock::time_point deadline) {
  session->timer.expires_at(deadline);
  session->timer.async_wait([session](error_code ec) {
    if (ec) return;
    session->timed_out = true;
    session->resolver.cancel();
    error_code ignored;
    session->socket.close(ignored);
  });
}

struct Extensions {
  bool starttls = false;
  bool auth_plain = false;
  bool auth_login = false;
};

// From the EHLO reply: its lines after the first are keywords with parameters.
Extensions parse_extensions(const Reply& reply) {
  Extensions ext;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::istringstream words(upper(reply.lines[i]));
    std::string keyword;
    words >> keyword;
    if (keyword == "STARTTLS") ext.starttls = true;
    // "AUTH=PLAIN LOGIN" is the pre-standard form some servers still send.
    if (keyword == "AUTH" || keyword.rfind("AUTH=", 0) == 0) {
      std::vector<std::string> mechanisms;
      if (keyword.size() > 5) mechanisms.push_back(keyword.substr(5));
      for (std::string m; words >> m;) mechanisms.push_back(m);
      for (const auto& m : mechanisms) {
        if (m == "PLAIN") ext.auth_plain = true;
        if (m == "LOGIN") ext.auth_login = true;
      }
    }
  }
  return ext;
}

// The EHLO argument when the client has no name of its own: an address literal
// (RFC 5321 4.1.3) of the local end of the connection.
std::string address_literal(const tcp::endpoint& local) {
  asio::ip::address address = local.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v4()) return "[" + address.to_string() + "]";
  return "[IPv6:" + address.to_v6().to_string() + "]";
}

bool is_loopback(asio::ip::address address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.is_loopback();
}

// A dialogue step's outcome: nothing while it goes on, the attempt's result once it stops.
using Step = std::optional<Attempt>;

// Which reply codes a step expects.
struct Accept {
  int code;
  int other = 0;
  bool operator()(int c) const { return c == code || (other != 0 && c == other); }
};

// What every attempt of one channel shares.
struct ChannelState {
  ChannelState(asio::any_io_executor executor, const core::TimeSource& clock, std::string_view url,
               std::string_view from, std::chrono::milliseconds timeout)
      : executor(std::move(executor)),
        clock(clock),
        server(parse_url(url)),
        timeout(timeout),
        tls(ssl::context::tls_client) {
    std::string why;
    auto mailbox = parse_mailbox(from, &why);
    if (!mailbox) throw std::invalid_argument("smtp from: " + why);
    this->from = std::move(*mailbox);
    tls.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  }

  // The system trust store (it honours SSL_CERT_FILE), read when TLS is first used: reading
  // the CA bundle is slow and a local relay may never need it.
  ssl::context& tls_context() {
    std::call_once(trust_loaded, [this] { tls.set_default_verify_paths(); });
    return tls;
  }

  asio::any_io_executor executor;
  const core::TimeSource& clock;
  Server server;
  Mailbox from;
  std::chrono::milliseconds timeout;
  core::OpenSslRandom random;
  ssl::context tls;
  std::once_flag trust_loaded;
};

// The client side of one SMTP session, step by step. Each step returns an Attempt when the
// dialogue must stop.
class Dialogue {
 public:
  Dialogue(Session& session, ChannelState& channel)
      : s_(session), channel_(channel), server_(channel.server) {}

  asio::awaitable<Attempt> run(const Envelope& envelope) {
    if (auto stop = co_await connect()) co_return *stop;
    if (server_.tls == TlsMode::kImplicit) {
      if (auto stop = co_await handshake()) co_return *stop;
    }
    if (auto stop = co_await expect("greeting", Accept{220})) co_return *stop;
    if (auto stop = co_await hello()) co_return *stop;
    if (auto stop = co_await start_tls()) co_return *stop;
    if (auto stop = co_await authenticate()) co_return *stop;
    if (auto stop = co_await command("MAIL", "MAIL FROM:<" + envelope.from + ">", Accept{250})) {
      co_return *stop;
    }
    // 251: "user not local; will forward".
    if (auto stop = co_await command("RCPT", "RCPT TO:<" + envelope.to + ">", Accept{250, 251})) {
      co_return *stop;
    }
    if (auto stop = co_await command("DATA", "DATA", Accept{354})) co_return *stop;
    if (auto ec = co_await write(envelope.data)) co_return io_failure("message", ec);
    if (auto stop = co_await expect("message", Accept{250})) co_return *stop;
    co_return Attempt{AttemptResult::kDelivered, "smtp message answered 250"};
  }

  // RFC 5321 4.1.1.10; the outcome is already decided, so the reply does not matter.
  asio::awaitable<void> quit() {
    if (s_.broken || !s_.socket.is_open()) co_return;
    co_await command("QUIT", "QUIT", Accept{221});
  }

 private:
  Attempt io_failure(std::string_view stage, const error_code& ec) {
    s_.broken = true;
    return Attempt{AttemptResult::kTransient,
                   "smtp " + std::string(stage) + ": " + (s_.timed_out ? "timeout" : ec.message())};
  }

  // The detail has the code and never the reply text: servers echo the recipient in it.
  static Attempt reply_failure(std::string_view stage, const Reply& reply) {
    std::string detail = "smtp " + std::string(stage);
    if (reply.malformed) return Attempt{AttemptResult::kTransient, detail + ": malformed reply"};
    detail += " answered " + std::to_string(reply.code);
    if (reply.code >= 500) return Attempt{AttemptResult::kPermanent, detail};
    // 4xx, and success codes that make no sense at this stage.
    return Attempt{AttemptResult::kTransient, detail};
  }

  // The plain socket or the TLS stream over it. Spelt as if/else on purpose: with
  // `co_await (tls ? op(*tls) : op(socket))` the GCC 12 build crashed resuming the caller.
  asio::awaitable<error_code> write(std::string_view data) {
    const auto buffer = asio::buffer(data.data(), data.size());
    std::tuple<error_code, std::size_t> result;
    if (s_.tls) {
      result = co_await asio::async_write(*s_.tls, buffer, kAsTuple);
    } else {
      result = co_await asio::async_write(s_.socket, buffer, kAsTuple);
    }
    co_return std::get<0>(result);
  }

  asio::awaitable<Reply> read_reply() {
    Reply reply;
    for (int count = 0; count < kMaxReplyLines; ++count) {
      std::tuple<error_code, std::size_t> result;
      if (s_.tls) {
        result = co_await asio::async_read_until(
            *s_.tls, asio::dynamic_buffer(s_.input, kMaxReplyLine), '\n', kAsTuple);
      } else {
        result = co_await asio::async_read_until(
            s_.socket, asio::dynamic_buffer(s_.input, kMaxReplyLine), '\n', kAsTuple);
      }
      const auto [ec, size] = result;
      if (ec) {
        reply.ec = ec;
        co_return reply;
      }
      std::string_view line(s_.input.data(), size - 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      int code = 0;
      const auto [end, parse_ec] = std::from_chars(line.data(), line.data() + 3, code);
      const bool well_formed = line.size() >= 3 && parse_ec == std::errc() &&
                               end == line.data() + 3 && code >= 200 && code <= 599 &&
                               (count == 0 || code == reply.code) &&
                               (line.size() == 3 || line[3] == ' ' || line[3] == '-');
      if (!well_formed) break;
      const bool last = line.size() == 3 || line[3] == ' ';
      reply.code = code;
      reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
      s_.input.erase(0, size);
      if (last) co_return reply;
    }
    // Out of step with the server: nothing more can be read reliably.
    s_.broken = true;
    reply.malformed = true;
    co_return reply;
  }

  asio::awaitable<Step> expect(std::string_view stage, Accept accept, Reply* out = nullptr) {
    Reply reply = co_await read_reply();
    if (reply.ec) co_return io_failure(stage, reply.ec);
    if (reply.malformed || !accept(reply.code)) co_return reply_failure(stage, reply);
    if (out) *out = std::move(reply);
    co_return std::nullopt;
  }

  asio::awaitable<Step> command(std::string_view stage, std::string line, Accept accept,
                                Reply* out = nullptr) {
    line += "\r\n";
    if (auto ec = co_await write(line)) co_return io_failure(stage, ec);
    co_return co_await expect(stage, accept, out);
  }

  asio::awaitable<Step> connect() {
    auto [resolve_ec, endpoints] =
        co_await s_.resolver.async_resolve(server_.host, server_.port, kAsTuple);
    if (resolve_ec) co_return io_failure("resolve", resolve_ec);
    // The deadline may have passed while the result was on its way; connecting would
    // reopen the socket the timer closed.
    if (s_.timed_out) co_return io_failure("resolve", asio::error::timed_out);
    auto [connect_ec, endpoint] = co_await asio::async_connect(s_.socket, endpoints, kAsTuple);
    if (connect_ec) co_return io_failure("connect", connect_ec);
    error_code ignored;
    s_.socket.set_option(tcp::no_delay(true), ignored);
    co_return std::nullopt;
  }

  // Verifies the certificate chain against the trust store and the URL's host name, and
  // sends that name as SNI (names only, RFC 6066).
  asio::awaitable<Step> handshake() {
    auto& tls = s_.tls.emplace(s_.socket, channel_.tls_context());
    if (!server_.host_is_ip &&
        !SSL_set_tlsext_host_name(tls.native_handle(), server_.host.c_str())) {
      s_.broken = true;
      co_return Attempt{AttemptResult::kTransient, "smtp TLS: cannot set the server name"};
    }
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(ssl::host_name_verification(server_.host));
    auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, kAsTuple);
    if (ec) co_return io_failure("TLS handshake", ec);
    co_return std::nullopt;
  }

  // EHLO with the extensions it lists; HELO (no extensions) for a server that refuses EHLO
  // with 5xx (RFC 5321 4.1.4).
  asio::awaitable<Step> hello() {
    ext_ = Extensions{};
    const std::string name = client_name();
    Reply reply;
    auto stop = co_await command("EHLO", "EHLO " + name, Accept{250}, &reply);
    if (!stop) {
      ext_ = parse_extensions(reply);
      co_return std::nullopt;
    }
    if (stop->result != AttemptResult::kPermanent || s_.broken) co_return stop;
    co_return co_await command("HELO", "HELO " + name, Accept{250});
  }

  std::string client_name() {
    error_code ec;
    const auto local = s_.socket.local_endpoint(ec);
    return ec ? std::string("[127.0.0.1]") : address_literal(local);
  }

  // STARTTLS when the URL requires it or the server offers it. A refused STARTTLS stops
  // even in opportunistic mode: the server said it can do TLS, and falling back to plain
  // text on its word is what a man in the middle would arrange.
  asio::awaitable<Step> start_tls() {
    if (s_.tls) co_return std::nullopt;  // implicit TLS
    if (!ext_.starttls) {
      if (server_.tls == TlsMode::kRequired) {
        co_return Attempt{AttemptResult::kPermanent, "smtp STARTTLS required but not offered"};
      }
      co_return std::nullopt;
    }
    if (auto stop = co_await command("STARTTLS", "STARTTLS", Accept{220})) co_return stop;
    // Anything already received came unprotected after the 220 and would be read as if it
    // came over TLS (the command injection of CVE-2011-0411): refuse it.
    if (!s_.input.empty()) {
      s_.broken = true;
      co_return Attempt{AttemptResult::kTransient, "smtp STARTTLS: data before the handshake"};
    }
    if (auto stop = co_await handshake()) co_return stop;
    // RFC 3207 4.2: what the server said before TLS no longer counts; ask again.
    co_return co_await hello();
  }

  // AUTH PLAIN, else LOGIN, when the URL has credentials. They never travel unencrypted
  // unless the peer is this machine (a local relay).
  asio::awaitable<Step> authenticate() {
    if (server_.user.empty()) co_return std::nullopt;
    error_code ec;
    const auto peer = s_.socket.remote_endpoint(ec);
    if (!s_.tls && (ec || !is_loopback(peer.address()))) {
      co_return Attempt{AttemptResult::kPermanent,
                        "smtp credentials refused over an unencrypted connection to a host other "
                        "than loopback"};
    }
    if (ext_.auth_plain) {
      const std::string token = std::string(1, '\0') + server_.user + '\0' + server_.password;
      co_return co_await command("AUTH", "AUTH PLAIN " + core::base64_encode(token), Accept{235});
    }
    if (ext_.auth_login) {
      if (auto stop = co_await command("AUTH", "AUTH LOGIN", Accept{334})) co_return stop;
      if (auto stop = co_await command("AUTH", core::base64_encode(server_.user), Accept{334})) {
        co_return stop;
      }
      co_return co_await command("AUTH", core::base64_encode(server_.password), Accept{235});
    }
    co_return Attempt{AttemptResult::kPermanent, "smtp server offers neither AUTH PLAIN nor LOGIN"};
  }

  Session& s_;
  ChannelState& channel_;
  const Server& server_;
  Extensions ext_;
};

asio::awaitable<Attempt> converse(std::shared_ptr<Session> session, ChannelState& channel,
                                  Envelope envelope) {
  const auto deadline = SteadyClock::now() + channel.timeout;
  arm_deadline(session, deadline);
  Dialogue dialogue(*session, channel);
  Attempt attempt = co_await dialogue.run(envelope);
  arm_deadline(session, std::min(deadline, SteadyClock::now() + kQuitWait));
  co_await dialogue.quit();
  session->timer.cancel();
  // No TLS close_notify: after QUIT the server closes, and waiting for its alert could only
  // cost time.
  error_code ignored;
  session->socket.close(ignored);
  co_return attempt;
}

}  // namespace

struct SmtpChannel::Impl : ChannelState {
  using ChannelState::ChannelState;
};

SmtpChannel::SmtpChannel(boost::asio::any_io_executor executor, const core::TimeSource& clock,
                         std::string url, std::string from)
    : SmtpChannel(std::move(executor), clock, std::move(url), std::move(from), kDefaultTimeout) {}

SmtpChannel::SmtpChannel(boost::asio::any_io_executor executor, const core::TimeSource& clock,
                         std::string url, std::string from, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(executor), clock, url, from, timeout)) {}

SmtpChannel::~SmtpChannel() = default;

boost::asio::awaitable<Attempt> SmtpChannel::deliver(const Message& message) {
  // Checked before anything is sent: CR or LF here would inject commands or headers.
  if (!is_plain_address(message.to)) {
    co_return Attempt{AttemptResult::kPermanent, "smtp recipient is not a plain ASCII address"};
  }
  if (message.subject.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    co_return Attempt{AttemptResult::kPermanent, "smtp subject holds a line break"};
  }
  try {
    MailContent content;
    content.from = impl_->from;
    content.to = message.to;
    content.subject = message.subject;
    content.text = message.text;
    content.html = message.html;
    content.date = impl_->clock.now();
    const std::string domain = impl_->from.address.substr(impl_->from.address.find('@') + 1);
    content.message_id = core::hex_encode(core::random_bytes(impl_->random, 16)) + "@" + domain;
    // "=_" never occurs in base64 or in the 7bit text of a text-only message (which has
    // no boundary), so the boundary cannot collide with a part.
    content.boundary = "=_otpd_" + core::hex_encode(core::random_bytes(impl_->random, 12));

    Envelope envelope{impl_->from.address, message.to, smtp_data_block(build_message(content))};
    auto session = std::make_shared<Session>(asio::make_strand(impl_->executor));
    // The session's I/O and its deadline's timer share one strand.
    co_return co_await asio::co_spawn(session->socket.get_executor(),
                                      converse(session, *impl_, std::move(envelope)),
                                      asio::use_awaitable);
  } catch (const std::exception& e) {
    co_return Attempt{AttemptResult::kTransient, std::string("smtp: ") + e.what()};
  }
}

}  // namespace otpd::delivery
