// Error codes of the notification sender (adapters/notify). Each names what failed on the way to a
// subscriber's endpoint; none carries a URL path, a query, a header value or a body, so the message
// texts are safe to log and to put into a Subscription's error text.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace carebridge::adapters::notify {

enum class error {
  /// The endpoint is not an https URL (http only to loopback when allowed), or is malformed.
  bad_endpoint = 1,
  /// A channel header is malformed (no name, CR/LF/NUL) or sets a header the client owns.
  bad_header,
  /// The endpoint's host name did not resolve.
  resolve_failed,
  /// No TCP connection could be made (refused, unreachable).
  connect_failed,
  /// The TLS handshake failed for a reason other than the server's certificate.
  tls_failed,
  /// The server's certificate did not verify (untrusted chain, wrong name, expired).
  certificate_rejected,
  /// The attempt (connect, TLS, write and read together) did not finish in time.
  timeout,
  /// The connection failed or was closed while the request was sent or the response read.
  connection_lost,
  /// The peer answered something that is not a valid HTTP/1.x response.
  bad_response,
  /// The sender is shutting down; the attempt was not made or was abandoned.
  shut_down,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace carebridge::adapters::notify

template <>
struct boost::system::is_error_code_enum<carebridge::adapters::notify::error> : std::true_type {};
