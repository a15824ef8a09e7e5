// Test helper: plain HTTP/1.1 to a `carebridge serve` on loopback, without a client library —
// one raw exchange per connection, so a test sees exactly what the gateway wrote — and the port a
// listener reports in its start-up log line (the gateway listens on port 0).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <regex>
#include <string>
#include <vector>

namespace carebridge::test {

/// The port of a listener's start-up log line ("address":"127.0.0.1:PORT"); -1 when none.
inline int port_from(const std::string& line) {
  static const std::regex re(R"re("address":"[^"]*:(\d+)")re");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoi(m[1]) : -1;
}

/// A TCP connection to 127.0.0.1:`port` whose reads give up after `recv_timeout_s` seconds; -1
/// when the connection is refused.
inline int connect_loopback(int port, int recv_timeout_s) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{recv_timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

/// One HTTP/1.1 exchange on a fresh plain connection to 127.0.0.1 ("Connection: close"): the raw
/// response. `headers` are "Name: value" lines.
inline std::string http_exchange(int port, const std::string& method, const std::string& path,
                                 const std::string& body = {},
                                 const std::vector<std::string>& headers = {},
                                 const std::string& content_type = "application/fhir+json") {
  const int fd = connect_loopback(port, 10);
  if (fd < 0) return "";
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!body.empty())
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  req += "\r\n" + body;
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

/// The body of a raw HTTP response.
inline std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

}  // namespace carebridge::test
