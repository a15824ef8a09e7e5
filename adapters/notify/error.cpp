#include "adapters/notify/error.hpp"

#include <string>

namespace carebridge::adapters::notify {

namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "notify"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::bad_endpoint:
        return "the endpoint is not an acceptable https URL";
      case error::bad_header:
        return "a channel header is malformed or not allowed";
      case error::resolve_failed:
        return "the endpoint's host name did not resolve";
      case error::connect_failed:
        return "no connection to the endpoint";
      case error::tls_failed:
        return "the TLS handshake failed";
      case error::certificate_rejected:
        return "the endpoint's certificate was not trusted";
      case error::timeout:
        return "the endpoint did not answer in time";
      case error::connection_lost:
        return "the connection to the endpoint was lost";
      case error::bad_response:
        return "the endpoint's answer is not valid HTTP";
      case error::shut_down:
        return "the sender is shutting down";
    }
    return "notify error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace carebridge::adapters::notify
