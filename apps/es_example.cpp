// Event sourcing with Sourcery (issue #6): bank accounts are aggregates,
// stored through a repository; a projector, fed by a subscription, keeps a
// balance sheet (the read model) in step with them.
//
// Run it: ./es_example (it takes no options; --help says so). Exit code 0
// when the read model agrees with the aggregates, 1 when it does not or an
// error stopped the run (one line on stderr), 2 for bad usage.
#include "cli.hpp"

#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

namespace bank {

// -- events ---------------------------------------------------------------------

struct account_opened {
  std::string owner;
};
BOOST_DESCRIBE_STRUCT(account_opened, (), (owner))

struct deposited {
  std::int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(deposited, (), (cents))

struct withdrawn {
  std::int64_t cents = 0;
};
BOOST_DESCRIBE_STRUCT(withdrawn, (), (cents))

/// An account's state, saved as a snapshot every few events.
struct account_state {
  std::string owner;
  std::int64_t balance = 0;
};
BOOST_DESCRIBE_STRUCT(account_state, (), (owner, balance))

/// Who asked for a change; every event carries it as its context.
struct teller_context {
  std::string teller;
  std::string branch;
};
BOOST_DESCRIBE_STRUCT(teller_context, (), (teller, branch))

// -- the aggregate --------------------------------------------------------------

struct insufficient_funds : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class account : public sourcery::aggregate<account, account_opened, deposited, withdrawn> {
public:
  static constexpr std::string_view category = "account";
  using snapshot_type = account_state;

  void open(std::string owner) {
    if (!owner_.empty())
      throw std::logic_error("account already opened");
    emit(account_opened{std::move(owner)});
  }
  void deposit(std::int64_t cents) { emit(deposited{cents}); }
  void withdraw(std::int64_t cents) {
    if (cents > balance_)
      throw insufficient_funds(owner_ + " has " + std::to_string(balance_) + " cents, not "
                               + std::to_string(cents));
    emit(withdrawn{cents});
  }

  const std::string& owner() const { return owner_; }
  std::int64_t balance() const { return balance_; }

private:
  friend sourcery::aggregate_access;
  void apply(const account_opened& e) { owner_ = e.owner; }
  void apply(const deposited& e) { balance_ += e.cents; }
  void apply(const withdrawn& e) { balance_ -= e.cents; }
  account_state snapshot() const { return {owner_, balance_}; }
  void restore(const account_state& s) {
    owner_ = s.owner;
    balance_ = s.balance;
  }

  std::string owner_;
  std::int64_t balance_ = 0;
};

// -- the read model -------------------------------------------------------------

/// Balances by owner, built from the events alone.
class balance_sheet {
public:
  void project(const sourcery::recorded_event& r) {
    auto stream = sourcery::to_string(r.stream_id.id());
    sourcery::visit_event<account_opened, deposited, withdrawn>(r.event, [&](const auto& e) {
      apply(stream, e);
    });
    ++events_;
  }

  const std::map<std::string, std::int64_t>& balances() const { return balances_; }
  std::size_t events() const { return events_; }

private:
  void apply(const std::string& stream, const account_opened& e) {
    owners_[stream] = e.owner;
    balances_[e.owner] = 0;
  }
  void apply(const std::string& stream, const deposited& e) {
    balances_[owners_.at(stream)] += e.cents;
  }
  void apply(const std::string& stream, const withdrawn& e) {
    balances_[owners_.at(stream)] -= e.cents;
  }

  std::map<std::string, std::string> owners_; // stream → owner
  std::map<std::string, std::int64_t> balances_;
  std::size_t events_ = 0;
};

std::string money(std::int64_t cents) {
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return text;
}

} // namespace bank

/// The example itself; returns the exit code.
int run() {
  using namespace std::chrono_literals;
  using namespace bank;

  auto backend = sourcery::backend::in_memory();
  backend.registry().add<account_opened>("account_opened");
  backend.registry().add<deposited>("deposited");
  backend.registry().add<withdrawn>("withdrawn");
  backend.registry().add<account_state>("account_state");

  // The read model follows every account stream from the start.
  auto feed = backend.subscriber().start_from(0).to_category("account").build_batch(64, 500ms);
  balance_sheet sheet;
  sourcery::projector balances("balances", backend,
                               [&](const sourcery::recorded_event& r) { sheet.project(r); });

  // Commands go through the repository: load, act, commit.
  sourcery::repository<account> accounts(backend.event_store(), sourcery::snapshot_policy::every(5));
  teller_context desk{"tess", "harbour street"};

  auto ann = accounts.load_named("ann", account{}, desk);
  ann->open("Ann");
  ann->deposit(100'00);
  accounts.commit(ann);

  auto bob = accounts.load_named("bob", account{}, desk);
  bob->open("Bob");
  bob->deposit(20'00);
  try {
    bob->withdraw(50'00);
  } catch (const insufficient_funds& e) {
    std::cout << "refused: " << e.what() << "\n";
  }
  accounts.commit(bob);

  for (int month = 1; month <= 6; ++month) { // crosses the snapshot interval
    auto a = accounts.load_named("ann", account{}, desk);
    a->withdraw(10'00);
    a->deposit(2'50);
    accounts.commit(a);
  }

  // Two tellers change Bob's account at once: the later commit loses.
  auto at_desk = accounts.load_named("bob", account{}, desk);
  auto online = accounts.load_named("bob", account{}, teller_context{"web", "online"});
  at_desk->deposit(5'00);
  online->withdraw(15'00);
  accounts.commit(at_desk);
  try {
    accounts.commit(online);
  } catch (const sourcery::concurrent_stream_write_error& e) {
    std::cout << "conflict: " << e.what() << "; retrying\n";
    auto retry = accounts.load_named("bob", account{}, teller_context{"web", "online"});
    retry->withdraw(15'00);
    accounts.commit(retry);
  }

  // Feed the projector until it has seen everything committed.
  auto last = backend.event_store().position().value_or(0);
  for (sourcery::position seen = 0; seen < last;) {
    auto batch = feed.next();
    if (batch.empty()) {
      std::cerr << "the subscription delivered nothing for 500 ms\n";
      return 1;
    }
    balances.project(batch);
    seen = batch.back().position;
  }

  // The read model agrees with the aggregates.
  int failures = 0;
  for (const char* name : {"ann", "bob"}) {
    auto a = accounts.load_named(name);
    auto projected = sheet.balances().at(a->owner());
    auto last_change = backend.event_store().load_stream(a.stream_id()).back().context;
    std::cout << a->owner() << ": " << money(a->balance()) << " (version " << a.stored_version()
              << ", read model " << money(projected) << ", last change by "
              << sourcery::from_context<teller_context>(last_change).teller << ")\n";
    if (projected != a->balance())
      ++failures;
  }
  std::cout << "projected " << sheet.events() << " events\n";
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  cli::options options("es_example",
                       "Event sourcing with Sourcery: bank accounts as aggregates in a repository, "
                       "a projector keeping a balance sheet in step; takes no options.");
  return cli::run_main(argc, argv, options, run);
}
