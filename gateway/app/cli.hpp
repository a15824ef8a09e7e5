// The `carebridge` command line: one function per command, dispatched by run().
//
// Contract (DESIGN.md): exit 0 on success, 1 on a usage or input error (one clear line on stderr),
// 2 on an internal failure.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::app {

inline constexpr int exit_ok = 0;
inline constexpr int exit_input = 1;
inline constexpr int exit_internal = 2;

/// Runs the command line (args without the program name). Writes to `out` and `err`.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge inspect [--get PATH]... [--er7] [--compact] [--fallback-charset NAME] FILE|-`
int cmd_inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge convert [--config FILE] [--compact] [--event] [--verbose] FILE|-`
int cmd_convert(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge serve [--config FILE] [--data-dir DIR] [--mllp-listen HOST:PORT] [--http-listen HOST:PORT]`
int cmd_serve(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge send HOST:PORT FILE... [--tls] [--ca FILE] [--cert FILE --key FILE] [--timeout S]`
int cmd_send(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge store stats --data-dir DIR [--json]`
int cmd_store(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge store messages --data-dir DIR [--state S] [--facility F] [--since T] [--until T]
/// [--limit N] [--json]` (args[0] is "messages")
int cmd_store_messages(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge store reprocess --data-dir DIR (--id N... [--force] | --errored [--facility F]
/// [--since T] [--until T] | --since T [--until T] [--facility F] [--state S]... [--force])
/// [--dry-run] [--json]` (args[0] is "reprocess")
int cmd_store_reprocess(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge store replay FILE... [--to HOST:PORT] [--tls ...] [--facility F] [--data-dir DIR]
/// [--dry-run] [--json]`: the file's messages sent to a running gateway over MLLP (args[0] is
/// "replay")
int cmd_store_replay(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge subscriptions list|deliveries|retry --data-dir DIR ...`
int cmd_subscriptions(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge members stats|reviews|show|link|dismiss|outcome|encounter ... [--data-dir DIR]`
int cmd_members(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `carebridge audit list|export|prune ... [--data-dir DIR | --config FILE]`
int cmd_audit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// Reads a whole file, or standard input for "-". nullopt (and one line on `err`) on failure.
std::optional<std::string> read_input(const std::string& name, std::ostream& err,
                                      std::string_view command);

/// True when DIR holds a store (DIR/carebridge.db); otherwise one line on `err`, naming the
/// command ("store messages"): no --data-dir given, or no store in DIR.
bool store_exists(const std::string& dir, std::string_view command, std::ostream& err);

/// Unix µs of a FHIR instant (2026-11-20T14:30:00Z, or with an offset) or a date (2026-11-20:
/// midnight UTC); nullopt when it is neither.
std::optional<std::int64_t> time_us(std::string_view text);

}  // namespace carebridge::app
