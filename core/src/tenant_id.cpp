#include <sourcery/errors.hpp>
#include <sourcery/events.hpp>

namespace sourcery {

namespace {

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

/// `id`'s first 64 bytes as printable text for a message: every byte that is
/// not part of a valid, printable UTF-8 sequence (control characters, invalid
/// or truncated sequences, and the backslash itself) is written as \xNN, so a
/// message never carries raw invalid bytes (§11).
std::string printable(std::string_view id) {
  static constexpr std::size_t shown = 64;
  auto head = id.substr(0, shown);
  std::string out;
  for (std::size_t i = 0; i < head.size();) {
    auto n = utf8_sequence(head, i);
    if (n == 0 || head[i] == '\\') {
      static constexpr char hex[] = "0123456789abcdef";
      auto c = static_cast<unsigned char>(head[i]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
      ++i;
    } else {
      out.append(head.substr(i, n));
      i += n;
    }
  }
  return id.size() > shown ? out + "…" : out;
}

[[noreturn]] void reject(std::string_view id, const char* why) {
  throw illegal_tenant_id("illegal tenant id '" + printable(id) + "': " + why);
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
