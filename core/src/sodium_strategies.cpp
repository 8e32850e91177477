// The built-in encryption strategies, on libsodium's AEAD ciphers:
// XChaCha20-Poly1305-IETF (the default) and AES-256-GCM (hardware only).
//
// A key is 40 bytes: a random public key id (8) and the secret (32). A value
// is stored as
//
//   "<format>:" base64( key_id[8] ‖ nonce ‖ ciphertext ‖ tag[16] )
//
// with format "xchacha1" (24-byte nonce) or "aes256gcm1" (12-byte nonce),
// and the key id as associated data. A value naming another id than the
// key's is `other_key` with that id, unauthenticated: whether it is a value
// of an earlier, shredded key of the subject or a forgery is decided by the
// caller against the key storage's retired ids (field_encryption::decrypt).
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

constexpr std::size_t key_id_bytes = 8;
constexpr std::size_t secret_bytes = 32;
constexpr std::size_t key_bytes = key_id_bytes + secret_bytes;
constexpr std::size_t tag_bytes = 16;

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == secret_bytes
              && crypto_aead_aes256gcm_KEYBYTES == secret_bytes
              && crypto_aead_xchacha20poly1305_ietf_ABYTES == tag_bytes
              && crypto_aead_aes256gcm_ABYTES == tag_bytes);

/// One libsodium AEAD cipher and its stored format.
struct aead {
  std::string_view prefix;
  std::size_t nonce_bytes;
  int (*seal)(unsigned char* c, unsigned long long* clen, const unsigned char* m,
              unsigned long long mlen, const unsigned char* ad, unsigned long long adlen,
              const unsigned char* nsec, const unsigned char* npub, const unsigned char* k);
  int (*open)(unsigned char* m, unsigned long long* mlen, unsigned char* nsec,
              const unsigned char* c, unsigned long long clen, const unsigned char* ad,
              unsigned long long adlen, const unsigned char* npub, const unsigned char* k);
};

const aead xchacha20poly1305{"xchacha1:", crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                             &crypto_aead_xchacha20poly1305_ietf_encrypt,
                             &crypto_aead_xchacha20poly1305_ietf_decrypt};
const aead aes256gcm{"aes256gcm1:", crypto_aead_aes256gcm_NPUBBYTES, &crypto_aead_aes256gcm_encrypt,
                     &crypto_aead_aes256gcm_decrypt};

void check_key(const encryption_key& key) {
  if (key.size() != key_bytes)
    throw invalid_argument("a key of the built-in strategies has " + std::to_string(key_bytes)
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

void initialise_sodium() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium could not be initialised");
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr,
                   [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  });
}

/// A random key id and secret.
encryption_key generate() {
  encryption_key key(key_bytes);
  randombytes_buf(key.data(), key.size());
  return key;
}

std::string seal(const aead& cipher, std::string_view plaintext, const encryption_key& key) {
  check_key(key);
  scratch sealed(key_id_bytes + cipher.nonce_bytes + plaintext.size() + tag_bytes);
  auto* id = sealed.data();
  auto* nonce = id + key_id_bytes;
  std::memcpy(id, key_id_of(key), key_id_bytes);
  nonces.fill(nonce, cipher.nonce_bytes);
  cipher.seal(nonce + cipher.nonce_bytes, nullptr,
              reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), id,
              key_id_bytes, nullptr, nonce, secret_of(key));

  std::string out(cipher.prefix.size() + encoded_size(sealed.size()), '\0');
  std::memcpy(out.data(), cipher.prefix.data(), cipher.prefix.size());
  base64_encode(sealed.data(), sealed.size(), out.data() + cipher.prefix.size());
  return out;
}

decryption open(const aead& cipher, std::string_view ciphertext, const encryption_key& key) {
  check_key(key);
  const auto header_bytes = key_id_bytes + cipher.nonce_bytes;
  std::vector<unsigned char> sealed;
  if (!ciphertext.starts_with(cipher.prefix)
      || !base64_decode(ciphertext.substr(cipher.prefix.size()), sealed)
      || sealed.size() < header_bytes + tag_bytes)
    return {};
  const auto* id = sealed.data();
  const auto* nonce = id + key_id_bytes;
  if (std::memcmp(id, key_id_of(key), key_id_bytes) != 0)
    return {decryption::other_key, {}, std::string(reinterpret_cast<const char*>(id), key_id_bytes)};

  decryption out{decryption::ok, std::string(sealed.size() - header_bytes - tag_bytes, '\0'), {}};
  if (cipher.open(reinterpret_cast<unsigned char*>(out.plaintext.data()), nullptr, nullptr,
                  nonce + cipher.nonce_bytes, sealed.size() - header_bytes, id, key_id_bytes,
                  nonce, secret_of(key))
      != 0)
    return {};
  return out;
}

std::string key_id_string(const encryption_key& key) {
  if (key.size() != key_bytes)
    return {};
  return std::string(reinterpret_cast<const char*>(key_id_of(key)), key_id_bytes);
}

} // namespace

// -- xchacha20poly1305_strategy ----------------------------------------------------------

xchacha20poly1305_strategy::xchacha20poly1305_strategy() {
  initialise_sodium();
}

encryption_key xchacha20poly1305_strategy::generate_key() const {
  return generate();
}

std::string xchacha20poly1305_strategy::encrypt(std::string_view plaintext,
                                                const encryption_key& key) const {
  return seal(xchacha20poly1305, plaintext, key);
}

decryption xchacha20poly1305_strategy::decrypt(std::string_view ciphertext,
                                               const encryption_key& key) const {
  return open(xchacha20poly1305, ciphertext, key);
}

std::string xchacha20poly1305_strategy::key_id(const encryption_key& key) const {
  return key_id_string(key);
}

// -- aes256gcm_strategy ------------------------------------------------------------------

bool aes256gcm_strategy::available() {
  initialise_sodium();
  return crypto_aead_aes256gcm_is_available() != 0;
}

aes256gcm_strategy::aes256gcm_strategy() {
  if (!available())
    throw std::runtime_error("AES-256-GCM needs a CPU with AES-NI and CLMUL; "
                             "use xchacha20poly1305_strategy on this machine");
}

encryption_key aes256gcm_strategy::generate_key() const {
  return generate();
}

std::string aes256gcm_strategy::encrypt(std::string_view plaintext,
                                        const encryption_key& key) const {
  return seal(aes256gcm, plaintext, key);
}

decryption aes256gcm_strategy::decrypt(std::string_view ciphertext,
                                       const encryption_key& key) const {
  return open(aes256gcm, ciphertext, key);
}

std::string aes256gcm_strategy::key_id(const encryption_key& key) const {
  return key_id_string(key);
}

} // namespace sourcery
