// The `carebridge` executable: a thin shell over app::run (see cli.hpp).
#include "gateway/app/cli.hpp"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return carebridge::app::run(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "carebridge: internal error: " << e.what() << '\n';
    return carebridge::app::exit_internal;
  }
}
