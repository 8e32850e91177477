// sourcery-admin: inspect, verify, repair, back up and move a store of any
// durable engine (R-ADM1). The command line is CLI11's (a Debian package,
// header-only): subcommands, typed options, --help for each.
#include "commands.hpp"

#include <sourcery/errors.hpp>

#include <CLI/CLI.hpp>

#include <iostream>

namespace {

using namespace admin;

/// --storage.* and --json on `cmd`, filling `c`.
void add_common(CLI::App& cmd, common_args& c, bool json) {
  cmd.add_option("--storage.engine", c.storage.engine, "rocksdb or postgres")
    ->check(CLI::IsMember({"rocksdb", "postgres", "in_memory"}));
  cmd.add_option("--storage.path", c.storage.path, "the RocksDB store's folder");
  cmd.add_option("--storage.conninfo", c.storage.conninfo,
                 "PostgreSQL: libpq connection string (empty = PG* variables)");
  cmd.add_option("--storage.schema", c.storage.schema, "PostgreSQL: the store's schema");
  if (json)
    cmd.add_flag("--json", c.json, "print JSON instead of a table");
}

int run(int argc, char** argv) {
  CLI::App app{"sourcery-admin: inspect, verify, repair, back up and move a Sourcery store",
               "sourcery-admin"};
  app.require_subcommand(1);
  common_args c;
  std::function<int()> chosen;

  auto* info = app.add_subcommand("info", "what the store holds");
  add_common(*info, c, true);
  info->callback([&] { chosen = [&] { return run_info(c); }; });

  auto* tenants = app.add_subcommand("tenants", "the tenants, with their streams and events");
  add_common(*tenants, c, true);
  tenants->callback([&] { chosen = [&] { return run_tenants(c); }; });

  streams_args sa;
  auto* streams = app.add_subcommand("streams", "the streams, with their versions");
  add_common(*streams, c, true);
  streams->add_option("--tenant", sa.tenant, "only this tenant's");
  streams->add_option("--category", sa.category, "only this category's");
  streams->callback([&] { chosen = [&] { return run_streams(c, sa); }; });

  read_args ra;
  auto* read = app.add_subcommand("read", "a stream's snapshot and events");
  add_common(*read, c, true);
  read->add_option("stream", ra.stream, "the stream's UUID or name")->required();
  read->add_option("--tenant", ra.tenant, "its tenant (default: the default tenant)");
  read->add_option("--category", ra.category, "its category");
  read->add_option("--from", ra.from, "first version");
  read->add_option("--to", ra.to, "last version");
  read->add_flag("--raw", ra.raw, "encrypted fields as stored (default: decrypted with the "
                                  "store's keys, \"<shredded>\" where the key is gone)");
  read->callback([&] { chosen = [&] { return run_read(c, ra); }; });

  log_args la;
  auto* log = app.add_subcommand("log", "the global log from a position");
  add_common(*log, c, true);
  log->add_option("--from", la.from, "first position (default 1)");
  log->add_option("--limit", la.limit, "at most this many records (default 100)");
  log->callback([&] { chosen = [&] { return run_log(c, la); }; });

  tail_args ta;
  auto* tail = app.add_subcommand("tail", "records as they commit, until Ctrl-C");
  add_common(*tail, c, true);
  tail->add_option("--from", ta.from, "first position (default: what commits from now on)");
  tail->add_option("--tenant", ta.tenant, "only this tenant's");
  tail->add_option("--category", ta.category, "only this category's");
  tail->add_option("--type", ta.type, "only events of this type");
  tail->callback([&] { chosen = [&] { return run_tail(c, ta); }; });

  auto* outbox = app.add_subcommand("outbox", "the outbox: status, dead letters, repair");
  outbox->require_subcommand(1);
  auto* status = outbox->add_subcommand("status", "pending entries and dead letters");
  add_common(*status, c, true);
  status->callback([&] { chosen = [&] { return run_outbox_status(c); }; });
  std::optional<std::string> dead_tenant;
  auto* dead = outbox->add_subcommand("dead-letters", "the dead letters");
  add_common(*dead, c, true);
  dead->add_option("--tenant", dead_tenant, "only this tenant's");
  dead->callback([&] { chosen = [&] { return run_dead_letters(c, dead_tenant); }; });
  dead_letter_change change;
  auto dead_change = [&](const char* name, const char* what, auto run_it) {
    auto* cmd = outbox->add_subcommand(name, what);
    add_common(*cmd, c, false);
    cmd->add_option("positions", change.positions, "the dead letters' positions");
    cmd->add_flag("--all", change.all, "every dead letter");
    cmd->add_flag("--yes", change.yes, "do it (else print what would be done)");
    cmd->callback([&, run_it] { chosen = [&, run_it] { return run_it(c, change); }; });
  };
  dead_change("requeue", "dead letters back to pending, attempts reset", run_requeue);
  dead_change("purge", "dead letters deleted", run_purge);

  shred_args sh;
  auto* shred = app.add_subcommand("shred", "crypto-shred a data subject");
  add_common(*shred, c, false);
  shred->add_option("subject", sh.subject, "the data subject")->required();
  shred->add_option("--tenant", sh.tenant, "its tenant")->required();
  shred->add_flag("--yes", sh.yes, "do it (else print what would be done)");
  shred->callback([&] { chosen = [&] { return run_shred(c, sh); }; });

  verify_args va;
  auto* verify = app.add_subcommand("verify", "check the whole store; exit 1 on a problem");
  add_common(*verify, c, true);
  verify->add_flag("--progress", va.progress, "a progress bar also when stderr is no terminal");
  verify->callback([&] { chosen = [&] { return run_verify(c, va); }; });

  export_args ea;
  auto* exp = app.add_subcommand("export", "the store as NDJSON");
  add_common(*exp, c, false);
  exp->add_option("file", ea.file, "where to write (default: standard output)");
  exp->add_option("--tenant", ea.tenant, "only this tenant's records");
  exp->add_flag("--with-keys", ea.with_keys,
                "the encryption keys too (secrets: whoever reads the file can decrypt)");
  exp->callback([&] { chosen = [&] { return run_export(c, ea); }; });

  std::string import_file;
  auto* imp = app.add_subcommand("import", "an export into an empty store");
  add_common(*imp, c, false);
  imp->add_option("file", import_file, "what to read (default: standard input)");
  imp->callback([&] { chosen = [&] { return run_import(c, import_file); }; });

  std::string backup_dest;
  auto* backup = app.add_subcommand("backup", "a consistent copy of a RocksDB store");
  add_common(*backup, c, false);
  backup->add_option("dest", backup_dest, "the backup's folder (must not exist)")->required();
  backup->callback([&] { chosen = [&] { return run_backup(c, backup_dest); }; });

  std::string restore_from;
  auto* restore = app.add_subcommand("restore", "a backup into --storage.path");
  add_common(*restore, c, false);
  restore->add_option("backup", restore_from, "the backup's folder")->required();
  restore->callback([&] { chosen = [&] { return run_restore(c, restore_from); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    std::cerr << "sourcery-admin: " << e.what() << " (--help lists the options)\n";
    return bad_usage;
  }
  return chosen();
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const admin::failure& e) {
    std::cerr << "sourcery-admin: " << e.what() << '\n';
    return e.code;
  } catch (const sourcery::storage_unavailable& e) {
    std::cerr << "sourcery-admin: " << e.what() << '\n';
    return admin::unavailable;
  } catch (const sourcery::storage_corrupt& e) {
    std::cerr << "sourcery-admin: " << e.what() << '\n';
    return admin::unavailable;
  } catch (const std::exception& e) {
    std::cerr << "sourcery-admin: " << e.what() << '\n';
    return admin::problem_found;
  }
}
