#pragma once

// The table of operator bans, shared by 'bans list' and 'clients list'.

#include "absl/time/time.h"
#include "cli/format.h"
#include "reitunnel/admin/v1/admin.pb.h"

namespace reitunnel::cli {

// IDENTITY TUNNEL REASON EXPIRES (time left); wide adds CREATED and UNTIL.
// TUNNEL is "*" for a ban on the whole agent.
Table BansTable(const admin::v1::ListBansResponse& bans, absl::Time now, bool wide);

}  // namespace reitunnel::cli
