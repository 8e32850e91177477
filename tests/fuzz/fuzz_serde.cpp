// Fuzz target: serde's decoding of stored JSON (SPEC §2, R-E3, issue 14).
// Properties: parsing either succeeds or throws decode_failure; what parses
// is encodable (nesting within serde::max_depth, UTF-8, finite numbers) and
// reads back equal after serialising; decoding into a described struct or a
// context throws only the documented types; what the fast path for flat
// structs (serde_flat.hpp) reads, the general path reads the same.
#include "fuzz_check.hpp"

#include <sourcery/registry.hpp>
#include <sourcery/events.hpp>

#include <boost/describe.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

struct line {
  std::string sku;
  std::int32_t quantity = 0;
  double price = 0;
};
BOOST_DESCRIBE_STRUCT(line, (), (sku, quantity, price))

struct order_placed {
  std::string customer;
  std::optional<std::uint64_t> reference;
  std::vector<line> lines;
  std::map<std::string, bool> flags;
  sourcery::timestamp at;
  sourcery::uuid id;
};
BOOST_DESCRIBE_STRUCT(order_placed, (), (customer, reference, lines, flags, at, id))

/// Flat: every kind of member serde_flat.hpp takes.
struct flat {
  std::string text;
  bool flag = false;
  std::int32_t small = 0;
  std::uint64_t big = 0;
  double amount = 0;
  std::optional<std::string> maybe_text;
  std::optional<std::int16_t> maybe_small;
  friend bool operator==(const flat&, const flat&) = default;
};
BOOST_DESCRIBE_STRUCT(flat, (), (text, flag, small, big, amount, maybe_text, maybe_small))

/// The fast path may decline anything, but what it reads must equal what
/// value_to reads from the parsed value (and value_to must read it); what it
/// writes of that value must read back as the general path's text does.
void check_flat(std::string_view text) {
  namespace serde = sourcery::serde;
  auto fast = serde::detail::try_decode_flat<flat>(text);
  if (!fast)
    return;
  flat slow = serde::convert<flat>(serde::parse(text)); // throws: a finding
  FUZZ_CHECK(*fast == slow);
  FUZZ_CHECK(std::memcmp(&fast->amount, &slow.amount, sizeof(double)) == 0);
  auto written = serde::detail::try_encode_flat(slow);
  FUZZ_CHECK(written.has_value()); // it was read from JSON, so it has a JSON form
  FUZZ_CHECK(serde::parse(*written) == serde::parse(boost::json::serialize(boost::json::value_from(slow))));
}

template <class T>
void decode_as(const boost::json::value& v) {
  try {
    (void)sourcery::serde::convert<T>(v);
  } catch (const sourcery::serde::decode_failure&) {
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_flat(text);
  boost::json::value v;
  try {
    v = sourcery::serde::parse(text);
  } catch (const sourcery::serde::decode_failure&) {
    return 0;
  }
  sourcery::serde::detail::check_encodable(v); // throws if stored data could not be re-stored
  auto again = sourcery::serde::parse(boost::json::serialize(v));
  FUZZ_CHECK(again == v);
  decode_as<order_placed>(v);
  decode_as<sourcery::context>(v);
  return 0;
}
