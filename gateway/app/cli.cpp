#include "gateway/app/cli.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace carebridge::app {
namespace {

constexpr std::string_view usage =
    "usage: carebridge <command> [options]\n"
    "\n"
    "commands:\n"
    "  inspect [--get PATH]... [--er7] [--compact] [--fallback-charset NAME] FILE|-\n"
    "      parse HL7 v2 message(s) (single, concatenated or FHS/BHS batch) and print them as\n"
    "      JSON, the decoded value at each PATH (one per line), or the ER7 text written back.\n"
    "      PATH: SEG[n].F[r].C.S, 1-based, e.g. PID.5.1, PID.3[2].1, DG1[2].3.1, PV1.45\n"
    "  help\n"
    "      this text\n"
    "\n"
    "exit status: 0 success, 1 usage or input error, 2 internal failure\n";

}  // namespace

std::optional<std::string> read_input(const std::string& name, std::ostream& err,
                                      std::string_view command) {
  if (name == "-") {
    std::string data{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad()) {
      err << "carebridge " << command << ": cannot read standard input\n";
      return std::nullopt;
    }
    return data;
  }
  std::ifstream in(name, std::ios::binary);
  if (!in) {
    err << "carebridge " << command << ": cannot open " << name << '\n';
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    err << "carebridge " << command << ": cannot read " << name << '\n';
    return std::nullopt;
  }
  return std::move(buf).str();
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << usage;
    return exit_input;
  }
  const std::string& command = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "inspect") return cmd_inspect(rest, out, err);
  if (command == "help" || command == "--help" || command == "-h") {
    out << usage;
    return exit_ok;
  }
  err << "carebridge: unknown command '" << command << "' (try: carebridge help)\n";
  return exit_input;
}

}  // namespace carebridge::app
