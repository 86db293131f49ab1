#pragma once

// Key helpers for etcd's [key, range_end) ranges.

#include <string>
#include <string_view>

namespace reitunnel::cluster::etcd {

// The range_end that selects every key starting with `prefix`: the prefix
// with its last byte below 0xff incremented and what follows dropped. An
// empty prefix or one of only 0xff bytes gives "\0" (every key >= prefix),
// as etcd defines it.
std::string PrefixRangeEnd(std::string_view prefix);

}  // namespace reitunnel::cluster::etcd
