#include <sourcery/serde.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/system/system_error.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sourcery::serde {

namespace {

// Builds a value like boost::json::parse, except that numbers with a fraction
// or exponent are converted exactly (std::from_chars). Boost.JSON 1.81's own
// conversion is off by one ulp for about a third of all doubles, so doubles
// would not round-trip (R-E1); 1.83 added parse_options::numbers for this.
struct exact_number_handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  using error_code = boost::system::error_code;
  using string_view = boost::json::string_view;

  boost::json::value_stack stack;
  std::string number; // the parts of a number split across buffers

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code&) {
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    stack.push_key(s);
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(string_view s, error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, string_view, error_code&) {
    number.clear();
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code&) {
    number.clear();
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, string_view s, error_code&) {
    number.append(s.data(), s.size());
    double exact = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), exact);
    if (ec == std::errc{} && end == number.data() + number.size())
      d = exact; // out of range: keep Boost.JSON's value
    number.clear();
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

} // namespace

boost::json::value parse(std::string_view text) {
  boost::json::basic_parser<exact_number_handler> parser{boost::json::parse_options{}};
  parser.handler().stack.reset();
  boost::system::error_code ec;
  auto consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && consumed < text.size())
    ec = boost::json::error::extra_data;
  if (ec)
    throw decode_failure("", "malformed JSON: " + ec.message());
  return parser.handler().stack.release();
}

namespace detail {

std::string join_path(std::string_view parent, std::string_view child) {
  if (parent.empty())
    return std::string(child);
  std::string out(parent);
  out += '.';
  out += child;
  return out;
}

namespace {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points beyond U+10FFFF), as Boost.JSON's parser requires.
bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    // ASCII, eight bytes at a time.
    std::uint64_t word;
    while (i + 8 <= s.size()
           && (std::memcpy(&word, s.data() + i, 8), (word & 0x8080808080808080ULL) == 0))
      i += 8;
    if (i == s.size())
      break;
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80            ? 1
                    : (c >> 5) == 0x6   ? 2
                    : (c >> 4) == 0xe   ? 3
                    : (c >> 3) == 0x1e  ? 4
                                        : 0;
    if (n == 0 || i + n > s.size())
      return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

// Prefixes a failure's field path with the member or element it is in.
[[noreturn]] void rethrow_inside(encode_failure& f, const std::string& step) {
  if (f.field.empty())
    f.field = step;
  else
    f.field = step + (f.field.front() == '[' ? "" : ".") + f.field;
  throw;
}

// Paths are built only on failure: encoding stays allocation-free here.
void check_value(const boost::json::value& v) {
  switch (v.kind()) {
  case boost::json::kind::double_:
    if (!std::isfinite(v.get_double()))
      throw encode_failure("", std::isnan(v.get_double()) ? "NaN has no JSON form"
                                                          : "an infinite number has no JSON form");
    return;
  case boost::json::kind::string:
    if (!is_utf8(v.get_string()))
      throw encode_failure("", "the string is not valid UTF-8");
    return;
  case boost::json::kind::array: {
    const auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      try {
        check_value(a[i]);
      } catch (encode_failure& f) {
        rethrow_inside(f, "[" + std::to_string(i) + "]");
      }
    }
    return;
  }
  case boost::json::kind::object:
    for (const auto& [key, value] : v.get_object()) {
      if (!is_utf8(key))
        throw encode_failure("", "a map key is not valid UTF-8");
      try {
        check_value(value);
      } catch (encode_failure& f) {
        rethrow_inside(f, std::string(key));
      }
    }
    return;
  default:
    return;
  }
}

} // namespace

void check_encodable(const boost::json::value& v) {
  check_value(v);
}

std::string describe_exception(const std::exception& e) {
  if (auto* se = dynamic_cast<const boost::system::system_error*>(&e))
    return se->code().message();
  return e.what();
}

} // namespace detail

} // namespace sourcery::serde
