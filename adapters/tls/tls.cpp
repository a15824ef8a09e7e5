#include "adapters/tls/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include <stdexcept>

namespace carebridge::adapters::tls {

namespace ssl = boost::asio::ssl;

namespace {

constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

void baseline(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx.native_handle(), tls12_ciphers);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

template <typename F>
void load(F&& f, const std::string& what, const std::string& file) {
  boost::system::error_code ec;
  f(ec);
  if (ec) throw std::runtime_error("TLS: cannot load " + what + " " + file + ": " + ec.message());
}

}  // namespace

server_context_holder::server_context_holder(server_options o)
    : options_(std::move(o)), ctx_(make_server_context(options_)) {}

std::shared_ptr<ssl::context> server_context_holder::current() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

void server_context_holder::reload() {
  auto fresh = make_server_context(options_);  // throws before anything changes
  std::lock_guard lock(mu_);
  ctx_ = std::move(fresh);
}

std::shared_ptr<ssl::context> make_server_context(const server_options& o) {
  if (o.certificate_file.empty() || o.private_key_file.empty())
    throw std::runtime_error("TLS: a certificate and a private key are both needed");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  baseline(*ctx);
  load([&](auto& ec) { ctx->use_certificate_chain_file(o.certificate_file, ec); }, "certificate",
       o.certificate_file);
  load([&](auto& ec) { ctx->use_private_key_file(o.private_key_file, ssl::context::pem, ec); },
       "private key", o.private_key_file);
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw std::runtime_error("TLS: the private key " + o.private_key_file +
                             " does not match the certificate " + o.certificate_file);
  if (!o.client_ca_file.empty()) {
    load([&](auto& ec) { ctx->load_verify_file(o.client_ca_file, ec); }, "client CA file",
         o.client_ca_file);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    ctx->set_verify_mode(o.require_client_certificate
                             ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                             : ssl::verify_peer);
  } else if (o.require_client_certificate) {
    // Asking for client certificates without saying which CAs to trust would accept none.
    ctx->set_verify_mode(ssl::verify_none);
  }
  static const unsigned char session_id[] = "carebridge";
  SSL_CTX_set_session_id_context(ctx->native_handle(), session_id, sizeof session_id - 1);
  return ctx;
}

std::shared_ptr<ssl::context> make_client_context(const std::string& ca_file,
                                                  const std::string& certificate_file,
                                                  const std::string& private_key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  baseline(*ctx);
  if (ca_file.empty()) {
    ctx->set_default_verify_paths();
  } else {
    load([&](auto& ec) { ctx->load_verify_file(ca_file, ec); }, "CA file", ca_file);
  }
  if (!certificate_file.empty()) {
    load([&](auto& ec) { ctx->use_certificate_chain_file(certificate_file, ec); }, "certificate",
         certificate_file);
    load([&](auto& ec) { ctx->use_private_key_file(private_key_file, ssl::context::pem, ec); },
         "private key", private_key_file);
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

bool expect_server_name(SSL* ssl, const std::string& host) {
  if (ssl == nullptr || host.empty()) return false;
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

peer_identity identity_of(SSL* ssl) {
  peer_identity id;
  if (ssl == nullptr) return id;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return id;
  if (X509_NAME* name = X509_get_subject_name(cert)) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    if (len > 0) id.subject.assign(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx >= 0) {
      ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
      unsigned char* utf8 = nullptr;
      const int n = ASN1_STRING_to_UTF8(&utf8, cn);
      if (n > 0) id.names.emplace_back(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
      OPENSSL_free(utf8);
    }
  }
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_DNS) {
        const auto* s = g->d.dNSName;
        id.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                              static_cast<std::size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  X509_free(cert);
  return id;
}

}  // namespace carebridge::adapters::tls
