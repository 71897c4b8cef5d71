// The SQLite file's schema version, its migrations, and what to tell a person about it.
#pragma once

#include <optional>
#include <string>

#include "store/store.hpp"

namespace otpd::store::sqlite {

class Connection;

// 2: send counters and token buckets; 3: WITHOUT ROWID tables, send records keyed;
// 4: idempotency records keep the first answer's verification; 5: a send is one row (no
// send records, the delivery job folded into its verification)
inline constexpr int kSchemaVersion = 5;

// Creates the schema or migrates an older one, one version at a time; idempotent.
// kSchemaMissing when the file is newer than this build understands.
// REQUIRES: inside a write transaction on `db`, so that a failure leaves the file as it was.
Result<void> migrate(Connection& db);

// nullopt when the schema is current; else what is wrong, for a person.
Result<std::optional<std::string>> schema_problem(Connection& db);

// True when the file holds no tables at all: a brand new database that `serve` may
// initialise on its own, as opposed to an old or foreign one it must not touch.
Result<bool> is_new_database(Connection& db);

}  // namespace otpd::store::sqlite
