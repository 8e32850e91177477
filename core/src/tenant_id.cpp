#include <sourcery/errors.hpp>
#include <sourcery/tenant_id.hpp>

namespace sourcery {

namespace {

std::string printable(std::string_view id) {
  std::string out;
  for (unsigned char c : id.substr(0, 64)) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return id.size() > 64 ? out + "…" : out;
}

[[noreturn]] void reject(std::string_view id, const char* why) {
  throw illegal_tenant_id("illegal tenant id '" + printable(id) + "': " + why);
}

// Length of the UTF-8 sequence starting at `s[i]`, or 0 if it is invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(k) & 0xc0) != 0x80)
      return 0;
  std::uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
  for (std::size_t k = 1; k < n; ++k)
    cp = (cp << 6) | (b(k) & 0x3f);
  static constexpr std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0; // overlong, out of range or a surrogate
  if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
    return 0; // C0 and C1 control characters
  return n;
}

} // namespace

void validate_tenant_id(std::string_view id) {
  if (id.size() > max_tenant_id_bytes)
    reject(id, "longer than 256 bytes");
  for (std::size_t i = 0; i < id.size();) {
    auto n = utf8_sequence(id, i);
    if (n == 0)
      reject(id, "not UTF-8 text without control characters");
    i += n;
  }
}

} // namespace sourcery
