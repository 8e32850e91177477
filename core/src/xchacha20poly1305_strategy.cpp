// The default encryption strategy: libsodium's XChaCha20-Poly1305-IETF.
//
// A key is 40 bytes: a random public key id (8) and the secret (32). A value
// is stored as
//
//   "xchacha1:" base64( key_id[8] ‖ nonce[24] ‖ ciphertext ‖ tag[16] )
//
// with the key id as associated data. The id tells a value made under an
// earlier key of the subject (shredded, then created anew) from a tampered
// one without any work on the secret.
#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>

#include <sodium.h>

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace sourcery {

namespace {

constexpr std::string_view format_prefix = "xchacha1:";
constexpr std::size_t key_id_bytes = 8;
constexpr std::size_t secret_bytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t key_bytes = key_id_bytes + secret_bytes;
constexpr std::size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t header_bytes = key_id_bytes + nonce_bytes;

void check_key(const encryption_key& key) {
  if (key.size() != key_bytes)
    throw invalid_argument("an xchacha20poly1305_strategy key has " + std::to_string(key_bytes)
                           + " bytes (key id and secret, as generate_key makes them), this one has "
                           + std::to_string(key.size()));
}

const unsigned char* key_id_of(const encryption_key& key) {
  return key.data();
}
const unsigned char* secret_of(const encryption_key& key) {
  return key.data() + key_id_bytes;
}

// -- nonces: operating-system randomness, fetched in bulk ----------------------------

/// Bumped in a forked child, whose inherited buffers must not be reused.
std::atomic<unsigned> fork_generation{0};

/// Random bytes from the operating system (randombytes_buf), fetched 4 KiB
/// per thread at a time: one system call per 170 nonces instead of one each.
class random_pool {
public:
  void fill(unsigned char* out, std::size_t n) {
    if (generation_ != fork_generation.load(std::memory_order_relaxed) || used_ + n > size)
      refill();
    std::memcpy(out, buffer_ + used_, n);
    used_ += n;
  }

private:
  static constexpr std::size_t size = 4096;

  void refill() {
    randombytes_buf(buffer_, size);
    used_ = 0;
    generation_ = fork_generation.load(std::memory_order_relaxed);
  }

  unsigned char buffer_[size];
  std::size_t used_ = size;
  unsigned generation_ = 0;
};

thread_local random_pool nonces;

// -- base64 (standard alphabet, padded); ciphertext is public, so the
// table-driven code need not be constant-time -----------------------------------------

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::size_t encoded_size(std::size_t n) {
  return (n + 2) / 3 * 4;
}

void base64_encode(const unsigned char* in, std::size_t n, char* out) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = alphabet[(v >> 6) & 63];
    *out++ = alphabet[v & 63];
  }
  if (auto rest = n - i) {
    std::uint32_t v = in[i] << 16 | (rest == 2 ? in[i + 1] << 8 : 0);
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    *out++ = '=';
  }
}

constexpr auto decoding_table = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}();

/// Decodes canonical base64 (padding only at the end, unused bits zero) into
/// `out`; false for anything else.
bool base64_decode(std::string_view in, std::vector<unsigned char>& out) {
  if (in.empty() || in.size() % 4 != 0)
    return false;
  auto padding = in.ends_with("==") ? 2u : in.ends_with('=') ? 1u : 0u;
  out.resize(in.size() / 4 * 3 - padding);
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      auto d = decoding_table[static_cast<unsigned char>(in[i + j])];
      if (d < 0) {
        if (!(last && j >= 4 - padding))
          return false;
        d = 0;
      }
      v = v << 6 | static_cast<std::uint32_t>(d);
    }
    if (last && (padding == 2 ? (v & 0xffff) : padding == 1 ? (v & 0xff) : 0) != 0)
      return false; // non-canonical: unused bits set
    for (std::size_t j = 0; j < 3 - (last ? padding : 0); ++j)
      out[o++] = static_cast<unsigned char>(v >> (16 - 8 * j));
  }
  return true;
}

/// A buffer on the stack for small values (the usual case), else on the heap.
class scratch {
public:
  explicit scratch(std::size_t n) : size_(n) {
    if (n > sizeof small_)
      large_.resize(n);
  }
  unsigned char* data() noexcept { return large_.empty() ? small_ : large_.data(); }
  std::size_t size() const noexcept { return size_; }

private:
  unsigned char small_[512];
  std::vector<unsigned char> large_;
  std::size_t size_;
};

} // namespace

xchacha20poly1305_strategy::xchacha20poly1305_strategy() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium could not be initialised");
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  });
}

encryption_key xchacha20poly1305_strategy::generate_key() const {
  encryption_key key(key_bytes);
  randombytes_buf(key.data(), key_id_bytes);
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data() + key_id_bytes);
  return key;
}

std::string xchacha20poly1305_strategy::encrypt(std::string_view plaintext,
                                                const encryption_key& key) const {
  check_key(key);
  scratch sealed(header_bytes + plaintext.size() + tag_bytes);
  auto* id = sealed.data();
  auto* nonce = id + key_id_bytes;
  std::memcpy(id, key_id_of(key), key_id_bytes);
  nonces.fill(nonce, nonce_bytes);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    nonce + nonce_bytes, nullptr, reinterpret_cast<const unsigned char*>(plaintext.data()),
    plaintext.size(), id, key_id_bytes, nullptr, nonce, secret_of(key));

  std::string out(format_prefix.size() + encoded_size(sealed.size()), '\0');
  std::memcpy(out.data(), format_prefix.data(), format_prefix.size());
  base64_encode(sealed.data(), sealed.size(), out.data() + format_prefix.size());
  return out;
}

decryption xchacha20poly1305_strategy::decrypt(std::string_view ciphertext,
                                               const encryption_key& key) const {
  check_key(key);
  std::vector<unsigned char> sealed;
  if (!ciphertext.starts_with(format_prefix)
      || !base64_decode(ciphertext.substr(format_prefix.size()), sealed)
      || sealed.size() < header_bytes + tag_bytes)
    return {};
  const auto* id = sealed.data();
  const auto* nonce = id + key_id_bytes;
  if (std::memcmp(id, key_id_of(key), key_id_bytes) != 0)
    return {decryption::other_key, {}};

  decryption out{decryption::ok, std::string(sealed.size() - header_bytes - tag_bytes, '\0')};
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
        reinterpret_cast<unsigned char*>(out.plaintext.data()), nullptr, nullptr,
        nonce + nonce_bytes, sealed.size() - header_bytes, id, key_id_bytes, nonce,
        secret_of(key))
      != 0)
    return {};
  return out;
}

} // namespace sourcery
