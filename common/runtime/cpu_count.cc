#include "common/runtime/cpu_count.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace reitunnel::runtime {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ceil(quota / period), or 0 when there is no quota.
int QuotaCpus(double quota, double period) {
  if (quota <= 0 || period <= 0) return 0;
  return std::max(1, static_cast<int>(std::ceil(quota / period)));
}

}  // namespace

int UsableCpuCountFrom(int affinity, const char* v2_cpu_max, const char* v1_quota,
                       const char* v1_period) {
  int cpus = affinity > 0 ? affinity : 0;
  int quota_cpus = 0;
  if (v2_cpu_max && *v2_cpu_max) {
    // "max 100000" (no limit) or "<quota> <period>".
    std::istringstream in(v2_cpu_max);
    std::string quota;
    double period = 0;
    in >> quota >> period;
    if (quota != "max") quota_cpus = QuotaCpus(std::atof(quota.c_str()), period);
  } else if (v1_quota && *v1_quota && v1_period && *v1_period) {
    quota_cpus = QuotaCpus(std::atof(v1_quota), std::atof(v1_period));
  }
  if (quota_cpus > 0) cpus = cpus > 0 ? std::min(cpus, quota_cpus) : quota_cpus;
  return std::max(1, cpus);
}

int UsableCpuCount() {
  int affinity = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) affinity = CPU_COUNT(&set);
  if (affinity <= 0) affinity = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::string v2 = ReadSmallFile("/sys/fs/cgroup/cpu.max");
  std::string v1q = ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::string v1p = ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  return UsableCpuCountFrom(affinity, v2.c_str(), v1q.c_str(), v1p.c_str());
}

}  // namespace reitunnel::runtime
