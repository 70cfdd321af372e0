// A per-test directory for segments and ready files, removed when the test ends.
//
//   snapbus::testing::ScratchDirectory dir;
//   auto path = dir.path() / "bus.seg";
//
// Lives under $SNAPBUS_TEST_TMPDIR (one directory per ctest suite, see cmake/SnapbusTest.cmake),
// named after the running GoogleTest, so no two tests ever share a segment path.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace snapbus::testing {

class ScratchDirectory {
 public:
  ScratchDirectory() {
    const char* root = std::getenv("SNAPBUS_TEST_TMPDIR");
    std::filesystem::path base = root != nullptr ? root : std::filesystem::temp_directory_path() / "snapbus-test";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "adhoc";
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = base / (name + "." + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace snapbus::testing
