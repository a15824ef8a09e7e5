// The MLLP listener: HL7 v2 over TCP, optionally TLS with client certificates.
//
// Lifecycle: construct, bind() (throws with one clear line when the address cannot be used), start()
// (accepting runs on the io_context), then stop(grace) to shut down: stop accepting, let every
// connection finish the frame in hand (its ACK is written after the commit), close idle ones at once,
// and cancel whatever is left after `grace`. The io_context's run() returns when all is done.
//
// Each connection is a coroutine on its own strand: frames are handled one after the other (FIFO per
// connection), each ACK is written only after the store has committed the message. Every read has a
// timeout (idle between frames, in-frame while a frame is incomplete), every frame a size cap, every
// ACK write a timeout. The listener owns its sockets and timers; the ingest service it is given must
// outlive it.
#pragma once

#include "adapters/tls/tls.hpp"
#include "gateway/ingest/ingest_service.hpp"
#include "gateway/obs/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace carebridge::adapters::mllp {

using tls_options = tls::server_options;

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 2575;
  std::size_t max_frame_bytes = 16u << 20;
  std::size_t max_connections = 20'000;
  std::size_t max_connections_per_peer = 2'000;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(60)};
  std::chrono::milliseconds frame_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds ack_write_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  bool tcp_keepalive = true;
  bool release2_commit_bytes = false;  // MLLP release 2: 0x06 / 0x15 commit block before the ACK
  std::optional<tls_options> tls;
};

class mllp_listener {
 public:
  mllp_listener(boost::asio::io_context& ioc, gateway::ingest::ingest_service& ingest,
                gateway::obs::registry& metrics, options opts);
  ~mllp_listener();
  mllp_listener(const mllp_listener&) = delete;
  mllp_listener& operator=(const mllp_listener&) = delete;

  /// Opens the TLS context (when configured), binds and listens. Returns the bound endpoint (port
  /// 0 gets a real one). Throws std::runtime_error with one clear line.
  boost::asio::ip::tcp::endpoint bind();
  /// Starts accepting connections.
  void start();
  /// Graceful stop (see above). Safe from any thread.
  void stop(std::chrono::milliseconds grace);

  std::size_t open_connections() const;
  bool listening() const;
  /// Reads the TLS certificate, key and client CA files again (after bind(); certificate renewal
  /// without a restart): connections that start afterwards use them, open ones keep theirs. Throws
  /// std::runtime_error (one line) and keeps the current ones when the files do not load. No-op
  /// without TLS. Any thread.
  void reload_tls();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace carebridge::adapters::mllp
