// Not a test: how much Redis memory a pending verification costs. Starts N verifications
// (distinct recipients, the values otpd's API stores: a v_ id, hex HMACs, a masked address,
// a locale, no metadata) through RedisStore on an empty server, and reports INFO memory's
// used_memory growth per verification while the delivery jobs are queued, and once they
// are delivered (finish), which is the steady state.
//
//   redis_store_memory redis://127.0.0.1:6379/0 [N] [--idempotency]
// (the server must be empty). With --idempotency every send carries an Idempotency-Key,
// whose record is kept for 24 h: the difference is what a key costs.
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "core/placement.hpp"
#include "core/random.hpp"
#include "core/run_blocking.hpp"
#include "store/redis/redis_store.hpp"

namespace {

using namespace otpd;

long long used_memory(store::redis::RedisIo& io) {
  std::vector<std::string> keys;
  std::vector<std::string> args{"INFO", "memory"};
  auto reply = run_blocking(io.command(std::move(keys), std::move(args))).value();
  const std::string& text = reply.str();
  const auto at = text.find("used_memory:");
  long long n = 0;
  std::from_chars(text.data() + at + 12, text.data() + text.size(), n);
  return n;
}

std::string hex(core::RandomSource& rng, std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string raw = core::random_bytes(rng, bytes);
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: redis_store_memory REDIS_URL [N]\n";
    return 2;
  }
  const std::string url = argv[1];
  const int n = argc > 2 ? std::stoi(argv[2]) : 100'000;
  const bool keyed = argc > 3 && std::string(argv[3]) == "--idempotency";
  auto options = store::redis::parse_redis_url(url).value();
  auto probe = store::redis::RedisIo::create(options, 1).value();
  auto store = store::RedisStore::open(url).value();
  core::OpenSslRandom rng;

  const long long empty = used_memory(*probe);
  const auto t0 = std::chrono::time_point_cast<core::Millis>(core::Clock::now());
  std::vector<store::FinishedDelivery> delivered;
  boost::asio::io_context io;
  for (int i = 0; i < n; ++i) {
    store::StartRequest r;
    auto& v = r.verification;
    v.tenant = core::TenantId("acme");
    v.recipient = core::RecipientHash(hex(rng, 32));
    v.id = core::new_verification_id(rng, t0, core::placement_of(v.tenant, v.recipient));
    v.masked_to = "a***@example.com";
    v.channel = core::ChannelKind::kEmail;
    v.code_length = 6;
    v.code_hash = hex(rng, 32);
    v.created_at = t0;
    v.expires_at = t0 + core::Seconds(300);
    v.resend_at = t0;
    v.delete_after = v.expires_at + core::Seconds(3600);
    v.locale = "en";
    r.history = {v.recipient};
    // A sealed recipient and code: AES-256-GCM nonce, tag and about 40 bytes of plaintext.
    r.sealed_delivery = hex(rng, 34);
    r.delivery_leased_until = t0 + core::Seconds(20);
    if (keyed) {
      // A client's key (a UUID) and the SHA-256 of the request body, as the API claims them.
      r.idempotency = core::IdempotencyClaim{hex(rng, 16), hex(rng, 32), t0 + core::Seconds(86400)};
    }
    delivered.push_back({v.tenant, v.id, core::DeliveryStatus::kSent});
    auto out = run_blocking(io, store->start(std::move(r))).value();
    if (out.decision.verdict != core::SendVerdict::kStart) {
      std::cerr << "start " << i << " was refused\n";
      return 1;
    }
  }
  const long long queued = used_memory(*probe);
  for (std::size_t i = 0; i < delivered.size(); i += 256) {
    std::vector<store::FinishedDelivery> batch(
        delivered.begin() + static_cast<long>(i),
        delivered.begin() + static_cast<long>(std::min(delivered.size(), i + 256)));
    run_blocking(io, store->finish(std::move(batch))).value();
  }
  const long long sent = used_memory(*probe);
  std::printf("verifications: %d\n", n);
  std::printf("used_memory empty: %lld B\n", empty);
  std::printf("per verification, delivery queued: %.1f B\n",
              static_cast<double>(queued - empty) / n);
  std::printf("per verification, delivered (steady state): %.1f B\n",
              static_cast<double>(sent - empty) / n);
  return 0;
}
