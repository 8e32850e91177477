// Fuzz target: the load harness's settings parser (SPEC §12, issue 14). The
// input is the command line, one argument per line, after the repository's
// --config=DIR. Properties: load_scenario either throws setting_error (the
// harness exits with code 2) or help_requested, or returns a scenario whose
// every setting is within its documented range.
#include "fuzz_check.hpp"

#include "../../apps/load/scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"sourcery_load", "--config=" SOURCERY_CONFIG_DIR};
  for (std::size_t start = 0; start <= in.size() && args.size() < 64;) {
    auto end = in.find('\n', start);
    if (end == std::string::npos)
      end = in.size();
    args.push_back(in.substr(start, end - start));
    start = end + 1;
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  namespace limits = harness::limits;
  try {
    auto s = harness::load_scenario(static_cast<int>(args.size()), argv.data());
    FUZZ_CHECK(s.events >= 0 && s.events <= limits::events);
    FUZZ_CHECK(s.seconds >= 0 && s.seconds <= limits::seconds);
    FUZZ_CHECK(s.events > 0 || s.seconds > 0);
    FUZZ_CHECK(s.tenants >= 1 && s.tenants <= limits::tenants);
    FUZZ_CHECK(s.streams_per_tenant >= 1 && s.streams_per_tenant <= limits::streams_per_tenant);
    FUZZ_CHECK(s.tenants * s.streams_per_tenant <= limits::streams);
    FUZZ_CHECK(s.writers >= 1 && s.writers <= limits::writers);
    FUZZ_CHECK(s.writers <= s.tenants * s.streams_per_tenant);
    FUZZ_CHECK(s.batch >= 1 && s.batch <= limits::batch);
    FUZZ_CHECK(s.in_flight >= 1 && s.in_flight <= limits::in_flight);
    FUZZ_CHECK(s.payload_bytes >= 1 && s.payload_bytes <= limits::payload_bytes);
    FUZZ_CHECK(s.subscriptions >= 0 && s.subscriptions <= limits::subscriptions);
    FUZZ_CHECK(s.subjects >= 1 && s.subjects <= limits::subjects);
    FUZZ_CHECK(s.outbox_failure >= 0 && s.outbox_failure <= 1);
    FUZZ_CHECK(s.encrypted_share >= 0 && s.encrypted_share <= 1);
    FUZZ_CHECK(s.shred_share >= 0 && s.shred_share <= 1);
    FUZZ_CHECK(s.progress_interval >= 0 && s.progress_interval <= limits::progress_interval);
  } catch (const harness::setting_error&) {
  } catch (const harness::help_requested&) {
  }
  return 0;
}
