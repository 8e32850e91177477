// The harness's simulated domain: the event types its writers append, and
// how a backend is set up to read and write them.
#pragma once

#include "scenario.hpp"

#include <sourcery/sourcery.hpp>

#include <boost/describe.hpp>

#include <cstdint>
#include <string>

namespace harness {

struct order_placed {
  std::int64_t seq = 0;
  std::string payload;
};
BOOST_DESCRIBE_STRUCT(order_placed, (), (seq, payload))

struct profile_updated {
  std::string subject;
  std::string email;
  std::string phone;
  std::string address;
  std::int64_t seq = 0;
};
BOOST_DESCRIBE_STRUCT(profile_updated, (), (subject, email, phone, address, seq))

/// What a shredded subject's encrypted fields read as.
inline const std::string masked = "<erased>";

inline std::string email_of(const std::string& subject) {
  return subject + "@example.com";
}

/// Registers the event types on `b`, with encryption and the outbox as the
/// scenario asks. Call before the runtime is used from other threads.
inline void set_up_domain(sourcery::backend& b, const scenario& sc) {
  b.configure(sc.sourcery);
  b.registry().add<order_placed>("order_placed");
  if (sc.encrypted_share > 0) {
    b.registry().add<profile_updated>(
      "profile_updated", sourcery::encryption_spec_for<profile_updated>()
                           .subject("subject")
                           .encrypt("email", masked)
                           .encrypt("phone", masked)
                           .encrypt("address", masked));
    b.with_encryption();
  }
  if (sc.outbox)
    b.with_outbox();
}

} // namespace harness
