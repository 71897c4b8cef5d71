// otpd: the server binary's command line (serve, store init/backup, key new), or a Lambda
// runtime.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "app/backup.hpp"
#include "app/commands.hpp"
#include "app/version.hpp"

int main(int argc, char** argv) {
  if (otpd::app::lambda_requested(argc > 0 ? argv[0] : nullptr)) {
    return otpd::app::run_lambda(otpd::app::lambda_options_from_env());
  }
  CLI::App cli{"otpd - one-time-code verification service", "otpd"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", "otpd " + std::string(otpd::kVersion), "Print the version");
  std::string config_path;
  if (const char* env = std::getenv("OTPD_CONFIG")) config_path = env;

  otpd::app::ServeOptions serve_options;
  auto* serve = cli.add_subcommand("serve", "Run the HTTP API");
  serve->add_option("-c,--config", config_path, "TOML config file (or OTPD_CONFIG)");
  serve->add_flag("--unsafe-test-clock", serve_options.unsafe_test_clock,
                  "Expose POST /_test/clock to move time forward (tests only; loopback only)");

  auto* store = cli.add_subcommand("store", "Manage the store");
  store->require_subcommand(1);
  auto* init = store->add_subcommand("init", "Create or migrate the store's schema");
  init->add_option("-c,--config", config_path, "TOML config file (or OTPD_CONFIG)");
  std::string backup_path;
  auto* backup = store->add_subcommand(
      "backup", "Write an online copy of the embedded SQLite store to PATH (while otpd runs too)");
  backup->add_option("-c,--config", config_path, "TOML config file (or OTPD_CONFIG)");
  backup->add_option("path", backup_path, "Where to write the copy")->required();

  auto* key = cli.add_subcommand("key", "Manage API keys");
  key->require_subcommand(1);
  std::string tenant;
  auto* key_new = key->add_subcommand("new", "Print a new API key and the hash for the config");
  key_new->add_option("-t,--tenant", tenant, "Tenant the key is for")->required();

  auto* version = cli.add_subcommand("version", "Print the version");

  CLI11_PARSE(cli, argc, argv);
  if (serve->parsed()) {
    serve_options.config_path = config_path;
    return otpd::app::serve(serve_options);
  }
  if (init->parsed()) return otpd::app::store_init(config_path);
  if (backup->parsed()) return otpd::app::store_backup(config_path, backup_path);
  if (key_new->parsed()) return otpd::app::key_new(tenant);
  if (version->parsed()) {
    std::cout << "otpd " << otpd::kVersion << "\n";
    return 0;
  }
  return 2;
}
