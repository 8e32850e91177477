// Checking an encryption declaration against the event's members.
#include <sourcery/encryption.hpp>

#include <boost/core/demangle.hpp>

namespace sourcery::detail {

namespace {

std::string type_name(std::type_index t) {
  return boost::core::demangle(t.name());
}

/// Whether `a` and `b` are the same path or one lies inside the other.
bool overlap(std::string_view a, std::string_view b) {
  if (a.size() > b.size())
    std::swap(a, b);
  return b.starts_with(a) && (b.size() == a.size() || b[a.size()] == '.');
}

struct checker {
  std::string_view event;
  member_lookup find;

  [[noreturn]] void refuse(const std::string& what) const {
    throw invalid_argument("encryption of event '" + std::string(event) + "': " + what);
  }

  member_info member(const std::string& path, std::string_view role) const {
    if (path.empty())
      refuse(std::string(role) + " needs a field path");
    auto m = find(path);
    if (!m)
      refuse(std::string(role) + " '" + path + "' is not a field of the event");
    return *m;
  }

  void subject_field(const std::string& path, std::string_view role) const {
    if (!member(path, role).can_be_subject)
      refuse(std::string(role) + " '" + path
             + "' must hold a string, an integer or a UUID (or an optional one)");
  }
};

} // namespace

std::shared_ptr<const encryption_spec> check_encryption_spec(
  std::string_view event_name, member_lookup find, const std::vector<std::string>& subjects,
  std::vector<declared_field> fields) {
  checker check{event_name, find};
  auto spec = std::make_shared<encryption_spec>();
  if (subjects.size() > 1)
    check.refuse("an event has at most one data-subject field, got '" + subjects[0] + "' and '"
                 + subjects[1] + "'");
  if (!subjects.empty()) {
    check.subject_field(subjects[0], "data-subject field");
    spec->subject = subjects[0];
  }
  for (auto& f : fields) {
    auto m = check.member(f.path, "encrypted field");
    if (m.type != f.mask_type)
      check.refuse("encrypted field '" + f.path + "' is a " + type_name(m.type)
                   + " but its mask is a " + type_name(f.mask_type)
                   + "; give a mask of the field's own type");
    if (!f.subject.empty())
      check.subject_field(f.subject, "subject field");
    spec->fields.push_back(encrypted_field{std::move(f.path), std::move(f.mask), std::move(f.subject)});
  }
  const auto& declared = spec->fields;
  std::vector<std::string_view> subject_paths;
  if (!spec->subject.empty())
    subject_paths.push_back(spec->subject);
  for (std::size_t i = 0; i < declared.size(); ++i) {
    for (std::size_t j = i + 1; j < declared.size(); ++j)
      if (overlap(declared[i].path, declared[j].path))
        check.refuse("encrypted fields '" + declared[i].path + "' and '" + declared[j].path
                     + "' overlap");
    if (!declared[i].subject.empty())
      subject_paths.push_back(declared[i].subject);
  }
  for (auto subject : subject_paths)
    for (const auto& field : declared)
      if (overlap(subject, field.path))
        check.refuse("subject field '" + std::string(subject) + "' cannot be encrypted (field '"
                     + field.path + "'): it is needed to find the key");
  return spec;
}

} // namespace sourcery::detail
