#include "snapbus/file_contents.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace snapbus {
namespace {

std::filesystem::path scratch(const std::string& name) {
  const char* root = std::getenv("SNAPBUS_TEST_TMPDIR");
  std::filesystem::path dir = root != nullptr ? root : std::filesystem::temp_directory_path() / "snapbus_base_test";
  dir /= std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  return dir / name;
}

TEST(FileContents, ReadsBinaryFilesWhole) {
  const auto path = scratch("binary");
  std::string data(100000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  std::ofstream(path, std::ios::binary) << data;
  EXPECT_EQ(read_file_contents(path), data);
  EXPECT_EQ(try_read_file_contents(path), data);
}

TEST(FileContents, MissingFileNamesThePathAndErrno) {
  const auto path = scratch("absent");
  try {
    read_file_contents(path);
    FAIL() << "expected an error";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code().value(), ENOENT);
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
  }
  EXPECT_EQ(try_read_file_contents(path), std::nullopt);
}

TEST(FileContents, FifoFailsAtOnceInsteadOfHanging) {
  const auto path = scratch("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_THROW(read_file_contents(path), std::system_error);
  EXPECT_THROW(read_file_contents(path.parent_path()), std::system_error);
}

}  // namespace
}  // namespace snapbus
