#pragma once

// The value stored at <prefix>/replicas/<replica_id>: a ReplicaRecord as
// protobuf JSON. Pure functions over strings.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "reitunnel/cluster/v1/replica_record.pb.h"

namespace reitunnel::cluster {

using ReplicaRecord = ::reitunnel::cluster::v1::ReplicaRecord;

// A replica record is a few hundred bytes; anything far larger is refused
// unparsed.
inline constexpr size_t kMaxReplicaRecordBytes = 16 * 1024;

std::string EncodeReplicaRecord(const ReplicaRecord& record);
// Unknown fields are ignored (newer replicas may add some).
absl::StatusOr<ReplicaRecord> DecodeReplicaRecord(std::string_view json);

// Replica ids and cluster names become etcd key segments: 1-128 of
// [A-Za-z0-9._-], so no '/' can split a key differently.
bool IsValidKeySegment(std::string_view segment);

}  // namespace reitunnel::cluster
