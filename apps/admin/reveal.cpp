#include "reveal.hpp"

#include <boost/json/parse.hpp>

namespace admin {

using namespace sourcery;
namespace json = boost::json;

field_revealer::field_revealer(const key_storage& keys, const std::string& tenant)
  : xchacha_(std::make_unique<xchacha20poly1305_strategy>()) {
  if (aes256gcm_strategy::available())
    aes_ = std::make_unique<aes256gcm_strategy>();
  for (auto& k : keys.list())
    if (k.tenant == tenant)
      if (auto id = xchacha_->key_id(k.key); !id.empty())
        by_id_.emplace(std::move(id), std::move(k.key));
}

const encryption_strategy* field_revealer::strategy_of(std::string_view text) const {
  if (text.starts_with("xchacha1:"))
    return xchacha_.get();
  if (text.starts_with("aes256gcm1:"))
    return aes_.get();
  return nullptr;
}

json::value field_revealer::reveal(const json::value& data) const {
  json::value out = data;
  visit(out);
  return out;
}

void field_revealer::visit(json::value& v) const {
  if (auto* o = v.if_object()) {
    for (auto& field : *o)
      visit(field.value());
    return;
  }
  if (auto* a = v.if_array()) {
    for (auto& item : *a)
      visit(item);
    return;
  }
  auto* s = v.if_string();
  if (!s)
    return;
  const auto* strategy = strategy_of(*s);
  if (!strategy)
    return;
  // A key that is not the value's makes the strategy name the value's key
  // id (other_key); the tenant's key with that id decrypts it.
  static const encryption_key probe(40, 0);
  auto named = strategy->decrypt(*s, probe);
  if (named.outcome != decryption::other_key)
    return; // not of the strategy's form: shown as stored
  auto key = by_id_.find(named.key_id);
  if (key == by_id_.end()) {
    v = mask;
    ++masked_;
    return;
  }
  auto got = strategy->decrypt(*s, key->second);
  if (got.outcome != decryption::ok)
    return; // fails authentication: shown as stored, for the operator to see
  json::error_code ec;
  auto value = json::parse(got.plaintext, ec);
  v = ec ? json::value(json::string(got.plaintext)) : std::move(value);
  ++revealed_;
}

} // namespace admin
