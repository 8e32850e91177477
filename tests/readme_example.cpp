// The README's embedding example, verbatim; built and run as a test so it cannot rot.
#include <sourcery/sourcery.hpp>
#include <boost/describe.hpp>
#include <iostream>

struct account_opened { std::string owner; };
BOOST_DESCRIBE_STRUCT(account_opened, (), (owner))
struct money_deposited { long long cents = 0; };
BOOST_DESCRIBE_STRUCT(money_deposited, (), (cents))

int main() {
  auto backend = sourcery::backend::in_memory();
  backend.registry().add<account_opened>("account_opened");
  backend.registry().add<money_deposited>("money_deposited");

  auto store = backend.in_tenant_mode("acme").event_store();
  auto account = sourcery::stream_id::named("account-42", "account");
  store.append(account, {sourcery::wrap(account_opened{"Ann"}),
                         sourcery::wrap(money_deposited{10'000})}); // a new stream: version 0

  for (const auto& e : store.load_stream(account)) {
    std::cout << 'v' << *e.version << ' ' << e.event.name() << ": ";
    if (const auto* opened = e.event.get_if<account_opened>())
      std::cout << opened->owner << '\n';
    else
      std::cout << e.event.as<money_deposited>().cents << " cents\n";
  }
}
