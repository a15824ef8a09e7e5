// Loopback HTTP(S) clients for the integration tests: the dev CA (certs/make-dev-certs.sh, made
// once per test process), one request per connection, plain or TLS with a client certificate, and
// checks of FHIR answers.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace carebridge::test_http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

inline fs::path certs_dir() {
  static const fs::path dir = [] {
    const auto d = fs::temp_directory_path() / "carebridge-test-certs";
    const std::string cmd =
        "bash " CAREBRIDGE_SOURCE_DIR "/certs/make-dev-certs.sh " + d.string() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make-dev-certs.sh failed");
    return d;
  }();
  return dir;
}


inline rapidjson::Document json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text.substr(0, 300);
  return d;
}

struct reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : it->second;
  }
};

using fields = std::vector<std::pair<std::string, std::string>>;

template <typename Stream>
inline reply exchange(Stream& s, beast::tcp_stream& lowest, const std::string& method,
               const std::string& target, const std::string& body, const fields& extra) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  bool has_type = false;
  for (const auto& [k, v] : extra) {
    req.set(k, v);
    has_type |= k == "Content-Type";
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/fhir+json");
  req.body() = body;
  req.prepare_payload();
  lowest.expires_after(20s);
  beast::error_code ec;
  http::write(s, req, ec);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res, ec);
  reply out;
  if (ec) return out;
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string n(f.name_string());
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[n] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

inline reply call(std::uint16_t port, const std::string& method, const std::string& target,
           const std::string& body = {}, const fields& extra = {}) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return exchange(s, s, method, target, body, extra);
}

inline reply call_tls(std::uint16_t port, const std::string& cert, const std::string& method,
               const std::string& target, const std::string& body = {}, const fields& extra = {}) {
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file((certs_dir() / "ca.crt").string());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (!cert.empty()) {
    ctx.use_certificate_chain_file((certs_dir() / (cert + ".crt")).string());
    ctx.use_private_key_file((certs_dir() / (cert + ".key")).string(), asio::ssl::context::pem);
  }
  beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
  auto& lowest = beast::get_lowest_layer(s);
  lowest.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  lowest.expires_after(10s);
  s.handshake(asio::ssl::stream_base::client);
  return exchange(s, lowest, method, target, body, extra);
}

inline void expect_outcome(const reply& r, unsigned status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_THAT(r.header("content-type"), HasSubstr("application/fhir+json"));
  rapidjson::Document d = json(r.body);
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["resourceType"].GetString(), "OperationOutcome");
  EXPECT_EQ(std::string(d["issue"][0]["code"].GetString()), code) << r.body;
}

}  // namespace carebridge::test_http
