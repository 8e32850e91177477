#include <sourcery/serde.hpp>

#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

namespace sourcery::serde {

boost::json::value parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec)
    throw decode_failure("", "malformed JSON: " + ec.message());
  return v;
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

std::string describe_exception(const std::exception& e) {
  if (auto* se = dynamic_cast<const boost::system::system_error*>(&e))
    return se->code().message();
  return e.what();
}

} // namespace detail

} // namespace sourcery::serde
