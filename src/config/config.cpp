// Loading the TOML file: top-level keys, [compat], env overrides, protected mode, and the
// checks that span several keys.
#include "config/config.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "config/reader.hpp"

namespace otpd::config {
namespace {

using detail::fail;
using detail::quote;
using detail::TableReader;

bool is_tenant_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

toml::table parse_toml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw ConfigError("config: " + (source.empty() ? "" : source + ":") + std::to_string(at.line) +
                      ":" + std::to_string(at.column) + ": " + std::string(e.description()));
  }
}

void read_top_level(const TableReader& r, Config& c, bool& store_set) {
  if (auto v = r.string("listen")) {
    detail::check_listen(r.key("listen"), *v);
    c.listen = *v;
  }
  if (auto v = r.string("admin_listen")) {
    if (!v->empty()) detail::check_listen(r.key("admin_listen"), *v);
    c.admin_listen = *v;
  }
  if (auto v = r.string("store")) {
    detail::check_store(r.key("store"), *v);
    c.store = *v;
    store_set = true;
  }
  if (auto v = r.string("data_dir")) {
    detail::check_data_dir(r.key("data_dir"), *v);
    c.data_dir = *v;
  }
  if (auto v = r.strings("secrets")) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      detail::check_secret(detail::index_key(r.key("secrets"), i), (*v)[i]);
    }
    c.secrets = *v;
  }
  if (auto v = r.integer("max_connections", 1, detail::kMaxConnectionsMax)) {
    c.max_connections = static_cast<std::size_t>(*v);
  }
  if (auto v = r.integer("threads", 0, detail::kThreadsMax)) c.threads = static_cast<int>(*v);
  if (auto v = r.string("log_level")) {
    detail::check_log_level(r.key("log_level"), *v);
    c.log_level = *v;
  }
  if (auto v = r.string("log_format")) {
    detail::check_log_format(r.key("log_format"), *v);
    c.log_format = *v;
  }
  if (auto v = r.boolean("allow_plain_http")) c.allow_plain_http = *v;
}

void read_tenants(const toml::table& tenants, Config& c) {
  for (auto&& [name, node] : tenants) {
    const auto path = detail::join_key("tenants", name.str());
    if (!is_tenant_name(name.str())) {
      fail(path, "invalid tenant name (use 1 to 64 of a-z, 0-9, '_' and '-')");
    }
    const auto* table = node.as_table();
    if (table == nullptr) fail(path, "expected a table");
    c.tenants.emplace(std::string(name.str()),
                      detail::read_tenant(*table, std::string(name.str())));
  }
}

// Routes otpd serves itself; a facade path on top of one would shadow it.
bool shadows_own_route(std::string_view path) {
  for (std::string_view own : {"/healthz", "/readyz", "/metrics"}) {
    if (path == own) return true;
  }
  return path == "/v1" || path.starts_with("/v1/") || path == "/v2" || path.starts_with("/v2/");
}

CompatConfig read_compat(const toml::table& table) {
  const TableReader r(table, "compat", {"enabled", "tenant", "path", "ttl_seconds"});
  CompatConfig compat;
  compat.enabled = r.boolean("enabled").value_or(false);
  if (auto ttl = r.integer("ttl_seconds", 30, 3600)) compat.ttl_seconds = static_cast<int>(*ttl);
  compat.tenant = r.string("tenant").value_or("");
  if (auto path = r.string("path")) {
    if (!path->starts_with('/'))
      fail(r.key("path"), "must start with \"/\" (got " + quote(*path) + ")");
    if (std::any_of(path->begin(), path->end(), [](char ch) {
          return static_cast<unsigned char>(ch) <= ' ' || ch == '?' || ch == '#';
        })) {
      fail(r.key("path"), "must be a plain path without spaces, '?' or '#'");
    }
    if (shadows_own_route(*path)) fail(r.key("path"), "conflicts with otpd's own routes");
    compat.path = *path;
  }
  return compat;
}

// A key belongs to exactly one tenant, or authentication would be ambiguous.
void check_keys_unique(const Config& c) {
  std::map<std::string, std::string> owner;
  for (const auto& [name, tenant] : c.tenants) {
    for (std::size_t i = 0; i < tenant.api_key_hashes.size(); ++i) {
      const auto key =
          detail::index_key(detail::join_key(detail::join_key("tenants", name), "api_keys"), i);
      const auto [it, added] = owner.emplace(tenant.api_key_hashes[i], key);
      if (!added) fail(key, "the same key is already listed as " + it->second);
    }
  }
}

