#pragma once
/// @file
/// @brief Output-file safety shared by every command that writes: an existing file is never
/// replaced unless asked (--overwrite), a file is written under a temporary name and renamed onto
/// its final name only once complete (a failed run never leaves a file that looks complete), and
/// an exclusive lock keeps two processes from writing the same results.
///
/// Every failure is an OutputError naming the file (exit code 2).

#include <string>

namespace laueproc::output {

/// @brief OutputError(path, "exists; " + hint) when `path` exists (as anything: a file, a folder,
/// a dangling link) and `overwrite` is false.
void refuse_existing(const std::string& path, bool overwrite,
                     const std::string& hint = "give --overwrite to replace it");

/// @brief Creates the folder `dir` and its parents; OutputError(dir, "cannot create output
/// folder (...)") when it cannot, or when it exists and is not a folder.
void make_folder(const std::string& dir);
/// @brief Creates the folder that will hold the file `path` (nothing for a bare file name).
void make_parent_folder(const std::string& path);

/// @brief Renames `from` onto `to` in the same file system. replace = false: fails with
/// OutputError(to, "exists; ...") when `to` exists (atomically: RENAME_NOREPLACE, or link +
/// unlink where the file system lacks it).
void rename_file(const std::string& from, const std::string& to, bool replace);

/// @brief Writes `fd`'s data to the disk; OutputError(path, "cannot write (...)") on failure (a
/// full disk or a quota can first show here on some file systems).
void sync_fd(int fd, const std::string& path);
/// @brief sync_fd for a closed file `path` (reopened to sync); errors name `owner`.
void sync_file(const std::string& path, const std::string& owner);
/// @brief Best-effort sync of folder `dir`, so that renames in it reach the disk.
void sync_folder(const std::string& dir);

/// @brief One output file written under a temporary name in the same folder
/// ("<path>.partial-XXXXXX", unique, so concurrent writers never share it) and renamed onto
/// `path` by commit(). Destroyed without commit() (an error, an exception), the temporary file is
/// removed: a failed run leaves nothing that looks like a result, and an existing `path` stays as
/// it was (it is replaced only by a complete file).
class AtomicFile {
 public:
  /// @brief Refuses an existing `path` unless `overwrite` (refuse_existing), creates the parent
  /// folder and the (empty) temporary file.
  AtomicFile(std::string path, bool overwrite);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// @brief Where to write (the writer may truncate and rewrite it, e.g. H5Fcreate).
  const std::string& temp_path() const { return temp_; }
  /// @brief The final name.
  const std::string& path() const { return path_; }
  /// @brief Syncs the temporary file to disk and renames it onto path() (replacing an existing
  /// file only when `overwrite` was given). The writer must have closed it, checking the close.
  void commit();
  /// @brief Removes the temporary file now (also done by the destructor).
  void discard() noexcept;

 private:
  std::string path_, temp_;
  bool overwrite_ = false;
  bool done_ = false;
};

/// @brief A temporary folder inside `dir` ("<dir>/laueproc.partial-XXXXXX/") for a writer that
/// makes several files (CSV sets, a simulated scan); commit() moves every file in it onto `dir`
/// (replacing existing ones only when `overwrite`) and removes the folder. Destroyed without
/// commit(), the folder and everything in it are removed. `laueproc process DIR` never reads
/// it as frames (scans list the files of a folder, not of its subfolders).
class StagingFolder {
 public:
  /// @brief Creates `dir` if needed and the temporary folder in it.
  StagingFolder(std::string dir, bool overwrite);
  ~StagingFolder();
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;

  /// @brief The temporary folder to write into.
  const std::string& path() const { return temp_; }
  /// @brief `dir` / name: where a file of the temporary folder ends up.
  std::string final_path(const std::string& name) const;
  /// @brief Syncs and moves every file onto `dir`, then removes the temporary folder.
  void commit();
  void discard() noexcept;

 private:
  std::string dir_, temp_;
  bool overwrite_ = false;
  bool done_ = false;
};

/// @brief An exclusive advisory lock (flock) on one file, taken without waiting and held while
/// the object lives (the kernel releases it if the process dies, so a killed run never leaves a
/// stale lock). The file is created when missing; its contents are not touched.
/// `laueproc process` locks its journal before reading or truncating it.
class OutputLock {
 public:
  /// @brief Takes the lock; OutputError(`owner`, `busy`) when another process holds it.
  OutputLock(std::string lock_path, const std::string& owner, const std::string& busy);
  ~OutputLock();  ///< releases the lock, leaving the file
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  int fd() const { return fd_; }
  /// @brief True when this lock created the file (it did not exist before).
  bool created() const { return created_; }
  /// @brief Removes the file, then releases the lock: another process can never lock a file that
  /// is about to disappear. Idempotent.
  void remove_and_release() noexcept;

 private:
  std::string path_;
  int fd_ = -1;
  bool created_ = false;
};

}  // namespace laueproc::output
