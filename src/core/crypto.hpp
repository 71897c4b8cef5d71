// Thin, allocation-light wrappers over OpenSSL 3 for the primitives otpd uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/random.hpp"

namespace otpd::core {

// Raw 32-byte digests as strings of bytes.
std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
// Starts OpenSSL's one-time set-up on a thread of its own (its configuration file,
// providers, the random generator, the HMAC and HKDF implementations), which then overlaps
// reading the config, binding the listener and opening the store at a cold start. The
// returned thread ends when that is done; joining it is never needed for correctness,
// since OpenSSL sets itself up once and a first use elsewhere meanwhile waits for it.
std::jthread warm_up_crypto();

// RFC 5869 HKDF-SHA256 with an empty salt; `info` separates the derived keys' purposes.
std::string hkdf_sha256(std::string_view input_key, std::string_view info, std::size_t length);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view hex);
std::string base64url_encode(std::string_view bytes);  // no padding
// The same 64 URL-safe characters, no padding, but assigned in ASCII order ('-', digits,
// upper case, '_', lower case), so that encodings of equal length sort as their bytes do.
std::string sortable_base64url_encode(std::string_view bytes);
// Its inverse, for whole groups of 4 characters (3 bytes); nullopt for any other length or
// a character outside the alphabet.
std::optional<std::string> sortable_base64url_decode(std::string_view text);
// RFC 4648 base64 with padding (HTTP Basic auth, SMTP AUTH, MIME bodies).
std::string base64_encode(std::string_view bytes);

// AES-256-GCM. The sealed form is nonce(12) || ciphertext || tag(16); `aad` binds it
// to its context so a sealed blob cannot be moved to another record.
std::string aes_gcm_seal(std::string_view key32, std::string_view plaintext, std::string_view aad,
                         RandomSource& rng);
// nullopt when the blob was tampered with, truncated, or sealed under another key or aad.
std::optional<std::string> aes_gcm_open(std::string_view key32, std::string_view sealed,
                                        std::string_view aad);

}  // namespace otpd::core
