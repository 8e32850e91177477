// JSON serialisation of events through Boost.Describe + Boost.JSON (R-E1).
//
// Any struct described with BOOST_DESCRIBE_STRUCT (members of described
// structs, strings, arithmetic types, bool, std::optional, std::vector,
// std::map<std::string, …>, sourcery::timestamp, sourcery::uuid) converts
// without hand-written JSON code.
#pragma once

#include <boost/describe.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>

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

/// Parses JSON text; throws decode_failure with an empty path when malformed.
boost::json::value parse(std::string_view text);

template <class T>
std::string encode(const T& value) {
  return boost::json::serialize(boost::json::value_from(value));
}

namespace detail {

std::string join_path(std::string_view parent, std::string_view child);
std::string describe_exception(const std::exception& e);

/// Finds the first member of a described struct that does not convert;
/// returns its dotted path, or "" when the fault is not in a member.
template <class T>
std::string find_bad_field(const boost::json::value& v, std::string_view path) {
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
      } catch (const std::exception&) {
        auto deeper = it ? find_bad_field<member_t>(*it, child) : child;
        found = deeper.empty() ? child : deeper;
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
    throw decode_failure(detail::find_bad_field<T>(v, ""),
                         detail::describe_exception(e));
  }
}

template <class T>
T decode(std::string_view text) {
  return convert<T>(parse(text));
}

} // namespace sourcery::serde
