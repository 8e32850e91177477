#include <sourcery/registry.hpp>
#include <sourcery/detail/serde_flat.hpp>

#include "json_sax.hpp"
#include "utf8.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <charconv>
#include <cmath>

namespace sourcery::serde::detail {

namespace {

/// Stores each member's value as the parser meets it. Any callback that
/// returns false stops the parse; decode_flat then declines.
class flat_handler : public sax_handler_base {
public:
  flat_handler(std::span<const flat_member> members, void* object)
    : members_(members), object_(object) {}

  bool on_object_begin(error_code& ec) { return ++depth_ == 1 || decline(ec); }
  bool on_object_end(std::size_t, error_code& ec) {
    --depth_;
    return seen_ == all_seen() || decline(ec); // every member, each once
  }
  bool on_array_begin(error_code& ec) { return decline(ec); }
  bool on_array_end(std::size_t, error_code& ec) { return decline(ec); }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code& ec) {
    if (key_.empty())
      return select(std::string_view(s.data(), s.size()), ec);
    key_.append(s.data(), s.size());
    bool ok = select(key_, ec);
    key_.clear();
    return ok;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code& ec) {
    if (text_.empty())
      return store(scalar(kind::string, &flat_scalar::s, std::string_view(s.data(), s.size())), ec);
    text_.append(s.data(), s.size());
    bool ok = store(scalar(kind::string, &flat_scalar::s, std::string_view(text_)), ec);
    text_.clear();
    return ok;
  }
  bool on_number_part(string_view s, error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, string_view, error_code& ec) {
    number_.clear();
    return store(scalar(kind::int64, &flat_scalar::i, i), ec);
  }
  bool on_uint64(std::uint64_t u, string_view, error_code& ec) {
    number_.clear();
    return store(scalar(kind::uint64, &flat_scalar::u, u), ec);
  }
  bool on_double(double d, string_view s, error_code& ec) {
    if (!exact_double(number_, std::string_view(s.data(), s.size()), d))
      return decline(ec); // serde::parse refuses it (exponent_overflow)
    return store(scalar(kind::floating, &flat_scalar::d, d), ec);
  }
  bool on_bool(bool b, error_code& ec) { return store(scalar(kind::boolean, &flat_scalar::b, b), ec); }
  bool on_null(error_code& ec) { return store(flat_scalar{}, ec); }

private:
  using kind = flat_scalar::kind;

  template <class V>
  static flat_scalar scalar(kind k, V flat_scalar::*field, V value) {
    flat_scalar v;
    v.k = k;
    v.*field = value;
    return v;
  }
  static bool decline(error_code& ec) {
    ec = boost::json::error::not_object; // any error: decode_flat only asks whether one occurred
    return false;
  }
  std::uint64_t all_seen() const {
    return members_.size() == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << members_.size()) - 1;
  }
  /// Makes the member named `key` the one the next value goes to.
  bool select(std::string_view key, error_code& ec) {
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].name != key)
        continue;
      auto bit = std::uint64_t(1) << i;
      if (seen_ & bit)
        return decline(ec); // a duplicated key: value_to's object keeps one of them
      seen_ |= bit;
      current_ = &members_[i];
      return true;
    }
    return decline(ec);
  }
  /// A member's value, directly inside the one object.
  bool store(const flat_scalar& v, error_code& ec) {
    if (depth_ != 1 || !current_ || !current_->set(object_, v))
      return decline(ec);
    current_ = nullptr;
    return true;
  }

  std::span<const flat_member> members_;
  void* object_;
  std::uint64_t seen_ = 0;
  std::size_t depth_ = 0;
  const flat_member* current_ = nullptr;
  std::string key_;    // a key's parts (split where it has escapes)
  std::string text_;   // a string's parts
  std::string number_; // a number's parts
};

} // namespace

bool decode_flat(std::string_view text, std::span<const flat_member> members, void* object) {
  boost::json::basic_parser<flat_handler> parser{sax_options(), members, object};
  return !parse_all(parser, text);
}

bool put_flat_string(std::string& out, std::string_view s) {
  if (!is_utf8(s))
    return false;
  out += '"';
  std::size_t plain = 0; // start of the run not yet appended
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\t': out += "\\t"; break;
    case '\n': out += "\\n"; break;
    case '\f': out += "\\f"; break;
    case '\r': out += "\\r"; break;
    default: {
      static constexpr char hex[] = "0123456789abcdef";
      char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
      out.append(u, sizeof u);
    }
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
  return true;
}

bool put_flat_double(std::string& out, double d) {
  if (!std::isfinite(d))
    return false;
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, d).ptr; // shortest, exact
  std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos)
    out += ".0"; // "20" or "-0" would read back as an integer
  return true;
}

void put_flat_integer(std::string& out, std::int64_t i) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, i).ptr);
}

void put_flat_integer(std::string& out, std::uint64_t u) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, u).ptr);
}

} // namespace sourcery::serde::detail
