// model_files::MappedFile: a whole file memory-mapped read-only (POSIX mmap).
//
// Ownership: the mapping lives as long as the object; bytes() spans die with
// it. Threads: immutable after open(), safe to read from any thread.
// Failure: kIo naming the path and the OS error. An empty file maps to an
// empty span (no mmap call).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "common/status.h"

namespace tandem::model_files {

class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  MappedFile(std::string path, const std::byte* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tandem::model_files
