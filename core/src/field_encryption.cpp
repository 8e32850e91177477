#include <sourcery/detail/field_encryption.hpp>
#include <sourcery/registry.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include <sodium.h>

#include <utility>
#include <vector>

namespace sourcery {

namespace {

/// The value at dotted `path` inside `root`, or nullptr.
template <class Object>
auto find_path(Object& root, std::string_view path) -> decltype(root.if_contains(path)) {
  auto* obj = &root;
  for (;;) {
    auto dot = path.find('.');
    auto* v = obj->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos)
      return v;
    obj = v->if_object();
    if (!obj)
      return nullptr;
    path.remove_prefix(dot + 1);
  }
}

/// The subject id held by the field at `path`; none when the path is empty
/// or the field holds null or an empty string.
std::optional<std::string> subject_at(const boost::json::object& data, std::string_view path) {
  if (path.empty())
    return std::nullopt;
  const auto* v = find_path(data, path);
  if (!v)
    return std::nullopt;
  if (const auto* s = v->if_string(); s && !s->empty())
    return std::string(*s);
  if (const auto* i = v->if_int64())
    return std::to_string(*i);
  if (const auto* u = v->if_uint64())
    return std::to_string(*u);
  return std::nullopt;
}

/// Encrypts the JSON text of `v`, serialised on the stack when it is short.
std::string encrypt_json(const encryption_strategy& strategy, const boost::json::value& v,
                         const encryption_key& key) {
  char buffer[256];
  boost::json::serializer sr;
  sr.reset(&v);
  auto text = sr.read(buffer, sizeof buffer);
  if (sr.done())
    return strategy.encrypt(std::string_view(text.data(), text.size()), key);
  return strategy.encrypt(boost::json::serialize(v), key);
}

/// The subjects of one event's fields and their keys, each looked up once.
class event_keys {
public:
  event_keys(const boost::json::object& data, const encryption_spec& spec, const stream_id& stream,
             const key_storage& keys, std::string_view tenant)
    : data_(data), spec_(spec), stream_(stream), keys_(keys), tenant_(tenant) {}

  /// The field's subject: its own subject field, else the event's data
  /// subject, else the stream's name; nullptr when there is none.
  const std::string* subject(const encrypted_field& field) {
    if (auto own = subject_at(data_, field.subject)) {
      field_subject_ = std::move(*own);
      return &field_subject_;
    }
    if (!event_subject_resolved_) {
      event_subject_ = subject_at(data_, spec_.subject);
      if (!event_subject_ && stream_.name() && !stream_.name()->empty())
        event_subject_ = stream_.name();
      event_subject_resolved_ = true;
    }
    return event_subject_ ? &*event_subject_ : nullptr;
  }

  /// The subject's key; nullptr when it has none.
  const encryption_key* key(const std::string& subject) {
    for (const auto& [s, k] : keys_seen_)
      if (s == subject)
        return k ? &*k : nullptr;
    const auto& [s, k] = keys_seen_.emplace_back(subject, keys_.get(tenant_, subject));
    return k ? &*k : nullptr;
  }

  /// Each subject looked up so far, with its key's id.
  void report(const encryption_strategy& strategy, std::vector<key_use>& out) const {
    for (const auto& [s, k] : keys_seen_)
      out.push_back(key_use{s, k ? std::optional<std::string>(strategy.key_id(*k)) : std::nullopt});
  }

private:
  const boost::json::object& data_;
  const encryption_spec& spec_;
  const stream_id& stream_;
  const key_storage& keys_;
  std::string_view tenant_;
  bool event_subject_resolved_ = false;
  std::optional<std::string> event_subject_;
  std::string field_subject_;
  std::vector<std::pair<std::string, std::optional<encryption_key>>> keys_seen_;
};

} // namespace

field_encryption::field_encryption(std::shared_ptr<const encryption_strategy> strategy,
                                   std::shared_ptr<key_storage> keys)
  : strategy_(std::move(strategy)), keys_(std::move(keys)) {
  if (!strategy_ || !keys_)
    throw invalid_argument("encryption needs both a strategy and a key storage");
}

void field_encryption::encrypt(boost::json::object& data, const encryption_spec& spec,
                               const stream_id& stream, std::string_view tenant) const {
  event_keys keys(data, spec, stream, *keys_, tenant);
  for (const auto& field : spec.fields) {
    auto* slot = find_path(data, field.path);
    if (!slot)
      throw invalid_argument("encrypted field '" + field.path
                             + "' is missing from the event's data in stream "
                             + stream.to_string());
    const auto* subject = keys.subject(field);
    if (!subject)
      throw no_subject_id_found(stream.to_string());
    const auto* key = keys.key(*subject);
    if (!key)
      throw key_not_found(*subject);
    *slot = encrypt_json(*strategy_, *slot, *key);
  }
}

void field_encryption::decrypt(boost::json::object& data, const encryption_spec& spec,
                               std::string_view event_name, const stream_id& stream,
                               std::string_view tenant, std::vector<key_use>* used) const {
  event_keys keys(data, spec, stream, *keys_, tenant);
  auto failed = [&](const encrypted_field& field) {
    return decryption_failed(stream.to_string(), std::string(event_name), field.path);
  };
  for (const auto& field : spec.fields) {
    auto* slot = find_path(data, field.path);
    if (!slot)
      continue; // decoding the event names the missing field
    const auto* subject = keys.subject(field);
    if (!subject)
      throw no_subject_id_found(stream.to_string());
    const auto* key = keys.key(*subject);
    if (!key) { // shredded: every value of the subject is masked, whatever it holds
      *slot = field.mask;
      continue;
    }
    const auto* ciphertext = slot->if_string();
    if (!ciphertext)
      throw failed(field);
    auto plain = strategy_->decrypt(*ciphertext, *key);
    switch (plain.outcome) {
      case decryption::ok:
        try {
          *slot = serde::parse(plain.plaintext);
        } catch (const serde::decode_failure&) {
          throw failed(field);
        }
        break;
      case decryption::other_key:
        // The id is the value's claim: masked only when the key storage
        // confirms it named a shredded key of this subject (issue 14).
        if (plain.key_id.empty() || !keys_->retired(tenant, *subject, plain.key_id))
          throw failed(field);
        *slot = field.mask;
        break;
      case decryption::failed:
        throw failed(field);
    }
  }
  if (used)
    keys.report(*strategy_, *used);
}

bool field_encryption::same_keys(std::span<const key_use> used, std::string_view tenant) const {
  for (const auto& use : used) {
    if (use.key_id && use.key_id->empty())
      return false;
    auto key = keys_->get(tenant, use.subject);
    if (key.has_value() != use.key_id.has_value())
      return false;
    if (key) {
      bool same = strategy_->key_id(*key) == *use.key_id;
      sodium_memzero(key->data(), key->size());
      if (!same)
        return false;
    }
  }
  return true;
}

} // namespace sourcery
