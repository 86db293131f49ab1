#include "common/config/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace reitunnel::config {
namespace {

absl::Status CannotRead(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", why));
}

absl::Status CannotRead(const std::string& path, int err) {
  return CannotRead(path, std::strerror(err));
}

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

// Checks what stat() or fstat() reported.
absl::Status CheckFile(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) {
    return CannotRead(path, absl::StrCat(KindOf(st.st_mode), ", not a regular file"));
  }
  if (st.st_size > static_cast<off_t>(kMaxConfigFileBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": too large for a config file (",
                                                   st.st_size, " bytes; the limit is ",
                                                   kMaxConfigFileBytes, ")"));
  }
  return absl::OkStatus();
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

absl::Status ReadConfigFile(const std::string& path, std::string* out) {
  if (path.empty()) return absl::InvalidArgumentError("empty config file name");
  // stat() first so that a FIFO or a device is never opened at all (opening
  // some devices has effects); fstat() again after open() in case the path
  // was swapped in between, and O_NONBLOCK so that even then open() cannot
  // wait for a FIFO writer.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return CannotRead(path, errno);
  if (absl::Status s = CheckFile(path, st); !s.ok()) return s;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return CannotRead(path, errno);
  FdCloser closer(fd);
  if (::fstat(fd, &st) != 0) return CannotRead(path, errno);
  if (absl::Status s = CheckFile(path, st); !s.ok()) return s;

  // Files in /proc report size 0 and files can grow: the bound is enforced
  // on what is read, too.
  std::string text;
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return CannotRead(path, errno);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": too large for a config file (over the limit of ",
                       kMaxConfigFileBytes, " bytes)"));
    }
  }
  *out = std::move(text);
  return absl::OkStatus();
}

}  // namespace reitunnel::config
