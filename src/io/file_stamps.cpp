#include "io/file_stamps.h"

#include <sys/stat.h>

#include <cerrno>

namespace subcorn::io {

FileStamps::FileStamps(std::vector<std::string> paths) {
  for (std::string& path : paths)
    if (!path.empty()) paths_.push_back(std::move(path));
  for (const std::string& path : paths_) stamps_.push_back(stamp_of(path));
}

FileStamps::Stamp FileStamps::stamp_of(const std::string& path) {
  Stamp stamp;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {  // follows symlinks: their target is what is read
    stamp.error = errno;
    return stamp;
  }
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  stamp.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  return stamp;
}

bool FileStamps::changed() {
  bool any = false;
  for (size_t i = 0; i < paths_.size(); ++i) {
    Stamp now = stamp_of(paths_[i]);
    if (now != stamps_[i]) {
      stamps_[i] = now;
      any = true;
    }
  }
  return any;
}

}  // namespace subcorn::io
