#include "output/output_guard.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "laueproc/error.hpp"

namespace laueproc::output {

namespace fs = std::filesystem;

namespace {

std::string reason(int err) { return std::strerror(err); }

bool exists_as_anything(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Creates a new file (or folder) named prefix + 6 random characters, as mkstemp/mkdtemp do, but
// with the mode any new file gets (0666 / 0777 less the umask), not 0600 / 0700.
std::string make_unique_name(const std::string& prefix, bool folder, const std::string& owner) {
  static std::atomic<unsigned> counter{0};
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::uint64_t v = (static_cast<std::uint64_t>(::getpid()) << 20) ^ (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull) ^
                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    std::string name = prefix;
    for (int k = 0; k < 6; ++k, v /= 36) name += digits[v % 36];
    if (folder) {
      if (::mkdir(name.c_str(), 0777) == 0) return name;
    } else {
      const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0) {
        ::close(fd);
        return name;
      }
    }
    if (errno != EEXIST)
      throw OutputError(owner, std::string("cannot create a ") + (folder ? "folder" : "file") + " in its folder (" +
                                   reason(errno) + ")");
  }
  throw OutputError(owner, "cannot create a temporary name beside it (every name tried exists)");
}

}  // namespace

void sync_file(const std::string& path, const std::string& owner) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw OutputError(path, "cannot reopen to sync (" + reason(errno) + ")");
  try {
    sync_fd(fd, owner);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void sync_folder(const std::string& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort for folders: the files themselves are synced
  ::fsync(fd);
  ::close(fd);
}

void refuse_existing(const std::string& path, bool overwrite, const std::string& hint) {
  if (!overwrite && exists_as_anything(path)) throw OutputError(path, "exists; " + hint);
}

void make_folder(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec))
    throw OutputError(dir, "cannot create output folder (" + (ec ? ec.message() : std::string("not a folder")) + ")");
}

void make_parent_folder(const std::string& path) { make_folder(fs::path(path).parent_path().string()); }

void sync_fd(int fd, const std::string& path) {
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    if (errno == EINVAL || errno == EROFS) return;  // a special file or file system that cannot sync
    throw OutputError(path, "cannot write (" + reason(errno) + ")");
  }
}

void rename_file(const std::string& from, const std::string& to, bool replace) {
  if (replace) {
    if (std::rename(from.c_str(), to.c_str()) != 0)
      throw OutputError(to, "cannot rename " + from + " onto it (" + reason(errno) + ")");
    return;
  }
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {  // no RENAME_NOREPLACE here: a hard link fails on an existing name too
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
      return;
    }
    err = errno;
    if (err == EPERM || err == ENOTSUP) {  // no hard links either (some network file systems)
      if (exists_as_anything(to)) err = EEXIST;
      else if (std::rename(from.c_str(), to.c_str()) == 0) return;
      else err = errno;
    }
  }
  if (err == EEXIST)
    throw OutputError(to, "exists (made while this run was writing); give --overwrite to replace it");
  throw OutputError(to, "cannot rename " + from + " onto it (" + reason(err) + ")");
}

// ---- AtomicFile --------------------------------------------------------------------------------

AtomicFile::AtomicFile(std::string path, bool overwrite) : path_(std::move(path)), overwrite_(overwrite) {
  if (path_.empty()) throw UsageError("an output file name is empty");
  std::error_code ec;
  if (fs::is_directory(path_, ec)) throw OutputError(path_, "is a folder; give a file name");
  refuse_existing(path_, overwrite_);
  make_parent_folder(path_);
  temp_ = make_unique_name(path_ + ".partial-", false, path_);
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (done_ || temp_.empty()) return;
  ::unlink(temp_.c_str());
  done_ = true;
}

void AtomicFile::commit() {
  if (done_) throw Error(path_ + ": internal error: output committed twice or after discard");
  sync_file(temp_, path_);
  rename_file(temp_, path_, overwrite_);
  done_ = true;
  const std::string dir = fs::path(path_).parent_path().string();
  sync_folder(dir);  // the new name reaches the disk
}

// ---- StagingFolder -----------------------------------------------------------------------------

StagingFolder::StagingFolder(std::string dir, bool overwrite) : dir_(std::move(dir)), overwrite_(overwrite) {
  if (dir_.empty()) dir_ = ".";
  make_folder(dir_);
  temp_ = make_unique_name((fs::path(dir_) / "laueproc.partial-").string(), true, dir_);
}

StagingFolder::~StagingFolder() { discard(); }

std::string StagingFolder::final_path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

void StagingFolder::discard() noexcept {
  if (done_ || temp_.empty()) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);
  done_ = true;
}

void StagingFolder::commit() {
  if (done_) throw Error(dir_ + ": internal error: output committed twice or after discard");
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(temp_, ec)) names.push_back(entry.path().filename().string());
  if (ec) throw OutputError(temp_, "cannot list (" + ec.message() + ")");
  for (const auto& name : names) sync_file((fs::path(temp_) / name).string(), final_path(name));
  for (const auto& name : names) rename_file((fs::path(temp_) / name).string(), final_path(name), overwrite_);
  fs::remove(temp_, ec);
  done_ = true;
  sync_folder(dir_);
}

// ---- OutputLock --------------------------------------------------------------------------------

OutputLock::OutputLock(std::string lock_path, const std::string& owner, const std::string& busy)
    : path_(std::move(lock_path)) {
  // A holder may remove the file (remove_and_release) between our open and our flock: then we
  // hold a lock on a file no longer at `path_`, so the lock is taken again on the new file.
  for (int attempt = 0; attempt < 100; ++attempt) {
    created_ = false;
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      created_ = true;
    } else if (errno == EEXIST) {
      fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) continue;  // removed meanwhile
    }
    if (fd < 0) throw OutputError(path_, "cannot create or open (" + reason(errno) + ")");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) throw OutputError(owner, busy);
      throw OutputError(path_, "cannot lock (" + reason(err) + ")");
    }
    struct stat held {}, now {};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      fd_ = fd;
      return;
    }
    ::close(fd);  // the file we locked was removed: try again
  }
  throw OutputError(path_, "cannot lock (the file keeps being replaced by another process)");
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputLock::remove_and_release() noexcept {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace laueproc::output
