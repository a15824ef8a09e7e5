// TLS for the gateway's listeners: a server context with a modern baseline (TLS 1.2+, forward-secret
// AEAD ciphers only) and, when client CAs are given, client-certificate verification; and what a
// verified client certificate says about its holder. For the gateway's clients (`carebridge send`,
// the notification sender): a client context with the same baseline, and the server-name checks.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

typedef struct ssl_st SSL;

namespace carebridge::adapters::tls {

struct server_options {
  std::string certificate_file;  // PEM chain
  std::string private_key_file;  // PEM
  std::string client_ca_file;    // PEM; empty: client certificates are not asked for
  bool require_client_certificate = true;
};

/// Builds the context. Throws std::runtime_error with one clear line (which file, what is wrong).
std::shared_ptr<boost::asio::ssl::context> make_server_context(const server_options& o);

/// A listener's server context that can be rebuilt from its files while it serves (certificate
/// renewal without a restart): each connection takes current() once, when it starts, and keeps
/// that context for its life; connections that start after a reload() get the new one.
class server_context_holder {
 public:
  /// Builds the first context (throws as make_server_context does).
  explicit server_context_holder(server_options o);
  std::shared_ptr<boost::asio::ssl::context> current() const;
  /// Builds a context from the same files again. On failure it throws (one line: which file, what
  /// is wrong) and the current context stays. Any thread.
  void reload();

 private:
  server_options options_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
};

/// Builds a client context for `carebridge send --tls` and tests: trusts `ca_file` (system CAs when
/// empty), presents `certificate_file`/`private_key_file` when given, verifies the server.
std::shared_ptr<boost::asio::ssl::context> make_client_context(const std::string& ca_file,
                                                               const std::string& certificate_file,
                                                               const std::string& private_key_file);

/// Prepares a client connection to `host` (a DNS name or an IP literal, without brackets): sends it
/// as SNI (names only: RFC 6066 forbids IP literals there) and makes the handshake fail unless the
/// server's certificate names it (SAN DNS or IP; no partial wildcards). Call before the handshake.
/// False when OpenSSL refused the name.
bool expect_server_name(SSL* ssl, const std::string& host);

struct peer_identity {
  std::string subject;             // RFC 2253, e.g. "CN=mercy-engine,O=Mercy"
  std::vector<std::string> names;  // the subject CN, then each SAN DNS name
};

/// The verified peer certificate of a connection, or an empty identity.
peer_identity identity_of(SSL* ssl);

}  // namespace carebridge::adapters::tls
