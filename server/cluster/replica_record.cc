#include "server/cluster/replica_record.h"

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"

namespace reitunnel::cluster {

std::string EncodeReplicaRecord(const ReplicaRecord& record) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Serializing a message we built cannot fail.
  (void)google::protobuf::util::MessageToJsonString(record, &json, options);
  return json;
}

absl::StatusOr<ReplicaRecord> DecodeReplicaRecord(std::string_view json) {
  if (json.size() > kMaxReplicaRecordBytes) {
    return absl::InvalidArgumentError("replica record too large");
  }
  ReplicaRecord record;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &record, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError("replica record is not valid JSON of ReplicaRecord");
  }
  return record;
}

bool IsValidKeySegment(std::string_view segment) {
  if (segment.empty() || segment.size() > 128) return false;
  for (char c : segment) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return segment != "." && segment != "..";
}

}  // namespace reitunnel::cluster
