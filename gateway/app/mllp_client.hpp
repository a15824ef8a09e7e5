// The MLLP client of `carebridge send` and `carebridge store replay`: where to connect and how
// (plain TCP, or TLS with SNI and host-name verification, optionally with a client certificate),
// and one exchange that sends messages in order over one connection, each framed and answered by
// its ACK before the next is written.
//
// send_mllp_messages() runs its own io_context on the calling thread (one strand: a single
// coroutine) and returns when every message is answered, the exchange broke off, or no connection
// could be made. The caller owns the options, the messages and the callback; none is kept.
#pragma once

#include "gateway/config/config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::app {

/// Where to send and how; filled by parse_mllp_client_option() and check_mllp_client_options().
struct mllp_client_options {
  std::string target;       // HOST:PORT as given on the command line (named in the errors)
  bool tls = false;         // --tls
  std::string ca;           // --ca: the CA to trust (the system's when empty)
  std::string cert, key;    // --cert/--key: the client certificate, both or neither
  std::string server_name;  // --server-name: sent as SNI and verified; the host when empty
  std::chrono::milliseconds timeout{10000};  // --timeout: each connect, handshake, write, ACK wait
  gateway::config::host_port endpoint;       // `target` parsed by check_mllp_client_options()
};

/// What parse_mllp_client_option() made of an argument.
enum class client_option : std::uint8_t {
  not_mine,   // not a client option: the command's own, or unknown
  taken,      // a client option, with its value if it has one
  bad_value,  // a client option with its value missing or wrong; one line written on `err`
};

/// Takes args[i] when it is --tls, --ca FILE, --cert FILE, --key FILE, --server-name N or
/// --timeout S, advancing `i` past its value. A bad value is reported as one line on `err`,
/// prefixed by `command` ("carebridge send").
client_option parse_mllp_client_option(const std::vector<std::string>& args, std::size_t& i,
                                       mllp_client_options& options, std::string_view command,
                                       std::ostream& err);

/// Checks the options once all are parsed: --cert and --key together, `target` a HOST:PORT (into
/// `endpoint`). False after one line on `err`, prefixed by `command`.
bool check_mllp_client_options(mllp_client_options& options, std::string_view command,
                               std::ostream& err);

/// How an exchange ended. Both texts empty: every message was answered.
struct mllp_send_result {
  std::string connect_error;  // nothing sent: TLS context, resolve, connect or handshake failed
  std::string failure;        // the exchange broke off: write failed, connection closed, no ACK
  std::size_t answered = 0;   // messages answered, the first ones in order
};

/// Sends `messages` (unframed, CR segment terminators) in order over one connection to the checked
/// `options`, each waiting for its ACK, and calls `on_ack(index, ack_payload)` as each ACK arrives
/// (the payload is valid during the call only). `connect_hint` is appended to the error of a
/// refused or timed-out connect.
mllp_send_result send_mllp_messages(
    const mllp_client_options& options, const std::vector<std::string_view>& messages,
    const std::function<void(std::size_t, std::string_view)>& on_ack,
    std::string_view connect_hint = {});

}  // namespace carebridge::app
