// The exact value of a JSON number with a fraction or exponent, shared by
// serde's parsers (serde.cpp, serde_flat.cpp).
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

namespace sourcery::serde::detail {

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
