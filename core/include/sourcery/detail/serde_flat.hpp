// The fast paths of serde::decode and serde::encode (R-E1): a flat described
// struct — members that are strings, bools, integers, doubles or
// std::optional of these — is filled straight from the JSON text, and written
// straight to it, without a boost::json::value in between. Reading events
// back is mostly decoding (a subscription decodes every record it delivers),
// appending mostly encoding, and building the value cost more than half of
// each.
//
// Decoding accepts exactly what boost::json::value_to would accept, with the
// same result; wherever value_to might decide otherwise (a duplicated or
// unknown key, an integer given as 3.0, a nested value, malformed text …) it
// declines, and serde::decode takes the general path, which also words the
// errors. Encoding writes text that reads back as the general path's text
// does (doubles always with a fraction or exponent, so they stay doubles);
// where that path refuses a value (a number that is not finite, a string that
// is not UTF-8) it declines, and the general path throws.
#pragma once

#include <boost/describe/members.hpp>
#include <boost/json/conversion.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace sourcery::serde::detail {

/// One JSON scalar as the parser met it (`s` views the parser's buffer).
struct flat_scalar {
  enum class kind { null, boolean, int64, uint64, floating, string };
  kind k = kind::null;
  bool b = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
  std::string_view s;
};

/// A member of a flat struct: its JSON key (a C++ identifier, so it needs
/// no escaping), how to store a scalar in it — `set` returns false where
/// value_to would refuse the scalar (or might) — and how to write its value
/// as JSON — `put` returns false where serde::encode refuses it.
struct flat_member {
  std::string_view name;
  bool (*set)(void* object, const flat_scalar& v);
  bool (*put)(const void* object, std::string& out);
};

/// Parses `text` (nested at most serde::max_depth, as serde::parse) into
/// `object`. True when the text is one JSON object whose keys are exactly
/// `members`' names, each once, with values the members take; otherwise
/// false, and `object` may be partly written.
bool decode_flat(std::string_view text, std::span<const flat_member> members, void* object);

/// Append one value's JSON text to `out`. A string is escaped as Boost.JSON
/// escapes it, and refused unless it is UTF-8; a double is written in its
/// shortest form that reads back exactly, with ".0" where that has neither a
/// fraction nor an exponent, and refused unless finite.
bool put_flat_string(std::string& out, std::string_view s);
bool put_flat_double(std::string& out, double d);
void put_flat_integer(std::string& out, std::int64_t i);
void put_flat_integer(std::string& out, std::uint64_t u);

/// Integers up to 64 bits (what JSON numbers carry here), not characters.
template <class M>
inline constexpr bool is_flat_scalar =
  std::is_same_v<M, std::string> || std::is_same_v<M, bool> || std::is_same_v<M, double>
  || (std::is_integral_v<M> && sizeof(M) <= 8 && !std::is_same_v<M, char>
      && !std::is_same_v<M, signed char>
      && !std::is_same_v<M, unsigned char> && !std::is_same_v<M, wchar_t>
      && !std::is_same_v<M, char8_t> && !std::is_same_v<M, char16_t>
      && !std::is_same_v<M, char32_t>);

template <class M>
struct flat_member_type : std::bool_constant<is_flat_scalar<M>> {};
template <class M>
struct flat_member_type<std::optional<M>> : std::bool_constant<is_flat_scalar<M>> {};

/// A const member is not flat: it cannot be decoded into, and encoding
/// alone must not ask for that.
template <class T>
struct member_is_flat {
  template <class D>
  using fn = flat_member_type<std::remove_reference_t<decltype(std::declval<T&>().*D::pointer)>>;
};

/// A user-provided conversion (tag_invoke) takes precedence over the
/// described-class conversion in value_to and value_from, so such types take
/// the general path.
template <class T>
concept has_user_conversion =
  requires(const boost::json::value& v) { tag_invoke(boost::json::value_to_tag<T>{}, v); }
  || requires(const boost::json::value& v) {
       tag_invoke(boost::json::try_value_to_tag<T>{}, v);
     }
  || requires(boost::json::value& v, const T& t) {
       tag_invoke(boost::json::value_from_tag{}, v, t);
     };

template <class T>
using flat_members =
  boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;

