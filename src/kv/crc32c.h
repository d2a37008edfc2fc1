// CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected) of a
// byte range: the disk tier's per-block checksum. Uses the SSE4.2 crc32
// instruction when the CPU has it, else a table; both give the same value.
// Pure, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::kv {

// crc32c("123456789") == 0xE3069283 (the standard check value).
uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0);

}  // namespace tandem::kv
