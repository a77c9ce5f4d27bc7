// Opening files beneath a directory (io/file_open.h), with openat2() and with
// the O_NOFOLLOW walk used where the kernel has none: no way out of the
// directory, symlinks inside it followed (openat2) or never (the walk),
// only regular files and directories reported.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/file_open.h"

namespace subcorn::io {
namespace {

namespace fs = std::filesystem;

// Whether this kernel (and sandbox) has openat2(): the Auto resolution
// falls back to the walk without it, and the expectations differ.
bool kernel_has_openat2() {
  long fd = ::syscall(SYS_openat2, AT_FDCWD, ".", nullptr, 0);
  return !(fd < 0 && errno == ENOSYS);
}

class FileOpen : public ::testing::TestWithParam<Resolution> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/subcorn-file-open-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    top_ = pattern;
    root_ = top_ / "root";
    fs::create_directories(root_ / "css");
    fs::create_directories(root_ / "docs");
    fs::create_directories(top_ / "outside");
    write(root_ / "hello.txt", "hello");
    write(root_ / "css" / "site.css", "body{}");
    write(top_ / "secret.txt", "secret");
    write(top_ / "outside" / "x.txt", "x");
    fs::create_symlink("hello.txt", root_ / "link-in");
    fs::create_symlink("../css/site.css", root_ / "docs" / "link-up-inside");
    fs::create_symlink("../secret.txt", root_ / "link-out");
    fs::create_symlink(top_ / "secret.txt", root_ / "link-absolute");
    fs::create_symlink("../outside", root_ / "dir-out");
    fs::create_symlink("/proc/self/root", root_ / "magic");
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
    std::string error;
    dir_ = open_directory(root_.string(), &error);
    ASSERT_TRUE(dir_) << error;
  }
  void TearDown() override { fs::remove_all(top_); }

  static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  OpenStatus open(const std::string& relative, OpenedFile* file = nullptr) {
    OpenedFile scratch;
    return open_beneath(dir_.get(), relative, file ? file : &scratch, GetParam());
  }
  // Symlinks inside the directory are followed only by openat2().
  bool follows_inner_symlinks() const { return GetParam() == Resolution::Auto && kernel_has_openat2(); }

  fs::path top_, root_;
  UniqueFd dir_;
};

TEST_P(FileOpen, RegularFilesAndTheirFacts) {
  OpenedFile file;
  ASSERT_EQ(open("css/site.css", &file), OpenStatus::Opened);
  EXPECT_EQ(file.type, OpenedFile::Type::Regular);
  EXPECT_EQ(file.size, 6);
  struct stat st{};
  ASSERT_EQ(::stat((root_ / "css" / "site.css").c_str(), &st), 0);
  EXPECT_EQ(file.inode, st.st_ino);
  EXPECT_EQ(file.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  char buffer[16] = {};
  EXPECT_EQ(::pread(file.fd.get(), buffer, sizeof buffer, 0), 6);
  EXPECT_STREQ(buffer, "body{}");
}

TEST_P(FileOpen, Directories) {
  OpenedFile dir;
  ASSERT_EQ(open("docs", &dir), OpenStatus::Opened);
  EXPECT_EQ(dir.type, OpenedFile::Type::Directory);
  ASSERT_EQ(open("", &dir), OpenStatus::Opened);  // DIR itself
  EXPECT_EQ(dir.type, OpenedFile::Type::Directory);
}

TEST_P(FileOpen, Missing) {
  EXPECT_EQ(open("nothing.txt"), OpenStatus::NotFound);
  EXPECT_EQ(open("nothing/at/all"), OpenStatus::NotFound);
  EXPECT_EQ(open("hello.txt/x"), OpenStatus::NotFound);  // a file is no directory
}

TEST_P(FileOpen, NothingOutsideTheDirectory) {
  for (const char* way_out : {"../secret.txt", "css/../../secret.txt", "link-out", "link-absolute",
                              "dir-out/x.txt", "magic/etc/hostname", "/etc/hostname"}) {
    OpenStatus status = open(way_out);
    EXPECT_NE(status, OpenStatus::Opened) << way_out;
    EXPECT_NE(status, OpenStatus::Failed) << way_out;
  }
}

TEST_P(FileOpen, SymlinksInsideFollowedOnlyByOpenat2) {
  OpenStatus expected = follows_inner_symlinks() ? OpenStatus::Opened : OpenStatus::Refused;
  EXPECT_EQ(open("link-in"), expected);
  EXPECT_EQ(open("docs/link-up-inside"), expected);
}

TEST_P(FileOpen, NoFifoIsOpenedToBlock) {
  // O_NONBLOCK: opening a FIFO nobody writes to returns at once; it is refused.
  EXPECT_EQ(open("fifo"), OpenStatus::Refused);
}

INSTANTIATE_TEST_SUITE_P(Resolutions, FileOpen, ::testing::Values(Resolution::Auto, Resolution::Walk),
                         [](const auto& info) {
                           return info.param == Resolution::Auto ? std::string("Auto") : std::string("Walk");
                         });

TEST(OpenRegular, OnlyRegularFiles) {
  char pattern[] = "/tmp/subcorn-open-regular-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  fs::path top = pattern;
  std::ofstream(top / "a.txt") << "abc";
  OpenedFile file;
  ASSERT_EQ(open_regular((top / "a.txt").string(), &file), OpenStatus::Opened);
  EXPECT_EQ(file.size, 3);
  EXPECT_EQ(open_regular(top.string(), &file), OpenStatus::Refused);
  EXPECT_EQ(errno, EISDIR);
  EXPECT_EQ(open_regular((top / "none").string(), &file), OpenStatus::NotFound);
  std::string error;
  EXPECT_FALSE(open_directory((top / "a.txt").string(), &error));
  EXPECT_NE(error.find("a.txt"), std::string::npos);
  fs::remove_all(top);
}

}  // namespace
}  // namespace subcorn::io
