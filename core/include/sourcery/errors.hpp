// The error catalogue (SPEC §11).
//
// Every error is a distinct exception type (thrown by the blocking API) and a
// distinct code of one error category, "sourcery" (the asynchronous API hands
// the exception in a `result`; `to_caf_error` in <sourcery/result.hpp> turns
// it into a `caf::error` for actors). Each exception carries the
// data named in the specification and a message naming the values involved.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sourcery {

/// One code per error; stable, used as the `caf::error` code in category
/// "sourcery". 0 is reserved for "no error".
enum class errc : std::uint8_t {
  illegal_tenant_id = 1,
  incompatible_uuid_and_name,
  duplicated_event,
  unknown_event,
  deserialization_error,
  wrong_event_type,
  concurrent_stream_write_error,
  expected_version_used_on_versionless_stream,
  no_expected_version_given_on_versioned_stream,
  versioning_mismatch,
  invalid_argument,
  no_provider_configured,
  missing_provider,
  no_subject_id_found,
  key_not_found,
  decryption_failed,
  encryption_not_configured,
  reentrant_call,
  listener_failed,
  runtime_stopped,
  storage_full,
  storage_corrupt,
  storage_version_mismatch,
  storage_unavailable,
  event_id_conflict,
  unknown_group,
  record_not_held,
};

/// The name of a code, e.g. "concurrent_stream_write_error".
std::string_view to_string(errc code) noexcept;

/// Base of all Sourcery exceptions.
class error : public std::runtime_error {
public:
  error(errc code, const std::string& message)
    : std::runtime_error(message), code_(code) {}
  errc code() const noexcept { return code_; }

private:
  errc code_;
};

#define SOURCERY_SIMPLE_ERROR(name)                                            \
  class name : public error {                                                  \
  public:                                                                      \
    explicit name(const std::string& message) : error(errc::name, message) {} \
  };

SOURCERY_SIMPLE_ERROR(illegal_tenant_id)
SOURCERY_SIMPLE_ERROR(incompatible_uuid_and_name)
SOURCERY_SIMPLE_ERROR(duplicated_event)
SOURCERY_SIMPLE_ERROR(wrong_event_type)
SOURCERY_SIMPLE_ERROR(expected_version_used_on_versionless_stream)
SOURCERY_SIMPLE_ERROR(no_expected_version_given_on_versioned_stream)
SOURCERY_SIMPLE_ERROR(versioning_mismatch)
SOURCERY_SIMPLE_ERROR(invalid_argument)
SOURCERY_SIMPLE_ERROR(no_provider_configured)
SOURCERY_SIMPLE_ERROR(missing_provider)
SOURCERY_SIMPLE_ERROR(encryption_not_configured)
SOURCERY_SIMPLE_ERROR(reentrant_call)
SOURCERY_SIMPLE_ERROR(runtime_stopped)
/// The storage cannot take another commit (e.g. the log's positions are used up).
SOURCERY_SIMPLE_ERROR(storage_full)
/// The store's files are damaged, or the folder is not a Sourcery store (R-ST6).
SOURCERY_SIMPLE_ERROR(storage_corrupt)
/// The store was written in a format this build does not know (R-ST6).
SOURCERY_SIMPLE_ERROR(storage_version_mismatch)
/// The storage cannot be read or written now (I/O error, disk full, locked);
/// carries the storage's own message (R-ST6).
SOURCERY_SIMPLE_ERROR(storage_unavailable)

/// A subscription group that was never opened (R-SUB-GROUP).
SOURCERY_SIMPLE_ERROR(unknown_group)
/// An ack or nack of a record the member does not hold: never claimed by
/// it, already settled, held by another member, or given to another member
/// after its lease ran out (R-SUB-GROUP-ACK).
SOURCERY_SIMPLE_ERROR(record_not_held)

#undef SOURCERY_SIMPLE_ERROR

/// Loading an event whose registered name is unknown (R-E3).
class unknown_event : public error {
public:
  explicit unknown_event(std::string event_name);
  const std::string& event_name() const noexcept { return event_name_; }

private:
  std::string event_name_;
};

/// Stored data that does not fit the registered type (R-E3).
class deserialization_error : public error {
public:
  deserialization_error(std::string event_name, std::string stream,
                        std::string field, const std::string& detail);
  const std::string& event_name() const noexcept { return event_name_; }
  const std::string& stream() const noexcept { return stream_; }
  /// Path of the offending field ("" when the document itself is malformed).
  const std::string& field() const noexcept { return field_; }

private:
  std::string event_name_;
  std::string stream_;
  std::string field_;
};

/// The stream's version differs from the expected version (R-ES1).
class concurrent_stream_write_error : public error {
public:
  concurrent_stream_write_error(std::string stream, std::uint64_t expected,
                                std::uint64_t actual);
  std::uint64_t expected() const noexcept { return expected_; }
  std::uint64_t actual() const noexcept { return actual_; }
  const std::string& stream() const noexcept { return stream_; }

private:
  std::string stream_;
  std::uint64_t expected_;
  std::uint64_t actual_;
};

/// An append carries the id of an event stored at the versions it names but
/// is not that stored append repeated: other content, another order, or only
/// some of its events (R-ES6). Nothing is stored.
class event_id_conflict : public error {
public:
  event_id_conflict(std::string stream, std::string event_id, std::uint64_t version,
                    const std::string& detail);
  const std::string& stream() const noexcept { return stream_; }
  /// The id (hex, with dashes) of the first event found in conflict.
  const std::string& event_id() const noexcept { return event_id_; }
  /// The version at which the stored event with that id sits.
  std::uint64_t version() const noexcept { return version_; }

private:
  std::string stream_;
  std::string event_id_;
  std::uint64_t version_;
};

/// Encryption: no data subject could be determined for a field (R-EN).
class no_subject_id_found : public error {
public:
  explicit no_subject_id_found(std::string stream);
  const std::string& stream() const noexcept { return stream_; }

private:
  std::string stream_;
};

/// Encryption: no key stored for the subject (R-EN).
class key_not_found : public error {
public:
  explicit key_not_found(std::string subject_id);
  const std::string& subject_id() const noexcept { return subject_id_; }

private:
  std::string subject_id_;
};

/// Ciphertext failed authentication (tampered or wrong key) (R-EN).
class decryption_failed : public error {
public:
  decryption_failed(std::string stream, std::string event_name,
                    std::string field);
  const std::string& stream() const noexcept { return stream_; }
  const std::string& event_name() const noexcept { return event_name_; }
  /// Path of the encrypted field.
  const std::string& field() const noexcept { return field_; }

private:
  std::string stream_;
  std::string event_name_;
  std::string field_;
};

/// A listener threw; carries the listener's message. The blocking API
/// rethrows the listener's own exception instead (R-L).
class listener_failed : public error {
public:
  explicit listener_failed(const std::string& what)
    : error(errc::listener_failed, "listener failed: " + what) {}
};

} // namespace sourcery
