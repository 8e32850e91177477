// Declaring which fields of an event type are encrypted, and whose key
// encrypts them (SPEC §5, R-EN).
//
//   registry.add<user_registered>("user_registered",
//     encryption_spec_for<user_registered>()
//       .subject("user_id")
//       .encrypt("email", std::string("<erased>"))
//       .encrypt("address.street", std::string(), /*subject=*/"owner_id"));
//
// A field's subject is the value of its own subject field if it declares one,
// else of the event's data-subject field, else the stream's name; an empty
// string or null counts as absent and falls through to the next. Subject
// fields hold strings, integers or UUIDs and are never encrypted themselves.
// Reads resolve the subject the same way, from the stream id the stream was
// created with: to rely on the stream's name, give it from the first append.
// Paths are dotted member names through described structs (not through
// optionals, vectors or maps).
#pragma once

#include <sourcery/errors.hpp>

#include <boost/describe.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/uuid/uuid.hpp>

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <vector>

namespace sourcery {

/// One encrypted field.
struct encrypted_field {
  /// Dotted path: "email", "address.street".
  std::string path;
  /// What the field reads as once its key is gone: the JSON of a value of the
  /// field's own type.
  boost::json::value mask;
  /// The field's own subject field (a dotted path); empty = none.
  std::string subject;
};

/// The checked encryption declaration of one event type; immutable.
struct encryption_spec {
  /// The event's data-subject field (a dotted path); empty = none.
  std::string subject;
  std::vector<encrypted_field> fields;
};

namespace detail {

/// A member found by path: its type, and whether it can name a subject.
struct member_info {
  std::type_index type;
  bool can_be_subject;
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
constexpr bool subject_type() {
  if constexpr (is_optional<T>::value)
    return subject_type<typename T::value_type>();
  else
    return std::is_same_v<T, std::string> || std::is_same_v<T, boost::uuids::uuid>
           || (std::integral<T> && !std::is_same_v<T, bool>);
}

/// The member of described struct `T` at dotted `path`, or none.
template <class T>
std::optional<member_info> find_member(std::string_view path) {
  if constexpr (!boost::describe::has_describe_members<T>::value) {
    return std::nullopt;
  } else {
    auto dot = path.find('.');
    auto head = path.substr(0, dot);
    std::optional<member_info> found;
    using namespace boost::describe;
    boost::mp11::mp_for_each<describe_members<T, mod_public | mod_inherited>>([&](auto d) {
      if (found || head != d.name)
        return;
      using member_t = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      if (dot == std::string_view::npos)
        found = member_info{typeid(member_t), subject_type<member_t>()};
      else
        found = find_member<member_t>(path.substr(dot + 1));
    });
    return found;
  }
}

/// An encrypted field as declared, before it is checked.
struct declared_field {
  std::string path;
  std::type_index mask_type;
  boost::json::value mask;
  std::string subject;
};

using member_lookup = std::optional<member_info> (*)(std::string_view path);

/// Checks a declaration against the event's members; throws
/// `invalid_argument` naming the event and the offending path.
std::shared_ptr<const encryption_spec> check_encryption_spec(
  std::string_view event_name, member_lookup find, const std::vector<std::string>& subjects,
  std::vector<declared_field> fields);

} // namespace detail

/// The encryption declaration of event type `E`, checked against E's
/// described members when E is registered (`event_registry::add`).
template <class E>
class encryption_spec_for {
public:
  /// Names the event's data-subject field (at most one per event type).
  encryption_spec_for& subject(std::string path) {
    subjects_.push_back(std::move(path));
    return *this;
  }

  /// Encrypts the field at `path`. Once its subject's key is gone it reads as
  /// `mask`, which must be a value of the field's own type (for a
  /// std::optional<int> field: std::optional<int>(), not std::nullopt).
  /// `subject` names the field's own subject field, overriding the event's.
  template <class M>
  encryption_spec_for& encrypt(std::string path, const M& mask, std::string subject = {}) {
    fields_.push_back(detail::declared_field{std::move(path), typeid(M),
                                             boost::json::value_from(mask), std::move(subject)});
    return *this;
  }

  /// The checked declaration; throws `invalid_argument` naming the path of a
  /// field that does not exist, a mask of another type than its field, a
  /// second data-subject field, a subject field that is encrypted or holds
  /// neither a string, an integer nor a UUID, or overlapping paths.
  std::shared_ptr<const encryption_spec> check(std::string_view event_name) const {
    return detail::check_encryption_spec(event_name, &detail::find_member<E>, subjects_, fields_);
  }

private:
  std::vector<std::string> subjects_;
  std::vector<detail::declared_field> fields_;
};

} // namespace sourcery
