#pragma once

namespace reitunnel::runtime {

// CPUs this process may use: the affinity mask, capped by a cgroup CPU quota
// (v2 cpu.max or v1 cfs_quota_us/cfs_period_us, rounded up). At least 1.
// This is the default worker count: a container limited to 4 CPUs on a
// 64-core node gets 4 workers, not 64.
int UsableCpuCount();

// The same computation over explicit inputs, for tests: `affinity` CPUs in
// the mask (0: unknown), and the quota files' contents ("" when absent).
int UsableCpuCountFrom(int affinity, const char* cgroup_v2_cpu_max, const char* cgroup_v1_quota,
                       const char* cgroup_v1_period);

}  // namespace reitunnel::runtime