/// True for the structs value_to and value_from convert as described
/// classes (their order of precedence, boost/json/impl/conversion.hpp) whose
/// members are all flat, at most 64 of them.
template <class T>
constexpr bool is_flat() {
  namespace json = boost::json;
  if constexpr (!std::is_class_v<T> || !json::is_described_class<T>::value
                || has_user_conversion<T> || json::is_null_like<T>::value
                || json::is_string_like<T>::value || json::is_map_like<T>::value
                || json::is_sequence_like<T>::value || json::is_tuple_like<T>::value
                || !std::is_default_constructible_v<T>) {
    return false;
  } else {
    using Ds = flat_members<T>;
    return boost::mp11::mp_all_of_q<Ds, member_is_flat<T>>::value
           && boost::mp11::mp_size<Ds>::value <= 64;
  }
}

/// Stores `v` in `m` as value_to<M> would convert it; false where it would
/// fail, or where it takes a conversion this path leaves to it (an integer
/// member given a number with a fraction part, such as 3.0).
template <class M>
bool assign_flat(M& m, const flat_scalar& v) {
  using kind = flat_scalar::kind;
  if constexpr (std::is_same_v<M, std::string>) {
    if (v.k != kind::string)
      return false;
    m.assign(v.s);
  } else if constexpr (std::is_same_v<M, bool>) {
    if (v.k != kind::boolean)
      return false;
    m = v.b;
  } else if constexpr (std::is_same_v<M, double>) {
    if (v.k == kind::floating)
      m = v.d;
    else if (v.k == kind::int64)
      m = static_cast<double>(v.i);
    else if (v.k == kind::uint64)
      m = static_cast<double>(v.u);
    else
      return false;
  } else if constexpr (std::is_integral_v<M>) {
    if (v.k == kind::int64 && std::in_range<M>(v.i))
      m = static_cast<M>(v.i);
    else if (v.k == kind::uint64 && std::in_range<M>(v.u))
      m = static_cast<M>(v.u);
    else
      return false;
  } else { // std::optional of one of the above
    if (v.k == kind::null) {
      m.reset();
      return true;
    }
    typename M::value_type inner{};
    if (!assign_flat(inner, v))
      return false;
    m = std::move(inner);
  }
  return true;
}

/// Appends `m`'s JSON text to `out`; false where serde::encode refuses it.
template <class M>
bool put_member(std::string& out, const M& m) {
  if constexpr (std::is_same_v<M, std::string>) {
    return put_flat_string(out, m);
  } else if constexpr (std::is_same_v<M, bool>) {
    out += m ? "true" : "false";
    return true;
  } else if constexpr (std::is_same_v<M, double>) {
    return put_flat_double(out, m);
  } else if constexpr (std::is_integral_v<M>) {
    if constexpr (std::is_signed_v<M>)
      put_flat_integer(out, static_cast<std::int64_t>(m));
    else
      put_flat_integer(out, static_cast<std::uint64_t>(m));
    return true;
  } else { // std::optional of one of the above
    if (!m) {
      out += "null";
      return true;
    }
    return put_member(out, *m);
  }
}

/// The members of T as decode_flat and try_encode_flat take them, made once.
template <class T>
std::span<const flat_member> flat_layout() {
  using Ds = flat_members<T>;
  static const auto members = [] {
    std::array<flat_member, boost::mp11::mp_size<Ds>::value> out{};
    std::size_t i = 0;
    boost::mp11::mp_for_each<Ds>([&](auto d) {
      using D = decltype(d);
      out[i++] = flat_member{D::name,
                             [](void* object, const flat_scalar& v) {
                               return assign_flat(static_cast<T*>(object)->*D::pointer, v);
                             },
                             [](const void* object, std::string& text) {
                               return put_member(text, static_cast<const T*>(object)->*D::pointer);
                             }};
    });
    return out;
  }();
  return members;
}

/// T decoded by the fast path, or nothing where it declines (see above).
template <class T>
std::optional<T> try_decode_flat(std::string_view text) {
  if constexpr (is_flat<T>()) {
    T out{};
    if (decode_flat(text, flat_layout<T>(), &out))
      return out;
  }
  return std::nullopt;
}

/// The JSON text of `value` by the fast path, or nothing where it declines.
template <class T>
std::optional<std::string> try_encode_flat(const T& value) {
  if constexpr (is_flat<T>()) {
    std::string out;
    out.reserve(128);
    out += '{';
    for (const auto& m : flat_layout<T>()) {
      if (out.size() > 1)
        out += ',';
      out += '"';
      out += m.name;
      out += "\":";
      if (!m.put(&value, out))
        return std::nullopt;
    }
    out += '}';
    return out;
  }
  return std::nullopt;
}

} // namespace sourcery::serde::detail
