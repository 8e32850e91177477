// The commands of sourcery-admin, one function each; main.cpp parses the
// command line into these arguments. Each returns its exit code or throws
// `failure` (admin.hpp).
#pragma once

#include "admin.hpp"

#include <optional>
#include <string>
#include <vector>

namespace admin {

/// What every command takes.
struct common_args {
  storage_choice storage;
  bool json = false;
};

int run_info(const common_args& c);
int run_tenants(const common_args& c);

struct streams_args {
  std::optional<std::string> tenant, category;
};
int run_streams(const common_args& c, const streams_args& a);

struct read_args {
  std::string stream;
  std::string tenant;
  std::optional<std::string> category;
  std::optional<sourcery::version> from, to; // both inclusive
  bool raw = false; // encrypted fields as stored, not decrypted
};
int run_read(const common_args& c, const read_args& a);

struct log_args {
  sourcery::position from = 1;
  std::size_t limit = 100;
};
int run_log(const common_args& c, const log_args& a);

struct tail_args {
  std::optional<sourcery::position> from; // none: only what commits from now on
  std::optional<std::string> tenant, category, type;
};
int run_tail(const common_args& c, const tail_args& a);

int run_outbox_status(const common_args& c);
int run_dead_letters(const common_args& c, const std::optional<std::string>& tenant);

/// requeue and purge: the dead letters at `positions`, or all.
struct dead_letter_change {
  std::vector<sourcery::position> positions;
  bool all = false;
  bool yes = false;
};
int run_requeue(const common_args& c, const dead_letter_change& a);
int run_purge(const common_args& c, const dead_letter_change& a);

struct shred_args {
  std::string tenant;
  std::string subject;
  bool yes = false;
};
int run_shred(const common_args& c, const shred_args& a);

struct verify_args {
  bool progress = false; // also when stderr is no terminal
};
int run_verify(const common_args& c, const verify_args& a);

struct export_args {
  std::string file; // empty or "-": standard output
  std::optional<std::string> tenant;
  bool with_keys = false; // the tenants' encryption keys too (secrets: asked for by name)
};
int run_export(const common_args& c, const export_args& a);
int run_import(const common_args& c, const std::string& file);

int run_backup(const common_args& c, const std::string& dest);
int run_restore(const common_args& c, const std::string& backup);

} // namespace admin
