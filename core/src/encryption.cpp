// The in-memory key storage and the tenant's key handle.
#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>

#include <sodium.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>

namespace sourcery {

// -- defaults of the interfaces ---------------------------------------------------

std::string encryption_strategy::key_id(const encryption_key&) const {
  return {};
}

void key_storage::retire(std::string_view, std::string_view, std::string_view) {}

bool key_storage::retired(std::string_view, std::string_view, std::string_view) const {
  return false;
}

std::vector<subject_key> key_storage::list() const {
  throw invalid_argument("this key storage does not list its keys");
}

std::vector<retired_key_id> key_storage::list_retired() const {
  return {};
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

} // namespace

struct in_memory_key_storage::impl {
  mutable std::shared_mutex mutex;
  string_map<string_map<encryption_key>> tenants; // tenant → subject → key; guarded by mutex
  std::set<std::tuple<std::string, std::string, std::string>>
    retired; // (tenant, subject, key id); guarded by mutex
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
  std::unique_lock lock(impl_->mutex);
  impl_->retired.emplace(std::string(tenant), std::string(subject), std::string(key_id));
}

bool in_memory_key_storage::retired(std::string_view tenant, std::string_view subject,
                                    std::string_view key_id) const {
  std::shared_lock lock(impl_->mutex);
  // Looked up with strings of its own: clang 14's libstdc++ tuples do not
  // compare string_view with string through std::less<>.
  return impl_->retired.contains(
    std::tuple(std::string(tenant), std::string(subject), std::string(key_id)));
}

std::vector<subject_key> in_memory_key_storage::list() const {
  std::vector<subject_key> out;
  {
    std::shared_lock lock(impl_->mutex);
    for (const auto& [tenant, subjects] : impl_->tenants)
      for (const auto& [subject, key] : subjects)
        out.push_back({tenant, subject, key});
  }
  std::sort(out.begin(), out.end(), [](const subject_key& a, const subject_key& b) {
    return std::tie(a.tenant, a.subject) < std::tie(b.tenant, b.subject);
  });
  return out;
}

std::vector<retired_key_id> in_memory_key_storage::list_retired() const {
  std::vector<retired_key_id> out;
  std::shared_lock lock(impl_->mutex);
  for (const auto& [tenant, subject, id] : impl_->retired)
    out.push_back({tenant, subject, id});
  return out;
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
