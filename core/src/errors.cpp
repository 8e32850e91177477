#include <sourcery/errors.hpp>

#include <array>

namespace sourcery {

std::string_view to_string(errc code) noexcept {
  static constexpr std::array<std::string_view, 28> names{
    "none",
    "illegal_tenant_id",
    "incompatible_uuid_and_name",
    "duplicated_event",
    "unknown_event",
    "deserialization_error",
    "wrong_event_type",
    "concurrent_stream_write_error",
    "expected_version_used_on_versionless_stream",
    "no_expected_version_given_on_versioned_stream",
    "versioning_mismatch",
    "invalid_argument",
    "no_provider_configured",
    "missing_provider",
    "no_subject_id_found",
    "key_not_found",
    "decryption_failed",
    "encryption_not_configured",
    "reentrant_call",
    "listener_failed",
    "runtime_stopped",
    "storage_full",
    "storage_corrupt",
    "storage_version_mismatch",
    "storage_unavailable",
    "event_id_conflict",
    "unknown_group",
    "record_not_held",
  };
  auto i = static_cast<std::size_t>(code);
  return i < names.size() ? names[i] : "unknown_error_code";
}

unknown_event::unknown_event(std::string event_name)
  : error(errc::unknown_event, "unknown event: '" + event_name + "' is not registered"),
    event_name_(std::move(event_name)) {}

deserialization_error::deserialization_error(std::string event_name,
                                             std::string stream,
                                             std::string field,
                                             const std::string& detail)
  : error(errc::deserialization_error,
          "cannot deserialise event '" + event_name + "' in stream " + stream
            + (field.empty() ? std::string() : ", field '" + field + "'") + ": "
            + detail),
    event_name_(std::move(event_name)),
    stream_(std::move(stream)),
    field_(std::move(field)) {}

concurrent_stream_write_error::concurrent_stream_write_error(std::string stream,
                                                             std::uint64_t expected,
                                                             std::uint64_t actual)
  : error(errc::concurrent_stream_write_error,
          "concurrent write to stream " + stream + ": expected version "
            + std::to_string(expected) + ", actual version " + std::to_string(actual)),
    stream_(std::move(stream)),
    expected_(expected),
    actual_(actual) {}

event_id_conflict::event_id_conflict(std::string stream, std::string event_id,
                                     std::uint64_t version, const std::string& detail)
  : error(errc::event_id_conflict,
          "event " + event_id + " is stored in stream " + stream + " at version "
            + std::to_string(version) + ", but this append is not the one that stored it: "
            + detail),
    stream_(std::move(stream)),
    event_id_(std::move(event_id)),
    version_(version) {}

no_subject_id_found::no_subject_id_found(std::string stream)
  : error(errc::no_subject_id_found,
          "no data subject id found for an encrypted field in stream " + stream),
    stream_(std::move(stream)) {}

key_not_found::key_not_found(std::string subject_id)
  : error(errc::key_not_found, "no encryption key for subject '" + subject_id + "'"),
    subject_id_(std::move(subject_id)) {}

decryption_failed::decryption_failed(std::string stream, std::string event_name,
                                     std::string field)
  : error(errc::decryption_failed,
          "ciphertext failed authentication: stream " + stream + ", event '"
            + event_name + "', field '" + field + "'"),
    stream_(std::move(stream)),
    event_name_(std::move(event_name)),
    field_(std::move(field)) {}

} // namespace sourcery
