// The outbox commands and shred: status and dead letters read; requeue,
// purge and shred change the store only with --yes, and otherwise print
// what they would do (R-ADM3).
#include "commands.hpp"

#include <sourcery/encryption.hpp>
#include <sourcery/errors.hpp>

#include <iostream>
#include <set>

namespace admin {

using namespace sourcery;
namespace json = boost::json;

namespace {

std::string positions_text(const std::vector<position>& ps) {
  std::string out;
  for (auto p : ps)
    out += (out.empty() ? "" : ", ") + std::to_string(p);
  return out;
}

/// The dead letters a requeue or purge names: all, or those at the
/// positions given (each must be one).
std::vector<position> chosen(storage::engine& e, const dead_letter_change& a) {
  if (a.all == !a.positions.empty())
    throw failure(bad_usage, "name dead letters by position, or pass --all (not both)");
  std::set<position> dead;
  for (const auto& d : e.outbox().dead_letters())
    dead.insert(d.record.position);
  if (a.all)
    return {dead.begin(), dead.end()};
  for (auto p : a.positions)
    if (!dead.contains(p))
      throw failure(problem_found, "there is no dead letter at position " + std::to_string(p));
  return a.positions;
}

int change_dead_letters(const common_args& c, const dead_letter_change& a, const char* verb,
                        std::size_t (storage::outbox_store::*act)(std::optional<position>)) {
  auto e = open_store(c.storage, a.yes ? access::change : access::read);
  auto targets = chosen(*e, a);
  if (!a.yes) {
    std::cout << "would " << verb << ' ' << targets.size() << " dead letters"
              << (targets.empty() ? "" : std::string(" (positions ") + positions_text(targets) + ")")
              << "; pass --yes to do it\n";
    return ok;
  }
  std::size_t n = 0;
  if (a.all)
    n = (e->outbox().*act)(std::nullopt);
  else
    for (auto p : targets)
      n += (e->outbox().*act)(p);
  std::cout << verb << "d " << n << " dead letters\n";
  return ok;
}

} // namespace

int run_outbox_status(const common_args& c) {
  auto e = open_store(c.storage, access::read);
  auto pending = admin_of(*e).pending_outbox();
  auto counts = e->outbox().counts();
  std::size_t retried = 0;
  for (const auto& p : pending)
    retried += p.attempts > 0 ? 1 : 0;
  if (c.json) {
    print_json(std::cout,
               json::object{{"pending", pending.size()},
                            {"pending_after_failures", retried},
                            {"dead", counts.dead},
                            {"shards", e->outbox().shards()},
                            {"oldest_pending", pending.empty() ? json::value(nullptr)
                                                               : json::value(pending[0].position)}});
    return ok;
  }
  std::cout << "pending   " << pending.size() << " (" << retried << " failed before)\n"
            << "dead      " << counts.dead << '\n'
            << "shards    " << e->outbox().shards() << '\n'
            << "oldest    " << (pending.empty() ? std::string("-")
                                                : std::string("position ") + std::to_string(pending[0].position))
            << '\n';
  return ok;
}

int run_dead_letters(const common_args& c, const std::optional<std::string>& tenant) {
  auto e = open_store(c.storage, access::read);
  json::array out;
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : e->outbox().dead_letters()) {
    if (tenant && d.record.tenant != *tenant)
      continue;
    if (c.json)
      out.push_back(json::object{{"position", d.record.position},
                                 {"tenant", d.record.tenant},
                                 {"stream", stream_json(*d.record.stream)},
                                 {"type", d.record.type},
                                 {"attempts", d.attempts},
                                 {"last_error", d.last_error}});
    else
      rows.push_back({std::to_string(d.record.position),
                      d.record.tenant.empty() ? "(default)" : std::string(d.record.tenant),
                      stream_text(*d.record.stream), std::string(d.record.type),
                      std::to_string(d.attempts), d.last_error});
  }
  if (c.json)
    print_json(std::cout, out);
  else
    print_table(std::cout, {"position", "tenant", "stream", "type", "attempts", "last error"},
                rows);
  return ok;
}

int run_requeue(const common_args& c, const dead_letter_change& a) {
  return change_dead_letters(c, a, "requeue", &storage::outbox_store::requeue);
}

int run_purge(const common_args& c, const dead_letter_change& a) {
  return change_dead_letters(c, a, "purge", &storage::outbox_store::purge);
}

int run_shred(const common_args& c, const shred_args& a) {
  auto e = open_store(c.storage, a.yes ? access::change : access::read);
  auto keys = e->keys();
  if (!keys->get(a.tenant, a.subject))
    throw failure(problem_found, "there is no key of subject '" + a.subject + "' in "
                                   + (a.tenant.empty() ? "the default tenant"
                                                       : std::string("tenant '") + a.tenant + "'")
                                   + " (never stored, or shredded already)");
  if (!a.yes) {
    std::cout << "would shred subject '" << a.subject << "' of tenant '" << a.tenant
              << "': its key is deleted and its encrypted fields can never be read again;"
                 " pass --yes to do it\n";
    return ok;
  }
  // As encryption_keys::shred: the key's id retired first, so that values
  // under it read as masked also after a new key (both strategies name a
  // key by the same id).
  auto strategy = std::make_shared<xchacha20poly1305_strategy>();
  encryption_keys(strategy, keys, a.tenant).shred(a.subject);
  std::cout << "shredded subject '" << a.subject << "' of tenant '" << a.tenant << "'\n";
  return ok;
}

} // namespace admin
