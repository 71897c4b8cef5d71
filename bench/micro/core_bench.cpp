// Microbenchmarks of core/: code generation, the keyed hashes, sealing and the parsers that
// run on every send and verify.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/code.hpp"
#include "core/crypto.hpp"
#include "core/keyring.hpp"
#include "core/random.hpp"
#include "core/recipient.hpp"
#include "core/types.hpp"
#include "delivery/payload.hpp"

namespace {

using namespace otpd;

const core::TenantId kTenant("bench");
const core::VerificationId kId("oN_1IsI9AnGLzkWY56dR6A");

core::Keyring make_keyring(int secrets) {
  std::vector<std::string> list;
  for (int i = 0; i < secrets; ++i)
    list.push_back("bench-secret-" + std::to_string(i) + "-xxxxxxxx");
  return core::Keyring(std::move(list));
}

void BM_GenerateCode(benchmark::State& state, core::Alphabet alphabet, int length) {
  core::OpenSslRandom rng;
  for (auto _ : state) benchmark::DoNotOptimize(core::generate_code(rng, alphabet, length));
}
BENCHMARK_CAPTURE(BM_GenerateCode, digits6, core::Alphabet::kDigits, 6);
BENCHMARK_CAPTURE(BM_GenerateCode, alnum8, core::Alphabet::kAlnum, 8);

// The verification id: 16 bytes from the CSPRNG, base64url.
void BM_NewVerificationId(benchmark::State& state) {
  core::OpenSslRandom rng;
  for (auto _ : state) {
    benchmark::DoNotOptimize(core::base64url_encode(core::random_bytes(rng, 16)));
  }
}
BENCHMARK(BM_NewVerificationId);

void BM_KeyringConstruct(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(make_keyring(1));
}
BENCHMARK(BM_KeyringConstruct);

void BM_CodeHash(benchmark::State& state) {
  const auto keyring = make_keyring(1);
  for (auto _ : state) benchmark::DoNotOptimize(keyring.code_hash(kTenant, kId, "072857"));
}
BENCHMARK(BM_CodeHash);

// What a verify computes: one HMAC per configured secret.
void BM_CodeHashCandidates(benchmark::State& state) {
  const auto keyring = make_keyring(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(keyring.code_hash_candidates(kTenant, kId, "072857"));
  }
}
BENCHMARK(BM_CodeHashCandidates)->Arg(1)->Arg(2);

void BM_RecipientHash(benchmark::State& state) {
  const auto keyring = make_keyring(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keyring.recipient_hash(kTenant, "alice@example.com"));
  }
}
BENCHMARK(BM_RecipientHash);

// A send seals {"to","code","locale"} for the delivery queue; the worker opens it.
void BM_Seal(benchmark::State& state) {
  const auto keyring = make_keyring(1);
  core::OpenSslRandom rng;
  const auto payload = delivery::encode_payload({"alice@example.com", "072857", "en"});
  const auto aad = delivery::payload_aad(kTenant.str(), kId.str());
  for (auto _ : state) benchmark::DoNotOptimize(keyring.seal(payload, aad, rng));
}
BENCHMARK(BM_Seal);

void BM_Open(benchmark::State& state) {
  const auto keyring = make_keyring(1);
  core::OpenSslRandom rng;
  const auto aad = delivery::payload_aad(kTenant.str(), kId.str());
  const auto sealed =
      keyring.seal(delivery::encode_payload({"alice@example.com", "072857", "en"}), aad, rng);
  for (auto _ : state) benchmark::DoNotOptimize(keyring.open(sealed, aad));
}
BENCHMARK(BM_Open);

void BM_EncodePayload(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(delivery::encode_payload({"alice@example.com", "072857", "en"}));
  }
}
BENCHMARK(BM_EncodePayload);

void BM_NormalizeCode(benchmark::State& state, core::Alphabet alphabet, const char* typed,
                      int length) {
  for (auto _ : state) benchmark::DoNotOptimize(core::normalize_code(typed, alphabet, length));
}
BENCHMARK_CAPTURE(BM_NormalizeCode, digits6, core::Alphabet::kDigits, "072 857", 6);
BENCHMARK_CAPTURE(BM_NormalizeCode, alnum8, core::Alphabet::kAlnum, "ab1l-o9zq", 8);

void BM_ParseRecipient(benchmark::State& state, const char* input) {
  for (auto _ : state) benchmark::DoNotOptimize(core::parse_recipient(input));
}
BENCHMARK_CAPTURE(BM_ParseRecipient, email, " Alice.Liddell@Example.COM ");
BENCHMARK_CAPTURE(BM_ParseRecipient, phone, "+14155550100");

void BM_MaskRecipient(benchmark::State& state) {
  const auto recipient = *core::parse_recipient("alice@example.com");
  for (auto _ : state) benchmark::DoNotOptimize(core::mask_recipient(recipient));
}
BENCHMARK(BM_MaskRecipient);

}  // namespace
