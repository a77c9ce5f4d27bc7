// FileStamps: whether any of a few files changed since it last looked. A
// file's stamp is its device, inode, size and modification times, so an
// edit in place, a rename over it (how certbot and cp --remove-destination
// replace a file) and a symlink moved to a new target are all seen; a file
// that cannot be read is a stamp of its own (its error), so it changing
// back is seen too.
#pragma once

#include <string>
#include <vector>

namespace subcorn::io {

class FileStamps {
 public:
  FileStamps() = default;
  // Remembers how `paths` are now (empty paths are skipped).
  explicit FileStamps(std::vector<std::string> paths);

  // True when any file differs from how it was at the last call that
  // returned true (or at construction); each change is reported once.
  bool changed();

 private:
  struct Stamp {
    int error = 0;
    unsigned long long device = 0, inode = 0;
    long long size = 0, mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp stamp_of(const std::string& path);

  std::vector<std::string> paths_;
  std::vector<Stamp> stamps_;
};

}  // namespace subcorn::io
