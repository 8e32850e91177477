// JSON serialisation of events through Boost.Describe + Boost.JSON (R-E1).
//
// Any struct described with BOOST_DESCRIBE_STRUCT (members of described
// structs, strings, arithmetic types, bool, std::optional, std::vector,
// std::map<std::string, …>, sourcery::timestamp, sourcery::uuid) converts
// without hand-written JSON code.
#pragma once

#include <sourcery/serde_flat.hpp>

#include <boost/describe.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sourcery::serde {

/// Data that does not fit a type: the dotted path of the field and why.
struct decode_failure : std::runtime_error {
  decode_failure(std::string path, const std::string& detail)
    : std::runtime_error(detail), field(std::move(path)) {}
  std::string field;
};

/// A value that has no JSON form that reads back (NaN, an infinity, a string
/// that is not UTF-8 …): the dotted path of the field and why.
struct encode_failure : std::runtime_error {
  encode_failure(std::string path, const std::string& detail)
    : std::runtime_error(detail), field(std::move(path)) {}
  std::string field;
};

/// The deepest nesting of arrays and objects that any JSON Sourcery stores
/// may have: an event's data, its context, an encrypted field's value. The
/// outermost array or object counts as level 1, so an event's fields are at
/// level 2 and a context's extra fields too. Writes refuse deeper values
/// (`encode`, `detail::check_encodable`: encode_failure) and reads parse with
/// exactly this limit, so everything stored reads back (issue 14).
inline constexpr std::size_t max_depth = 64;

/// Parses JSON text nested at most `max_depth` levels; throws decode_failure
/// with an empty path when malformed, nested deeper, or holding a number
/// beyond the range of double (it would read as an infinity, which no write
/// stores).
boost::json::value parse(std::string_view text);

namespace detail {

std::string join_path(std::string_view parent, std::string_view child);
std::string describe_exception(const std::exception& e);

/// Throws encode_failure unless `v` serialises to JSON that parses back:
/// finite numbers, UTF-8 strings and keys, and arrays and objects nested at
/// most `max_depth` levels. Iterative: a value nested a million levels deep is
/// refused without deep recursion (its first `max_depth` levels are walked).
void check_encodable(const boost::json::value& v);

/// As above for an object that is the root of a document (level 1).
void check_encodable(const boost::json::object& root);

} // namespace detail

/// The JSON text of `value`; throws encode_failure when it has none that
/// would read back, so nothing unreadable is ever stored. Flat structs are
/// written straight to text (serde_flat.hpp).
template <class T>
std::string encode(const T& value) {
  if (auto fast = detail::try_encode_flat(value))
    return std::move(*fast);
  boost::json::value v;
  try {
    v = boost::json::value_from(value);
  } catch (const encode_failure&) {
    throw; // from a conversion that checks its own part (e.g. the context)
  } catch (const std::exception& e) {
    throw encode_failure("", detail::describe_exception(e));
  }
  detail::check_encodable(v);
  return boost::json::serialize(v);
}

namespace detail {

/// Finds the first member of a described struct that does not convert;
/// returns its dotted path, or "" when the fault is not in a member, and sets
/// `why` (when empty) to the innermost failure's message.
template <class T>
std::string find_bad_field(const boost::json::value& v, std::string_view path,
                           [[maybe_unused]] std::string& why) {
  if constexpr (boost::describe::has_describe_members<T>::value) {
    if (!v.is_object())
      return std::string(path);
    const auto& obj = v.get_object();
    std::string found;
    using members = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>([&](auto d) {
      if (!found.empty())
        return;
      using member_t = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      auto child = join_path(path, d.name);
      const auto* it = obj.if_contains(d.name);
      try {
        boost::json::value_to<member_t>(it ? *it : boost::json::value{});
      } catch (const std::exception& e) {
        auto deeper = it ? find_bad_field<member_t>(*it, child, why) : child;
        found = deeper.empty() ? child : deeper;
        if (why.empty())
          why = describe_exception(e);
      }
    });
    return found;
  } else {
    return std::string(path);
  }
}

} // namespace detail

/// Converts a JSON value to T; throws decode_failure naming the field.
template <class T>
T convert(const boost::json::value& v) {
  try {
    return boost::json::value_to<T>(v);
  } catch (const std::exception& e) {
    std::string why;
    auto field = detail::find_bad_field<T>(v, "", why);
    throw decode_failure(std::move(field), why.empty() ? detail::describe_exception(e) : why);
  }
}

/// T from JSON text; throws decode_failure naming the field. Flat structs
/// are filled straight from the text (serde_flat.hpp), the same result.
template <class T>
T decode(std::string_view text) {
  if (auto fast = detail::try_decode_flat<T>(text))
    return std::move(*fast);
  return convert<T>(parse(text));
}

} // namespace sourcery::serde
