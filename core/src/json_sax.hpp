// What serde's two Boost.JSON SAX handlers share: serde.cpp's builds a
// boost::json::value, serde_flat.cpp's fills a flat struct. Both read one
// complete text nested at most serde::max_depth, with no limits of their own,
// and read numbers with a fraction or exponent exactly.
#pragma once

#include <sourcery/registry.hpp>

#include <boost/json/basic_parser.hpp>
#include <boost/json/error.hpp>
#include <boost/system/error_code.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

namespace sourcery::serde::detail {

/// The members basic_parser asks of every handler and that both answer alike.
struct sax_handler_base {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  using error_code = boost::system::error_code;
  using string_view = boost::json::string_view;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

/// The options both parse with: nesting at most serde::max_depth.
inline boost::json::parse_options sax_options() {
  boost::json::parse_options options;
  options.max_depth = max_depth;
  return options;
}

/// Parses all of `text`; the parser's error, or extra_data when text remains.
template <class Handler>
boost::system::error_code parse_all(boost::json::basic_parser<Handler>& parser,
                                    std::string_view text) {
  boost::system::error_code ec;
  auto consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && consumed < text.size())
    ec = boost::json::error::extra_data;
  return ec;
}

/// Boost.JSON 1.81's conversion of such numbers is off by one ulp for about a
/// third of all doubles, so doubles would not round-trip (R-E1); this reads
/// the number's text (`parts`, what came in earlier buffers, then `last`)
/// with std::from_chars instead, keeping Boost.JSON's `d` only where that
/// fails. Clears `parts`. False for a number beyond the largest double (Boost
/// gives an infinity, which no write can store: check_encodable), so reads
/// accept exactly what writes make. (Boost 1.83 added parse_options::numbers.)
inline bool exact_double(std::string& parts, std::string_view last, double& d) {
  parts.append(last.data(), last.size());
  double exact = 0;
  auto [end, ec] = std::from_chars(parts.data(), parts.data() + parts.size(), exact);
  if (ec == std::errc{} && end == parts.data() + parts.size())
    d = exact; // out of range: keep Boost.JSON's value
  parts.clear();
  return std::isfinite(d);
}

} // namespace sourcery::serde::detail
