// The in-memory key storage and the tenant's key handle.
#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>

#include <sodium.h>

#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

namespace sourcery {

// -- defaults of the interfaces ---------------------------------------------------

std::string encryption_strategy::key_id(const encryption_key&) const {
  return {};
}

void key_storage::retire(std::string_view, std::string_view, std::string_view) {}

bool key_storage::retired(std::string_view, std::string_view, std::string_view) const {
  return false;
}

// -- in_memory_key_storage ------------------------------------------------------

namespace {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

/// One string naming (tenant, subject, key id) unambiguously: each part but
/// the last is prefixed by its length.
std::string retired_key(std::string_view tenant, std::string_view subject,
                        std::string_view key_id) {
  std::string out;
  out.reserve(tenant.size() + subject.size() + key_id.size() + 16);
  out.append(std::to_string(tenant.size())).append(1, ':').append(tenant);
  out.append(std::to_string(subject.size())).append(1, ':').append(subject);
  out.append(key_id);
  return out;
}

} // namespace

struct in_memory_key_storage::impl {
  mutable std::shared_mutex mutex;
  string_map<string_map<encryption_key>> tenants; // tenant → subject → key; guarded by mutex
  std::unordered_set<std::string, string_hash, std::equal_to<>> retired; // guarded by mutex
};

in_memory_key_storage::in_memory_key_storage() : impl_(std::make_unique<impl>()) {}
in_memory_key_storage::~in_memory_key_storage() = default;

std::optional<encryption_key> in_memory_key_storage::get(std::string_view tenant,
                                                         std::string_view subject) const {
  std::shared_lock lock(impl_->mutex);
  auto t = impl_->tenants.find(tenant);
  if (t == impl_->tenants.end())
    return std::nullopt;
  auto k = t->second.find(subject);
  if (k == t->second.end())
    return std::nullopt;
  return k->second;
}

bool in_memory_key_storage::store(std::string_view tenant, std::string_view subject,
                                  const encryption_key& key) {
  std::unique_lock lock(impl_->mutex);
  auto t = impl_->tenants.find(tenant);
  if (t == impl_->tenants.end())
    t = impl_->tenants.emplace(std::string(tenant), string_map<encryption_key>{}).first;
  return t->second.try_emplace(std::string(subject), key).second;
}

void in_memory_key_storage::remove(std::string_view tenant, std::string_view subject) {
  std::unique_lock lock(impl_->mutex);
  auto t = impl_->tenants.find(tenant);
  if (t == impl_->tenants.end())
    return;
  if (auto k = t->second.find(subject); k != t->second.end()) {
    sodium_memzero(k->second.data(), k->second.size());
    t->second.erase(k);
  }
}

void in_memory_key_storage::retire(std::string_view tenant, std::string_view subject,
                                   std::string_view key_id) {
  auto entry = retired_key(tenant, subject, key_id);
  std::unique_lock lock(impl_->mutex);
  impl_->retired.insert(std::move(entry));
}

bool in_memory_key_storage::retired(std::string_view tenant, std::string_view subject,
                                    std::string_view key_id) const {
  auto entry = retired_key(tenant, subject, key_id);
  std::shared_lock lock(impl_->mutex);
  return impl_->retired.contains(entry);
}

// -- encryption_keys --------------------------------------------------------------

encryption_keys::encryption_keys(std::shared_ptr<const encryption_strategy> strategy,
                                 std::shared_ptr<key_storage> keys, std::string tenant)
  : strategy_(std::move(strategy)), keys_(std::move(keys)), tenant_(std::move(tenant)) {}

namespace {

void check_subject(std::string_view subject) {
  if (subject.empty())
    throw invalid_argument("a data subject id cannot be empty");
}

} // namespace

bool encryption_keys::create_key(std::string_view subject) {
  check_subject(subject);
  if (keys_->get(tenant_, subject))
    return false;
  return keys_->store(tenant_, subject, strategy_->generate_key());
}

bool encryption_keys::store_key(std::string_view subject, const encryption_key& key) {
  check_subject(subject);
  return keys_->store(tenant_, subject, key);
}

bool encryption_keys::has_key(std::string_view subject) const {
  return keys_->get(tenant_, subject).has_value();
}

std::optional<encryption_key> encryption_keys::key(std::string_view subject) const {
  return keys_->get(tenant_, subject);
}

void encryption_keys::shred(std::string_view subject) {
  // Retired first: a failure in between leaves the key, never an unknown id.
  if (auto key = keys_->get(tenant_, subject)) {
    auto id = strategy_->key_id(*key);
    sodium_memzero(key->data(), key->size());
    if (!id.empty())
      keys_->retire(tenant_, subject, id);
  }
  keys_->remove(tenant_, subject);
}

} // namespace sourcery
