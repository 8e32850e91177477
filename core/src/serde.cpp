#include <sourcery/registry.hpp>

#include "json_sax.hpp"
#include "utf8.hpp"

#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/system/system_error.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace sourcery::serde {

namespace {

// Builds a value like boost::json::parse, except that numbers with a fraction
// or exponent are converted exactly (exact_double).
struct exact_number_handler : detail::sax_handler_base {
  boost::json::value_stack stack;
  std::string number; // the parts of a number split across buffers

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
  bool on_double(double d, string_view s, error_code& error) {
    if (!detail::exact_double(number, s, d)) {
      error = boost::json::error::exponent_overflow;
      return false;
    }
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
};

} // namespace

boost::json::value parse(std::string_view text) {
  boost::json::basic_parser<exact_number_handler> parser{detail::sax_options()};
  parser.handler().stack.reset();
  if (auto ec = detail::parse_all(parser, text))
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

/// One array or object on the walk's path, and the child being visited.
struct level {
  const boost::json::object* object = nullptr; // exactly one of the two is set
  const boost::json::array* array = nullptr;
  std::size_t next = 0; // index of the next child; the current one is next - 1

  std::size_t size() const { return object ? object->size() : array->size(); }
};

/// The walk's path; on the stack for ordinary depths.
using level_stack = boost::container::small_vector<level, 16>;

/// The dotted path of the child being visited at each level (as in
/// "who.others[0].city"), through `path.size() - drop_last` levels.
std::string path_of(const level_stack& path, std::size_t drop_last = 0) {
  std::string out;
  for (std::size_t i = 0; i + drop_last < path.size(); ++i) {
    const auto& l = path[i];
    if (l.array) {
      out += '[' + std::to_string(l.next - 1) + ']';
    } else {
      if (!out.empty())
        out += '.';
      out += std::string_view(l.object->begin()[l.next - 1].key());
    }
  }
  return out;
}

void check_scalar(const boost::json::value& v, const level_stack& path) {
  switch (v.kind()) {
  case boost::json::kind::double_:
    if (!std::isfinite(v.get_double()))
      throw encode_failure(path_of(path), std::isnan(v.get_double())
                                            ? "NaN has no JSON form"
                                            : "an infinite number has no JSON form");
    return;
  case boost::json::kind::string:
    if (!is_utf8(v.get_string()))
      throw encode_failure(path_of(path), "the string is not valid UTF-8");
    return;
  default:
    return;
  }
}

/// Walks the document under `root` depth-first with an explicit stack (no
/// recursion, so no depth of input can overflow the call stack). Paths are
/// built only on failure: encoding stays allocation-free for flat values.
void check_document(level root) {
  level_stack path;
  path.push_back(root);
  while (!path.empty()) {
    auto& top = path.back();
    if (top.next == top.size()) {
      path.pop_back();
      continue;
    }
    const boost::json::value* child;
    if (top.object) {
      const auto& member = top.object->begin()[top.next++];
      if (!is_utf8(member.key()))
        throw encode_failure(path_of(path, 1), "a map key is not valid UTF-8");
      child = &member.value();
    } else {
      child = &(*top.array)[top.next++];
    }
    if (!child->is_object() && !child->is_array()) {
      check_scalar(*child, path);
      continue;
    }
    if (path.size() == max_depth)
      throw encode_failure(path_of(path), "nested deeper than " + std::to_string(max_depth)
                                            + " levels of arrays and objects, the most "
                                              "Sourcery stores (serde::max_depth)");
    path.push_back(child->is_object() ? level{&child->get_object(), nullptr}
                                      : level{nullptr, &child->get_array()});
  }
}

} // namespace

void check_encodable(const boost::json::value& v) {
  if (const auto* o = v.if_object())
    check_document(level{o, nullptr});
  else if (const auto* a = v.if_array())
    check_document(level{nullptr, a});
  else
    check_scalar(v, {});
}

void check_encodable(const boost::json::object& root) {
  check_document(level{&root, nullptr});
}

std::string describe_exception(const std::exception& e) {
  if (auto* se = dynamic_cast<const boost::system::system_error*>(&e))
    return se->code().message();
  return e.what();
}

} // namespace detail

} // namespace sourcery::serde
