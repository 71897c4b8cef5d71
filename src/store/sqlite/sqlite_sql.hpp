// The SQL texts of the SQLite backend, one enumerator each, so that every connection can
// keep its prepared statements in an array indexed by them.
#pragma once

namespace otpd::store::sqlite {

enum class Sql : int {
  kBegin,
  kCommit,
  kRollback,
  kSavepoint,
  kRelease,
  kRollbackTo,
  kPing,
  kUserVersion,
  kCountTables,
  kSelectVerification,
  kSelectNewest,
  kInsertVerification,
  kUpdateState,
  kSetDelivery,
  kSendsInWindow,
  kFailuresInWindow,
  kInsertFailure,
  kDeleteDelivery,
  kSelectDue,
  kLeaseDelivery,
  kRetryDelivery,
  kDeliveryDepth,
  kSelectIdempotency,
  kPutIdempotency,
  kSweepVerifications,
  kFailExpiredDeliveries,
  kSweepIdempotency,
  kSweepFailures,
  kSelectCounter,
  kIncrementCounter,
  kSweepCounters,
  kSelectBucket,
  kStoreBucket,
  kSweepBuckets,
  kCount
};

const char* sql_text(Sql id);

// The columns of a verification, in the order read_verification expects them.
#define OTPD_VERIFICATION_COLUMNS                                                      \
  "tenant, id, recipient_hash, masked_to, channel, alphabet, code_length, code_hash, " \
  "status, attempts, max_attempts, created_at, expires_at, resend_at, approved_at, "   \
  "delete_after, delivery, locale, metadata"

}  // namespace otpd::store::sqlite
