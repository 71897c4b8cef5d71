// A self-signed TLS certificate for in-test servers, and the trust file that makes a client
// in the test process trust it, shared by the net and delivery unit tests.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace otpd::testing_support {

struct Credentials {
  std::string certificate_pem;
  std::string key_pem;
};

// A self-signed P-256 certificate for DNS name "localhost" only.
inline Credentials make_self_signed() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 24 * 3600);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost"},
                                   std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(certificate, key, EVP_sha256());

  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return pem;
  };
  Credentials credentials;
  credentials.certificate_pem = to_pem([&](BIO* bio) { PEM_write_bio_X509(bio, certificate); });
  credentials.key_pem = to_pem(
      [&](BIO* bio) { PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(certificate);
  EVP_PKEY_free(key);
  return credentials;
}

// A server-side TLS context presenting `credentials`; the caller frees it with SSL_CTX_free.
inline SSL_CTX* server_context(const Credentials& credentials) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  BIO* certificate_bio = BIO_new_mem_buf(credentials.certificate_pem.data(),
                                         static_cast<int>(credentials.certificate_pem.size()));
  X509* certificate = PEM_read_bio_X509(certificate_bio, nullptr, nullptr, nullptr);
  BIO* key_bio =
      BIO_new_mem_buf(credentials.key_pem.data(), static_cast<int>(credentials.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  SSL_CTX_use_certificate(context, certificate);
  SSL_CTX_use_PrivateKey(context, key);
  X509_free(certificate);
  EVP_PKEY_free(key);
  BIO_free(certificate_bio);
  BIO_free(key_bio);
  return context;
}

// Writes `certificate_pem` to "<temp dir>/<name_prefix><pid>.pem" and returns its path.
inline std::filesystem::path write_trust_file(const std::string& name_prefix,
                                              const std::string& certificate_pem) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / (name_prefix + std::to_string(::getpid()) + ".pem");
  std::ofstream(path) << certificate_pem;
  return path;
}

// Makes the trust store also hold the certificates in `path`, through the standard OpenSSL
// variable rather than any switch in the code under test.
inline void trust_file(const std::filesystem::path& path) {
  ::setenv("SSL_CERT_FILE", path.c_str(), 1);
}

// Undoes trust_file() and deletes the file.
inline void remove_trust_file(const std::filesystem::path& path) {
  ::unsetenv("SSL_CERT_FILE");
  std::filesystem::remove(path);
}

}  // namespace otpd::testing_support