void check_admin_listen(const Config& c) {
  if (c.admin_listen.empty()) return;
  const auto main = parse_listen(c.listen, "listen");
  const auto admin = parse_listen(c.admin_listen, "admin_listen");
  if (main.port != 0 && main.port == admin.port && main.host == admin.host) {
    fail("admin_listen", "must differ from listen (" + quote(c.listen) + ")");
  }
}

// Instances on one remote store must hash and seal alike: a secret generated per data dir
// would make every instance unable to check the others' codes.
void check_shared_secrets(const Config& c) {
  if (c.store.starts_with("sqlite://") || !c.secrets.empty()) return;
  fail("secrets", "required when the store is remote (" + c.store.substr(0, c.store.find("://")) +
                      "://): every instance on one store must share them (at least 16 characters "
                      "each; set secrets or OTPD_SECRETS)");
}

void check_compat(const Config& c) {
  if (!c.compat.enabled) return;
  if (c.compat.tenant.empty()) fail("compat.tenant", "required when compat.enabled = true");
  const auto it = c.tenants.find(c.compat.tenant);
  if (it == c.tenants.end()) {
    fail("compat.tenant", "no tenant " + quote(c.compat.tenant) + " is configured");
  }
  // The facade sends through the email channel, else the default one: without either,
  // every GET would fail, so say it now.
  if (!it->second.email && !it->second.policy.default_channel) {
    fail("compat.tenant", "tenant " + quote(c.compat.tenant) +
                              " has neither an email channel nor a default_channel");
  }
}

void add_protected_mode_tenant(Config& c) {
  if (!c.protected_mode() || c.tenants.contains("default")) return;
  TenantConfig tenant;
  tenant.name = "default";
  tenant.console_channel = true;
  tenant.policy.default_channel = core::ChannelKind::kConsole;
  c.tenants.emplace("default", std::move(tenant));
}

Config parse_document(const std::string& text, const std::string& source,
                      const std::map<std::string, std::string>& env) {
  const auto doc = parse_toml(text, source);
  const TableReader r(
      doc, "",
      {"listen", "admin_listen", "store", "data_dir", "secrets", "max_connections", "threads",
       "log_level", "log_format", "allow_plain_http", "tenants", "compat", "twilio"});
  Config c;
  bool store_set = false;
  read_top_level(r, c, store_set);
  if (const auto* t = r.table("tenants")) read_tenants(*t, c);
  if (const auto* t = r.table("compat")) c.compat = read_compat(*t);
  if (const auto* t = r.table("twilio")) c.twilio = detail::read_twilio(*t);

  detail::apply_env(c, env, store_set);
  // data_dir is documented as where the SQLite file lives, so moving it moves the
  // default store with it.
  if (!store_set) {
    auto dir = c.data_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    c.store = "sqlite://" + dir + (dir == "/" ? "" : "/") + "otpd.db";
  }

  check_admin_listen(c);
  check_shared_secrets(c);
  check_keys_unique(c);
  detail::check_twilio(c);
  add_protected_mode_tenant(c);
  check_compat(c);
  return c;
}

std::string read_file(const std::string& path) {
  const auto cannot_read = [&path]() {
    return ConfigError("config: cannot read " + path + ": " + std::strerror(errno));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw cannot_read();
  std::string text;
  char buffer[8192];
  while (true) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const auto error = cannot_read();
      ::close(fd);
      throw error;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace

bool Config::protected_mode() const {
  if (twilio.enabled) return false;
  return std::all_of(tenants.begin(), tenants.end(),
                     [](const auto& entry) { return entry.second.api_key_hashes.empty(); });
}

Config parse_config(const std::string& toml_text, const std::map<std::string, std::string>& env) {
  return parse_document(toml_text, "", env);
}

Config load_config(const std::string& path, const std::map<std::string, std::string>& env) {
  if (path.empty()) return parse_config("", env);
  return parse_document(read_file(path), path, env);
}

}  // namespace otpd::config
