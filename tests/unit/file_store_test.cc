// The service's file store (jobs/service/file_store.h): its cap, and what a new store on the
// same directory finds again.
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "jobs/service/file_store.h"

namespace cellblock::service {
namespace {

TEST(ServiceFileStore, KeepsToItsCapAndFreesOnRemove) {
  const std::string dir = ::testing::TempDir() + "cellblock-file-store-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  FileStore store(10, dir);
  auto a = store.add("a", "12345");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 20u);
  EXPECT_FALSE(store.add("b", "123456")) << "past the cap";
  auto b = store.add("b", "12345");
  ASSERT_TRUE(b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(store.list().at(*a), "a");
  EXPECT_EQ(store.find(*b)->content, "12345");
  EXPECT_TRUE(store.remove(*a));
  EXPECT_FALSE(store.remove(*a));
  EXPECT_EQ(store.used_bytes(), 5u);
  auto c = store.add("c", "12345");
  EXPECT_TRUE(c);
  // On disk: a new store on the directory has them again, and only them.
  FileStore again(10, dir);
  EXPECT_EQ(again.used_bytes(), 10u);
  EXPECT_EQ(again.find(*b)->content, "12345");
  EXPECT_EQ(again.list().at(*c), "c");
  EXPECT_FALSE(again.find(*a));
  EXPECT_FALSE(again.add("d", "1"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cellblock::service
