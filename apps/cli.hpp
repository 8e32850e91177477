// cli.hpp: the command line of the programs in apps/ (issue 22, item 6).
//
// One table of options both parses the command line and prints --help, and
// run_main() runs a program's body so that nothing escapes it: every bad
// input ends in one line on stderr naming the problem, prefixed with the
// program's name, and an exit code —
//
//   0  the run completed (or --help / -h printed the usage)
//   1  the run failed: a correctness check, or an error it met (a folder it
//      cannot write, a server it cannot reach, …): "<program>: <message>"
//   2  bad usage: an unknown option, a malformed or out-of-range value
//
// never "terminate called after throwing" or a core dump. Options are
// `--name=value` only; a value is checked when it is parsed (integers
// against their range, words against their list), and a check that needs
// several options throws cli::usage_error from the body. Standard C++ only:
// bench_postgres includes it without the actor runtime.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace cli {

/// Bad usage found after parsing (a combination of options): run_main
/// prints "<program>: <message>" and exits with code 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// `message` on one line: each line break, with the blanks around it,
/// becomes "; " (libpq's messages end their first line with one and indent
/// the hint that follows); trailing blanks and breaks are dropped.
inline std::string one_line(const std::string& message) {
  std::string out;
  std::size_t i = 0;
  while (i < message.size()) {
    char c = message[i];
    if (c == '\n' || c == '\r') {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t'))
        out.pop_back();
      while (i < message.size()
             && (message[i] == '\n' || message[i] == '\r' || message[i] == ' '
                 || message[i] == '\t'))
        ++i;
      if (i < message.size() && !out.empty())
        out += "; ";
      continue;
    }
    out += c;
    ++i;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t'))
    out.pop_back();
  return out;
}

/// `n` with thousands separators: 1000000 -> "1,000,000".
inline std::string grouped(std::uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

/// `text` broken at blanks into lines of at most `columns` (a longer word
/// stays whole, and so does a note in [brackets]), every line but the first
/// indented by `indent`; ends with a line break.
inline std::string wrap(const std::string& text, std::size_t indent, std::size_t columns) {
  std::string out;
  std::size_t at = indent; // the column the next character lands in
  std::size_t from = 0;
  while (from < text.size()) {
    auto blank = text.find(' ', from);
    if (text[from] == '[')
      if (auto close = text.find(']', from); close != std::string::npos)
        blank = text.find(' ', close);
    auto word = text.substr(from, blank == std::string::npos ? std::string::npos : blank - from);
    from = blank == std::string::npos ? text.size() : blank + 1;
    if (word.empty())
      continue;
    bool first = at == indent;
    if (!first && at + 1 + word.size() > columns) {
      out += "\n" + std::string(indent, ' ');
      at = indent;
      first = true;
    }
    if (!first) {
      out += ' ';
      ++at;
    }
    out += word;
    at += word.size();
  }
  return out + "\n";
}

/// A program's options: what it parses and what --help prints.
class options {
public:
  /// `program` prefixes every message; `summary` is --help's first lines.
  options(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

  const std::string& program() const noexcept { return program_; }

  /// A whole number in [min, max] ("1000", or "1e6" when whole).
  template <class Int>
  options& count(Int& field, std::string name, std::string help, std::uint64_t min,
                 std::uint64_t max) {
    static_assert(std::is_integral_v<Int>);
    max = std::min<std::uint64_t>(max, static_cast<std::uint64_t>(std::numeric_limits<Int>::max()));
    auto shown = grouped(static_cast<std::uint64_t>(field));
    add({std::move(name), "N", std::move(help), range(min, max), shown,
         [&field, min, max](const std::string& key, const std::string& text) {
           field = static_cast<Int>(parse_count(key, text, min, max));
         }});
    return *this;
  }

  /// Whole numbers in [min, max], separated by commas ("1,100").
  template <class Int>
  options& counts(std::vector<Int>& field, std::string name, std::string help,
                  std::uint64_t min, std::uint64_t max) {
    std::string shown;
    for (auto v : field)
      shown += (shown.empty() ? "" : ",") + std::to_string(v); // as written on the command line
    add({std::move(name), "N,N,...", std::move(help), range(min, max), shown,
         [&field, min, max](const std::string& key, const std::string& text) {
           std::vector<Int> out;
           std::size_t from = 0;
           while (true) {
             auto comma = text.find(',', from);
             auto item = text.substr(from, comma == std::string::npos ? std::string::npos
                                                                      : comma - from);
             if (item.empty())
               throw usage_error("--" + key + ": expected whole numbers separated by commas, got '"
                                 + text + "'");
             out.push_back(static_cast<Int>(parse_count(key, item, min, max)));
             if (comma == std::string::npos)
               break;
             from = comma + 1;
           }
           field = std::move(out);
         }});
    return *this;
  }

  /// One of the words of `allowed`.
  options& choice(std::string& field, std::string name, std::string help,
                  std::vector<std::string> allowed) {
    std::string list;
    for (std::size_t i = 0; i < allowed.size(); ++i)
      list += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
    add({std::move(name), "WORD", std::move(help), list, field,
         [&field, allowed, list](const std::string& key, const std::string& text) {
           if (std::find(allowed.begin(), allowed.end(), text) == allowed.end())
             throw usage_error("--" + key + ": must be " + list + ", got '" + text + "'");
           field = text;
         }});
    return *this;
  }

  /// Any text; `check` (when given) returns why a value is refused, or
  /// nothing. `shown` is --help's default ("" = the field's value).
  options& text(std::string& field, std::string name, std::string help,
                std::function<std::optional<std::string>(const std::string&)> check = {},
                std::string shown = {}) {
    add({std::move(name), "TEXT", std::move(help), "", shown.empty() ? "'" + field + "'" : shown,
         [&field, check](const std::string& key, const std::string& value) {
           if (check)
             if (auto why = check(value))
               throw usage_error("--" + key + ": " + *why);
           field = value;
         }});
    return *this;
  }

  /// A paragraph --help prints after the options.
  options& note(std::string text) {
    notes_.push_back(std::move(text));
    return *this;
  }

  /// Parses the command line. Returns the exit code when the program is done
  /// already: 0 after --help or -h (the usage on stdout), 2 for bad usage
  /// (one line on stderr); nothing when it should run.
  std::optional<int> parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i)
      if (std::string a = argv[i]; a == "--help" || a == "-h") {
        print_help(std::cout);
        return 0;
      }
    try {
      for (int i = 1; i < argc; ++i)
        parse_one(argv[i]);
    } catch (const usage_error& e) {
      std::cerr << program_ << ": " << one_line(e.what()) << '\n';
      return 2;
    }
    return std::nullopt;
  }

  /// The usage: every option with its value's form, meaning, range and
  /// default, wrapped to 100 columns.
  void print_help(std::ostream& out) const {
    constexpr std::size_t columns = 100;
    out << "usage: " << program_ << (entries_.empty() ? "" : " [--option=value ...]") << "\n"
        << wrap(summary_, 0, columns) << "\n";
    std::size_t width = 10; // "-h, --help"
    for (const auto& e : entries_)
      width = std::max(width, e.name.size() + e.form.size() + 3);
    width = std::min<std::size_t>(width, 32);
    auto line = [&](const std::string& left, const std::string& right) {
      out << "  " << left;
      auto indent = width + 4;
      if (left.size() > width)
        out << "\n" << std::string(indent, ' ');
      else
        out << std::string(width - left.size() + 2, ' ');
      out << wrap(right, indent, columns);
    };
    out << "Options:\n";
    for (const auto& e : entries_) {
      std::string detail = e.range;
      if (!e.shown.empty())
        detail += (detail.empty() ? "default " : ", default ") + e.shown;
      line("--" + e.name + "=" + e.form, e.help + (detail.empty() ? "" : " [" + detail + "]"));
    }
    line("-h, --help", "print this help and exit");
    for (const auto& n : notes_)
      out << "\n" << wrap(n, 0, columns);
    out << "\n"
        << wrap("Exit codes: 0 the run completed; 1 it failed (a correctness check failed, or an "
                "error stopped it: one line on stderr); 2 bad usage.",
                0, columns);
  }

private:
  struct entry {
    std::string name, form, help, range, shown;
    std::function<void(const std::string& key, const std::string& text)> set;
  };

  void add(entry e) { entries_.push_back(std::move(e)); }

  static std::string range(std::uint64_t min, std::uint64_t max) {
    return grouped(min) + " to " + grouped(max);
  }

  /// "1000" or a whole number written as a real ("1e6") in [min, max].
  static std::uint64_t parse_count(const std::string& key, const std::string& text,
                                   std::uint64_t min, std::uint64_t max) {
    auto out_of_range = [&]() -> std::uint64_t {
      throw usage_error("--" + key + ": must be at least " + grouped(min) + " and at most "
                        + grouped(max) + ", got " + text);
    };
    auto not_a_number = [&]() -> std::uint64_t {
      throw usage_error("--" + key + ": expected a whole number, got '" + text + "'");
    };
    if (text.empty())
      throw usage_error("--" + key + ": needs a value (--" + key + "=N)");
    // A sign, digits and nothing else: an integer, possibly beyond 64 bits.
    std::size_t digits_from = text[0] == '-' || text[0] == '+' ? 1 : 0;
    bool integer = digits_from < text.size()
                   && std::all_of(text.begin() + static_cast<std::ptrdiff_t>(digits_from),
                                  text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (integer) {
      if (text[0] == '-')
        return text.find_first_not_of("-0") == std::string::npos && min == 0 ? 0 : out_of_range();
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(text.data() + digits_from, text.data() + text.size(), n);
      if (ec == std::errc::result_out_of_range)
        return out_of_range();
      if (ec != std::errc{} || end != text.data() + text.size())
        return not_a_number();
      return n < min || n > max ? out_of_range() : n;
    }
    // "1e6", "2.5": a real, taken when whole.
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || std::isnan(d))
      return not_a_number();
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)))
      return out_of_range(); // the infinities too
    if (d != std::floor(d))
      return not_a_number();
    return static_cast<std::uint64_t>(d);
  }

  void parse_one(const std::string& arg) const {
    if (arg.rfind("--", 0) != 0)
      throw usage_error("unexpected argument '" + arg + "' ("
                        + (entries_.empty() ? program_ + " takes no options"
                                            : std::string("options are written --name=value; "
                                                          "--help lists them"))
                        + ")");
    auto eq = arg.find('=');
    auto key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const entry& e) { return e.name == key; });
    if (it == entries_.end())
      throw usage_error("unknown option '--" + key + "' ("
                        + (entries_.empty() ? program_ + " takes no options"
                                            : std::string("--help lists the options"))
                        + ")");
    if (eq == std::string::npos)
      throw usage_error("--" + key + ": needs a value (--" + key + "=" + it->form + ")");
    it->set(key, arg.substr(eq + 1));
  }

  std::string program_;
  std::string summary_;
  std::vector<entry> entries_;
  std::vector<std::string> notes_;
};

/// Parses the command line with `opts`, then returns `body()` as the exit
/// code. What escapes the body ends in one line on stderr,
/// "<program>: <message>": exit code 2 for a cli::usage_error, 1 for any
/// other exception.
inline int run_main(int argc, char** argv, const options& opts, const std::function<int()>& body) {
  if (auto done = opts.parse(argc, argv))
    return *done;
  try {
    return body();
  } catch (const usage_error& e) {
    std::cerr << opts.program() << ": " << one_line(e.what()) << '\n';
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << opts.program() << ": out of memory (smaller sizes may fit)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << opts.program() << ": " << one_line(e.what()) << '\n';
    return 1;
  } catch (...) {
    std::cerr << opts.program() << ": stopped by an unknown exception\n";
    return 1;
  }
}

} // namespace cli
